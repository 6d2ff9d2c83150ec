"""The OpenAPI 3.1 document: valid, complete, and the contract checker really checks."""
from __future__ import annotations

import copy
import json
import re

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from scheduler.web.api.openapi.document import openapi_document
from tests.support.openapi_check import ApiContract, ContractViolation, documented_operations

UNDOCUMENTED = re.compile(r"^/api/v1/(health|openapi\.json)$")
# The staff endpoints are described too, but a new one need not be before it is public.
OPTIONAL = re.compile(r"^/api/v1/staff/")


@pytest.fixture
def served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_served_document_is_valid_openapi_3_1(served):
    assert served["openapi"].startswith("3.1.")
    validate(served, cls=OpenAPIV31SpecValidator)  # raises on any problem
    assert served == json.loads(json.dumps(openapi_document()))


def test_spec_validator_rejects_a_broken_document(served):
    """The validity test above can fail: a parameter without its location is caught."""
    broken = copy.deepcopy(served)
    del broken["paths"]["/availability"]["get"]["parameters"][0]["in"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken, cls=OpenAPIV31SpecValidator)


def _registered_operations(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or UNDOCUMENTED.match(rule.rule):
            continue
        template = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method, template))
    return found


def test_every_public_endpoint_is_documented_and_nothing_else(app, served):
    registered = _registered_operations(app)
    documented = documented_operations(served)
    assert ("POST", "/api/v1/bookings/{token}/reschedule") in registered  # the rule rewriting works
    assert len(registered) >= 7
    required = {(method, path) for method, path in registered if not OPTIONAL.match(path)}
    assert required - documented == set(), "registered but not described"
    assert documented - registered == set(), "described but not registered"


def test_every_operation_has_an_id_and_a_success_response(served):
    ids = []
    for item in served["paths"].values():
        for method, operation in item.items():
            ids.append(operation["operationId"])
            assert any(code.startswith("2") for code in operation["responses"]), operation["operationId"]
            if method == "post" and "requestBody" in operation:
                assert "application/json" in operation["requestBody"]["content"]
    assert len(ids) == len(set(ids))


def test_every_component_schema_is_used(served):
    text = json.dumps(served["paths"]) + json.dumps(served["components"])
    for name in served["components"]["schemas"]:
        assert f'"#/components/schemas/{name}"' in text, f"{name} is never referenced"


# --- the checker itself must be able to fail -------------------------------------------------


def _response(app, body, status=200, mimetype="application/json"):
    return app.response_class(json.dumps(body), status=status, mimetype=mimetype)


SLOT = {"start": "2026-12-01T08:00:00-07:00", "end": "2026-12-01T09:00:00-07:00", "provider_id": 1}


def test_checker_accepts_a_conforming_response(app, served):
    contract = ApiContract(served)
    body = {"timezone": "America/Denver", "slots": [SLOT]}
    assert contract.check_response(_response(app, body), "GET", "/api/v1/availability") == body


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (418, {"timezone": "America/Denver", "slots": []}, "not documented"),
        (200, {"slots": []}, "'timezone' is a required property"),
        # the Slot schema is reached through #/components refs
        (200, {"timezone": "America/Denver", "slots": [{**SLOT, "provider_id": "1"}]}, "is not of type 'integer'"),
        # format checking is on: a time without its UTC offset is not an RFC 3339 date-time
        (200, {"timezone": "America/Denver", "slots": [{**SLOT, "start": "2026-12-01T08:00:00"}]}, "date-time"),
        (200, {"timezone": "America/Denver", "slots": [{**SLOT, "end": "tomorrow"}]}, "date-time"),
        (422, {"error": "validation_failed", "fields": {"start": 5}}, "is not of type 'string'"),
        (422, {"error": "oops", "fields": {}}, "'validation_failed' was expected"),
    ],
)
def test_checker_rejects_nonconforming_responses(app, served, status, body, problem):
    contract = ApiContract(served)
    with pytest.raises(ContractViolation, match=re.escape(problem)):
        contract.check_response(_response(app, body, status), "GET", "/api/v1/availability")


def test_checker_rejects_wrong_media_type_and_unknown_paths(app, served):
    contract = ApiContract(served)
    with pytest.raises(ContractViolation, match="text/html"):
        contract.check_response(
            app.response_class("<p>hi</p>", status=200, mimetype="text/html"), "GET", "/api/v1/services"
        )
    with pytest.raises(ContractViolation, match="not described"):
        contract.operation("GET", "/api/v1/nothing-here")
    with pytest.raises(ContractViolation, match="not described"):
        contract.operation("DELETE", "/api/v1/bookings/abc")


def test_checker_matches_literal_paths_before_templates(served):
    contract = ApiContract(served)
    assert contract.operation("POST", "/api/v1/bookings")[0] == "/bookings"
    assert contract.operation("GET", "/api/v1/bookings/a.b-c_d")[0] == "/bookings/{token}"
    assert contract.operation("POST", "/api/v1/bookings/a.b/cancel")[0] == "/bookings/{token}/cancel"


def test_checker_validates_request_bodies(served):
    contract = ApiContract(served)
    good = {
        "service": "evaluation",
        "provider_id": None,
        "start": "2026-12-01T08:00:00-07:00",
        "patient": {"first_name": "Ana", "last_name": "Garcia", "phone": "915-555-0123",
                    "email": "ana@example.com", "sms_opt_in": True},
    }
    contract.check_request("POST", "/api/v1/bookings", good)
    bad = copy.deepcopy(good)
    bad["patient"]["first_name"] = "A" * 61
    bad["start"] = "next tuesday"
    errors = contract.request_errors("POST", "/api/v1/bookings", bad)
    assert any(e.startswith("patient/first_name") for e in errors), errors
    assert any(e.startswith("start") for e in errors), errors
    with pytest.raises(ContractViolation):
        contract.check_request("POST", "/api/v1/bookings", bad)
    with pytest.raises(ContractViolation, match="no request body"):
        contract.check_request("GET", "/api/v1/services", {})


def test_409_bodies_are_told_apart(app, served):
    """A 409 from rescheduling is either a taken slot or a refused change, never ambiguous."""
    contract = ApiContract(served)
    path = "/api/v1/bookings/tok/reschedule"
    contract.check_response(_response(app, {"error": "slot_unavailable", "alternatives": [SLOT]}, 409), "POST", path)
    contract.check_response(
        _response(app, {"error": "inside_window", "message": "Too late."}, 409), "POST", path
    )
    with pytest.raises(ContractViolation):
        contract.check_response(_response(app, {"error": "slot_unavailable"}, 409), "POST", path)
