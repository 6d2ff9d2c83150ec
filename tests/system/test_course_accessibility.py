"""Accessibility of the course pages (axe-core, WCAG 2.1 A/AA, in a real browser): the staff
planner with its preview table and with field errors, the course page with make-up times,
and a course visit's private page in English and Spanish."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.support.axe import AXE_JS, DESKTOP, Audit, axe_context
from tests.support.browser import PHONE, module_fixtures
from tests.support.helpers import ROOT

pytestmark = pytest.mark.browser

sync_api, live, browser = module_fixtures("a11y-courses", (AXE_JS, "node_modules/axe-core (scripts/setup runs npm ci)"))
PASSWORD = "a long enough password"


def _flask(live, *args, stdin=None) -> str:
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{live.db_path}", "FLASK_APP": "wsgi"}
    done = subprocess.run([sys.executable, "-m", "flask", *args], input=stdin, text=True, cwd=ROOT, env=env,
                          check=True, capture_output=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def course(live):
    """A front-desk account and token, a patient and a booked 2-week course on the live server."""
    _flask(live, "create-user", "desk@example.com", "--role", "front_desk", stdin=PASSWORD + "\n" + PASSWORD + "\n")
    token = _flask(live, "create-api-token", "desk@example.com").splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    patient = requests.post(f"{live.url}/api/v1/staff/patients", headers=headers, timeout=10, json={
        "first_name": "Rosa", "last_name": "Mendez", "phone": "915-555-0142", "email": "rosa@example.com"})
    assert patient.status_code == 201, patient.text
    today = datetime.now(ZoneInfo("America/Denver")).date()
    monday = today + timedelta(days=7 - today.weekday())
    booked = requests.post(f"{live.url}/api/v1/staff/courses", headers=headers, timeout=30, json={
        "patient_id": patient.json()["id"], "provider_id": 1, "first_date": monday.isoformat(), "weeks": 2,
        "visits_per_week": 3, "weekdays": ["mon", "wed", "fri"], "time": "10:00", "preview": False})
    assert booked.status_code == 201, booked.text
    return booked.json()


def test_course_pages_have_no_wcag_violations(browser, live, course):
    context = axe_context(browser, live, DESKTOP)
    page = context.new_page()
    server_errors = []
    page.on("response", lambda r: r.status >= 500 and server_errors.append(r.url))
    audit = Audit(page, "en")
    try:
        audit.go("/staff/login")
        page.locator("#email").fill("desk@example.com")
        page.locator("#password").fill(PASSWORD)
        audit.follow(lambda: page.locator("form button[type=submit]").click())
        audit.go(f"/staff/courses/new?patient_id={course['patient_id']}&provider_id=1")
        audit.check("planner")
        page.locator("#first_date").fill(course["first_date"])
        audit.follow(lambda: page.locator("button[value=preview]").click())
        assert page.locator("table.plan tbody tr").count() == 18
        audit.check("planner with the preview")
        page.locator("#weeks").fill("13")
        audit.follow(lambda: page.locator("button[value=preview]").click(), status=422)
        assert page.locator("#weeks").get_attribute("aria-invalid") == "true"
        audit.check("planner with field errors")
        audit.go(f"/staff/courses/{course['id']}")
        audit.check("course page")
        page.locator("#visit-2 summary").click()
        audit.follow(lambda: page.locator("#visit-2 button.danger").click())
        assert page.locator(".make-up-times li").count() >= 1
        audit.check("course page with make-up times")
    finally:
        context.close()
    assert server_errors == []
    if audit.violations:
        pytest.fail(f"axe found WCAG violations:\n{audit.report()}")


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_course_visits_private_page_has_no_wcag_violations(browser, live, course, language):
    context = axe_context(browser, live, PHONE)
    page = context.new_page()
    audit = Audit(page, language)
    try:
        path = course["visits"][0]["manage_url"].split("://", 1)[1].split("/", 1)[1]
        audit.go(f"/{path}?lang={language}")
        assert page.locator("section.course li").count() == 6
        audit.check("course visit page")
    finally:
        context.close()
    if audit.violations:
        pytest.fail(f"axe found WCAG violations ({language}):\n{audit.report()}")
