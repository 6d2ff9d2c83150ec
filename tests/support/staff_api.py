"""The staff API as a test client: a bearer token, and every request and answer checked
against the served OpenAPI document."""
from __future__ import annotations

from tests.support.openapi_check import ApiContract

NO_BODY = object()


class StaffApi:
    """The test client with a bearer token; every request and response checked against the document."""

    def __init__(self, client, contract: ApiContract, token: str | None) -> None:
        self.client = client
        self.contract = contract
        self.token = token

    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def as_(self, token: str | None) -> StaffApi:
        return StaffApi(self.client, self.contract, token)

    def get(self, url: str, expect: int = 200):
        response = self.client.get(url, headers=self.headers())
        body = self.contract.check_response(response)
        assert response.status_code == expect, (response.status_code, body)
        return body

    def post(self, url: str, body=NO_BODY, expect: int = 200, *, conforms: bool | None = True):
        if body is not NO_BODY and conforms is not None:
            errors = self.contract.request_errors("POST", url, body)
            assert (not errors) == conforms, errors or "expected the request to violate the documented schema"
        kwargs = {} if body is NO_BODY else {"json": body}
        response = self.client.post(url, headers=self.headers(), **kwargs)
        answer = self.contract.check_response(response)
        assert response.status_code == expect, (response.status_code, answer)
        return answer


def staff_api_for(client, token: str | None) -> StaffApi:
    document = client.get("/api/v1/openapi.json").get_json()
    return StaffApi(client, ApiContract(document), token)
