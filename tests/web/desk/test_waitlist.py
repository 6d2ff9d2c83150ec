"""The desk's waitlist page: the patient to add is found by name, phone or email and picked
from the matches (no JavaScript needed), never typed as a record number."""
from __future__ import annotations

import pytest

from tests.support.factories import PASSWORD, build_clinic, make_patient


@pytest.fixture
def desk(client, app):
    clinic = build_clinic()
    assert client.post("/staff/login", data={"email": "desk@example.com", "password": PASSWORD}).status_code == 303
    return client, clinic


def test_the_patient_to_add_is_found_by_search_and_picked(desk):
    client, clinic = desk
    rosa = make_patient("Rosa", "Mendez", "+19155550177", "rosa.m@example.com")
    page = client.get("/staff/waitlist").get_data(as_text=True)
    assert "Patient number" not in page and 'name="patient_id" inputmode' not in page
    found = client.get("/staff/waitlist?query=mendez").get_data(as_text=True)
    assert f'href="/staff/waitlist?patient_id={rosa.id}#add"' in found and "Mendez, Rosa" in found
    chosen = client.get(f"/staff/waitlist?patient_id={rosa.id}").get_data(as_text=True)
    assert f'<input type="hidden" name="patient_id" value="{rosa.id}">' in chosen and "Rosa Mendez" in chosen
    refused = client.post("/staff/waitlist", data={"service": "therapy-session"})
    assert refused.status_code == 422
    assert "Find the patient above and choose them." in refused.get_data(as_text=True)
    short = client.get("/staff/waitlist?query=a")
    assert short.status_code == 200 and "Type at least 2 characters" in short.get_data(as_text=True)
