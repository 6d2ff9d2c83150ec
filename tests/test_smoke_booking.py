from datetime import datetime

from scheduler.models import Appointment, AuditEvent

from .conftest import make_provider, make_service, patient_payload


def test_book_through_api_and_manage(app, client):
    provider = make_provider()
    make_service()
    slots = client.get("/api/v1/availability?service=evaluation&start=2026-12-01&end=2026-12-01").get_json()["slots"]
    assert slots, "Tuesday should have openings"
    first = slots[0]
    assert first["start"] == "2026-12-01T08:00:00-07:00"
    response = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider.id, "start": first["start"], "patient": patient_payload(),
    })
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert datetime.fromisoformat(body["start"]) == datetime.fromisoformat(first["start"])
    again = client.post("/api/v1/bookings", json={
        "service": "evaluation", "provider_id": provider.id, "start": first["start"], "patient": patient_payload(),
    })
    assert again.status_code == 409
    assert again.get_json()["error"] == "slot_unavailable"
    assert again.get_json()["alternatives"]
    assert Appointment.query.count() == 1
    assert AuditEvent.query.filter_by(action="appointment.booked").count() == 1
