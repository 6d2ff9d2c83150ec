"""Shared set-up for the staff API and course tests: a small clinic, staff tokens, visits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scheduler.extensions import db
from scheduler.models import Appointment, Patient, Provider, Service
from scheduler.services.common.tokens import new_secret, sha256_hex
from scheduler.services.staff.accounts import create_user, issue_api_token
from tests.conftest import make_closure, make_provider, make_service
from tests.support.openapi_check import ApiContract

NO_BODY = object()
PASSWORD = "a long enough password"


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


@dataclass
class Clinic:
    maria: Provider  # has a provider account
    daniel: Provider
    therapy: Service
    patient: Patient
    desk_token: str
    maria_token: str
    admin_token: str


def make_patient(first="Ana", last="Garcia", phone="+19155550123", email="ana@example.com", language="en") -> Patient:
    patient = Patient(first_name=first, last_name=last, phone_e164=phone, email=email, language=language,
                      created_at=datetime(2026, 11, 1, tzinfo=UTC))
    db.session.add(patient)
    db.session.commit()
    return patient


def make_visit(patient: Patient, provider: Provider, service: Service, start: str | datetime, **fields) -> Appointment:
    starts_at = datetime.fromisoformat(start) if isinstance(start, str) else start
    ends_at = starts_at + timedelta(minutes=service.duration_minutes)
    moment = datetime(2026, 11, 1, tzinfo=UTC)
    appointment = Appointment(
        patient_id=patient.id, provider_id=provider.id, service_id=service.id,
        starts_at=starts_at, ends_at=ends_at, blocks_until=ends_at + timedelta(minutes=service.buffer_minutes),
        status="booked", source="desk", manage_token_hash=sha256_hex(new_secret()),
        created_at=moment, updated_at=moment, **fields,
    )
    db.session.add(appointment)
    db.session.commit()
    return appointment


def build_clinic() -> Clinic:
    maria = make_provider("Maria Lopez, PT")
    daniel = make_provider("Daniel Reyes, PT")
    therapy = make_service("therapy-session", name="Therapy session", duration_minutes=45, buffer_minutes=15,
                           online_bookable=False, min_notice_minutes=120, max_advance_days=60)
    make_closure(datetime(2026, 12, 25).date(), "Christmas Day")
    patient = make_patient()
    create_user("desk@example.com", PASSWORD, "front_desk")
    create_user("admin@example.com", PASSWORD, "admin")
    user = create_user("maria@example.com", PASSWORD, "provider")
    maria.user_id = user.id
    db.session.commit()
    return Clinic(
        maria, daniel, therapy, patient,
        desk_token=issue_api_token("desk@example.com"),
        maria_token=issue_api_token("maria@example.com"),
        admin_token=issue_api_token("admin@example.com"),
    )


def staff_api_for(client, token: str | None) -> StaffApi:
    document = client.get("/api/v1/openapi.json").get_json()
    return StaffApi(client, ApiContract(document), token)
