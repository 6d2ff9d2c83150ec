"""Clinic settings for admins: a save says what was saved and returns to its section;
removing a working window, a closure or time off asks first, naming what goes."""
from __future__ import annotations

from datetime import date

import pytest

from scheduler.extensions import db
from scheduler.models import Closure, WorkingHours
from tests.support.factories import PASSWORD, build_clinic, make_closure


@pytest.fixture
def clinic(app):
    return build_clinic()


@pytest.fixture
def admin(client, clinic):
    assert client.post("/staff/login", data={"email": "admin@example.com", "password": PASSWORD}).status_code == 303
    return client


def test_a_save_says_what_was_saved_and_returns_to_its_section(admin, clinic):
    added = admin.post("/staff/settings/hours", data={"provider_id": clinic.daniel.id, "weekday": "5",
                                                      "start_time": "09:00", "end_time": "12:00"})
    assert added.status_code == 303 and added.headers["Location"].endswith("/staff/settings/#hours")
    page = admin.get("/staff/settings/").get_data(as_text=True)
    assert "Working hours added: Daniel Reyes, PT, Saturday 09:00–12:00." in page
    saved = admin.post(f"/staff/settings/services/{clinic.therapy.id}", data={
        "name": "Therapy session", "duration_minutes": "45", "buffer_minutes": "15", "slot_step_minutes": "15",
        "min_notice_minutes": "60", "max_advance_days": "60", "cancel_window_hours": "24", "active": "on"})
    assert saved.status_code == 303 and saved.headers["Location"].endswith("#services"), saved.get_data(as_text=True)[:500]
    closed = admin.post("/staff/settings/closures", data={"start_date": "2026-12-31", "end_date": "2026-12-31",
                                                          "reason": "New Year's Eve"})
    assert closed.status_code == 303 and closed.headers["Location"].endswith("#closures")
    assert "Closure saved: New Year&#39;s Eve" in admin.get("/staff/settings/").get_data(as_text=True)


@pytest.mark.parametrize("kind", ["hours", "closure"])
def test_removing_asks_first_and_names_what_goes(admin, clinic, kind):
    if kind == "hours":
        row = clinic.daniel.hours[0]
        model, named = WorkingHours, "Daniel Reyes, PT"
    else:
        row = make_closure(date(2026, 12, 31), name="New Year's Eve")
        model, named = Closure, "New Year&#39;s Eve"
    row_id = row.id
    asked = admin.post(f"/staff/settings/{kind}/{row_id}/remove")
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and named in html and 'name="confirm"' in html
    assert 'class="staff-nav"' in html
    db.session.expire_all()
    assert db.session.get(model, row_id) is not None
    removed = admin.post(f"/staff/settings/{kind}/{row_id}/remove", data={"confirm": "yes"})
    assert removed.status_code == 303 and "#" in removed.headers["Location"]
    db.session.expire_all()
    assert db.session.get(model, row_id) is None
    assert "Removed" in admin.get("/staff/settings/").get_data(as_text=True)
