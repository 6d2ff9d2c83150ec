"""The front desk calendar in a real browser: chromium against gunicorn on the demo clinic
(real clock), one server and one browser for the module.

Signs in, sees the week, drags a visit to a new time (kept after a reload), drags it onto
another visit (snaps back, nothing changed), books a caller from an empty slot, marks a
no-show; axe-core checks the calendar, a patient page and the settings page. Screenshots go to
test-artifacts/ (docs/screenshots/desk-calendar.png is written when missing, or refreshed
with UPDATE_SCREENSHOTS=1).
"""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.support.browser import module_fixtures
from tests.support.helpers import ROOT

pytestmark = pytest.mark.browser

CLINIC = ZoneInfo("America/Denver")
PASSWORD = "a long enough password"
SCREEN = dict(viewport={"width": 1400, "height": 1300}, locale="en-US")
SLOT_PX = 18  # slotHeight per 15 minutes in calendar.js
DAY_STARTS = 8  # the grid opens at the earliest working window shown (the demo's 08:00)
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
CALENDAR_JS = ROOT / "scheduler" / "static" / "vendor" / "event-calendar.min.js"
SCREENSHOTS = ROOT / "docs" / "screenshots"

sync_api, live, browser = module_fixtures(
    "desk", (AXE_JS, "node_modules/axe-core (scripts/setup runs npm ci)"),
    (CALENDAR_JS, "the calendar in scheduler/static/vendor (scripts/setup copies it from node_modules)"),
)


def _flask(live, *args, stdin=""):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{live.db_path}", "FLASK_APP": "wsgi"}
    subprocess.run([sys.executable, "-m", "flask", *args], input=stdin, text=True, cwd=ROOT, env=env, check=True,
                   capture_output=True)


@pytest.fixture(scope="module")
def accounts(live):
    _flask(live, "create-user", "desk@example.com", "--role", "front_desk", stdin=PASSWORD + "\n")
    _flask(live, "create-user", "admin@example.com", "--role", "admin", stdin=PASSWORD + "\n")
    return {"desk": "desk@example.com", "admin": "admin@example.com"}


def _db(live):
    return sqlite3.connect(live.db_path)


def _providers(live) -> list[tuple[int, str]]:
    with _db(live) as conn:
        return conn.execute("SELECT id, name FROM providers ORDER BY id").fetchall()


@pytest.fixture(scope="module")
def day(live) -> date:
    """A working day two weeks ahead (past the demo bookings) that no closure touches (the real clock)."""
    with _db(live) as conn:
        closed = conn.execute("SELECT first_day, last_day FROM closures").fetchall()
    candidate = datetime.now(CLINIC).date() + timedelta(days=14)
    while candidate.weekday() >= 5 or any(first <= candidate.isoformat() <= last for first, last in closed):
        candidate += timedelta(days=1)
    return candidate


def _book(live, provider_id: int, day: date, at: str, first: str, phone: str) -> int:
    response = requests.post(f"{live.url}/api/v1/bookings", json={
        "service": "initial-evaluation", "provider_id": provider_id, "start": f"{day.isoformat()}T{at}:00",
        "patient": {"first_name": first, "last_name": "Tester", "phone": phone, "email": f"{first.lower()}@example.com"},
    }, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def _start_of(live, appointment_id: int) -> datetime:
    with _db(live) as conn:
        (raw,) = conn.execute("SELECT starts_at FROM appointments WHERE id = ?", (appointment_id,)).fetchone()
    return datetime.fromisoformat(raw).replace(tzinfo=UTC).astimezone(CLINIC)


@pytest.fixture
def page(browser, live, accounts):
    context = browser.new_context(base_url=live.url, **SCREEN)
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE_JS))
    page = context.new_page()
    page.server_errors = []
    page.on("response", lambda r: r.status >= 500 and page.server_errors.append(r.url))
    page.on("pageerror", lambda e: page.server_errors.append(f"script error: {e}"))
    try:
        yield page
    finally:
        context.close()
    assert page.server_errors == []


def sign_in(page, email: str, then: str) -> None:
    page.goto("/staff/login?" + requests.compat.urlencode({"next": then}))
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def open_calendar(page, day: date, view: str = "day") -> None:
    sign_in(page, "desk@example.com", f"/staff/calendar?date={day.isoformat()}&view={view}")
    page.wait_for_selector(".ec-body .ec-day")
    page.wait_for_load_state("networkidle")


def event(page, name: str):
    return page.locator(".ec-event.visit-event", has_text=name)


def slot_point(page, column: int, at: str) -> tuple[float, float]:
    """The middle of a provider's column at a wall time (day view)."""
    cell = page.locator(".ec-body .ec-day").nth(column).bounding_box()
    hours, minutes = map(int, at.split(":"))
    y = cell["y"] + ((hours - DAY_STARTS) * 4 + minutes // 15) * SLOT_PX + SLOT_PX / 2
    return cell["x"] + cell["width"] / 2, y


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0], start[1] + 6, steps=3)
    page.mouse.move(*end, steps=8)
    page.mouse.up()


def axe_serious(page) -> list[str]:
    found = page.evaluate("async () => (await axe.run(document, {runOnly: {type: 'tag', values: "
                          "['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})).violations")
    return [f"[{v['impact']}] {v['id']}: {[n['target'] for n in v['nodes'][:3]]}"
            for v in found if v["impact"] in ("serious", "critical")]


def test_sign_in_and_see_the_week_with_a_column_per_provider(page, live, day, artifacts_dir):
    _book(live, _providers(live)[1][0], day, "10:00", "Wendy", "915-555-0141")
    open_calendar(page, day, view="week")
    names = [name for _id, name in _providers(live)]
    headers = page.locator(".ec-header .ec-col-head").all_inner_texts()
    assert headers[:3] == names and len(headers) == 3 * 5  # Monday to Friday, three columns a day
    assert event(page, "Wendy Tester").count() == 1
    assert page.locator(".ec-bg-event.shade-off-hours").count() > 0  # lunch and evenings shaded
    page.screenshot(path=str(artifacts_dir / "desk-week.png"), full_page=True)
    assert axe_serious(page) == []


def test_drag_to_a_new_time_persists_and_onto_a_visit_snaps_back(page, live, day, artifacts_dir):
    provider_id = _providers(live)[0][0]
    moving = _book(live, provider_id, day, "08:00", "Mona", "915-555-0142")
    blocker = _book(live, provider_id, day, "10:45", "Bruno", "915-555-0143")
    open_calendar(page, day)
    box = event(page, "Mona Tester").bounding_box()
    grab = (box["x"] + box["width"] / 2, box["y"] + SLOT_PX / 2)
    drag(page, grab, (grab[0], grab[1] + 4 * SLOT_PX))  # one hour later
    page.wait_for_function("() => document.getElementById('calendar-message').textContent.startsWith('Moved')")
    page.reload()
    page.wait_for_selector(".ec-event.visit-event")
    assert event(page, "Mona Tester").locator(".ec-event-time").inner_text().startswith("9:00")
    assert _start_of(live, moving).strftime("%Y-%m-%d %H:%M") == f"{day.isoformat()} 09:00"
    page.screenshot(path=str(artifacts_dir / "desk-moved.png"))

    # 10:00-11:00 would run into Bruno's 10:45 visit: refused.
    box = event(page, "Mona Tester").bounding_box()
    grab = (box["x"] + box["width"] / 2, box["y"] + SLOT_PX / 2)
    drag(page, grab, (grab[0], grab[1] + 4 * SLOT_PX))
    page.wait_for_function("() => document.getElementById('calendar-message').classList.contains('notice-error')")
    assert "taken" in page.locator("#calendar-message").inner_text()
    page.wait_for_timeout(300)
    assert event(page, "Mona Tester").locator(".ec-event-time").inner_text().startswith("9:00")  # snapped back
    page.screenshot(path=str(artifacts_dir / "desk-conflict.png"))
    assert _start_of(live, moving).strftime("%H:%M") == "09:00"
    assert _start_of(live, blocker).strftime("%H:%M") == "10:45"


def test_book_a_caller_from_an_empty_slot(page, live, day, artifacts_dir):
    open_calendar(page, day)
    start = slot_point(page, 2, "14:00")
    drag(page, start, (start[0], start[1] + 2 * SLOT_PX))
    page.wait_for_selector("#book-form:not([hidden])")
    assert "2:00 PM" in page.locator("#book-when").inner_text()
    page.select_option("#book-service", "therapy-session")
    page.fill("#book-query", "Carla")
    page.wait_for_function("() => document.getElementById('book-results-none').textContent.startsWith('No patient')")
    page.fill("#book-first", "Carla")
    page.fill("#book-last", "Caller")
    page.fill("#book-phone", "915-555-0144")
    page.screenshot(path=str(artifacts_dir / "desk-book-form.png"))
    page.click("#book-form button[type=submit]")
    page.wait_for_selector(".appointment-panel")
    assert page.locator("#calendar-message").inner_text() == "Booked Carla Caller."
    assert event(page, "Carla Caller").count() == 1
    with _db(live) as conn:
        row = conn.execute("SELECT a.source, a.provider_id, s.slug FROM appointments a JOIN patients p ON p.id = a.patient_id "
                           "JOIN services s ON s.id = a.service_id WHERE p.first_name = 'Carla'").fetchone()
    assert row == ("desk", _providers(live)[2][0], "therapy-session")
    page.screenshot(path=str(artifacts_dir / "desk-booked.png"))
    readme = SCREENSHOTS / "desk-calendar.png"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" or not readme.exists():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(readme))


def test_mark_a_no_show_from_the_panel(page, live, artifacts_dir):
    """A visit that began half an hour ago (written straight into the database: the desk
    cannot book the past) is marked missed from its panel."""
    began = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    with _db(live) as conn:
        patient = conn.execute("INSERT INTO patients (first_name, last_name, phone_e164, language, created_at) "
                               "VALUES ('Nora', 'Noshow', '+19155550145', 'en', ?)", (began.replace(tzinfo=None).isoformat(" "),)).lastrowid
        provider_id, service_id = _providers(live)[0][0], conn.execute("SELECT id FROM services WHERE slug = 'therapy-session'").fetchone()[0]
        stamp = lambda moment: moment.replace(tzinfo=None).isoformat(" ")  # noqa: E731
        visit = conn.execute(
            "INSERT INTO appointments (patient_id, provider_id, service_id, starts_at, ends_at, blocks_until, status, source,"
            " patient_note, cancel_reason, manage_token_hash, ical_sequence, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, 'booked', 'desk', '', '', ?, 0, ?, ?)",
            (patient, provider_id, service_id, stamp(began), stamp(began + timedelta(minutes=45)),
             stamp(began + timedelta(minutes=45)), "f" * 64, stamp(began), stamp(began))).lastrowid
    today = began.astimezone(CLINIC).date()
    sign_in(page, "desk@example.com", f"/staff/calendar?date={today.isoformat()}&view=day&open={visit}")
    page.wait_for_selector(".appointment-panel")
    page.click(".appointment-panel button:text-is('No-show')")
    page.wait_for_function("() => document.querySelector('.appointment-panel .status-badge').textContent.trim() === 'No-show'")
    assert page.locator("#calendar-message").inner_text() == "Marked no-show."
    with _db(live) as conn:
        assert conn.execute("SELECT status FROM appointments WHERE id = ?", (visit,)).fetchone() == ("no_show",)
    page.screenshot(path=str(artifacts_dir / "desk-no-show.png"))
    assert axe_serious(page) == []


def _desk_post(page, path: str, body: dict) -> int:
    return page.evaluate("""async ([path, body]) => (await fetch(path, {method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json",
                  "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content},
        body: JSON.stringify(body)})).status""", [path, body])


def test_a_fifteen_minute_visit_shows_the_patients_name(page, live, day):
    short = _book(live, _providers(live)[2][0], day, "15:00", "Quinn", "915-555-0146")
    open_calendar(page, day)
    assert _desk_post(page, f"/staff/appointments/{short}/resize", {"end": f"{day.isoformat()}T15:15:00"}) == 200
    page.reload()
    page.wait_for_selector(".ec-event.visit-event")
    box = event(page, "Quinn Tester").bounding_box()
    title = event(page, "Quinn Tester").locator(".ec-event-title")
    assert title.is_visible() and title.inner_text().startswith("Quinn Tester")
    line = title.bounding_box()
    assert box["y"] <= line["y"] and line["y"] + line["height"] <= box["y"] + box["height"] + 1


def test_patient_and_settings_pages_have_no_serious_violations(page, live):
    sign_in(page, "admin@example.com", "/staff/patients/?query=Tester")
    assert page.locator("table.records tbody tr").count() >= 1
    assert axe_serious(page) == []
    with page.expect_navigation():
        page.locator("table.records a").first.click()
    assert page.locator("h1").inner_text().endswith("Tester")
    assert axe_serious(page) == []
    page.goto("/staff/settings/")
    assert page.locator("h1").inner_text() == "Clinic settings"
    assert axe_serious(page) == []


def test_a_providers_day_sheet_prints_without_the_site_chrome(page, live, day, artifacts_dir):
    provider_id, name = _providers(live)[0]
    _book(live, provider_id, day, "14:00", "Pia", "915-555-0146")
    sign_in(page, "desk@example.com", f"/staff/?date={day.isoformat()}&provider={provider_id}")
    assert page.locator(".day-sheet h2").all_inner_texts()[0].startswith(name)
    assert page.locator(".sheet-head .print-hide").is_visible()
    page.emulate_media(media="print")
    for chrome in (".site-header", ".site-footer", ".staff-nav", ".pager", ".sheet-head .print-hide"):
        assert not page.locator(chrome).first.is_visible(), chrome
    assert page.locator(".day-sheet .visit", has_text="Pia Tester").is_visible() and page.locator(".sheet-date").is_visible()
    page.pdf(path=str(artifacts_dir / "day-sheet.pdf"))


def test_the_day_and_view_stay_in_the_url_and_week_names_are_whole(page, live, day):
    open_calendar(page, day, view="week")
    names = [name for _id, name in _providers(live)]
    heads = page.locator(".ec-header .ec-col-head")
    assert heads.count() == 3 * 5
    for i in range(3):
        head = heads.nth(i)
        hover = "el => (el.title ? el : el.querySelector('[title]') || el.closest('[title]') || {}).title"
        assert head.evaluate(hover) == names[i]
        assert head.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), names[i]  # not cut ("Dan… Rey…")
    page.click("button.ec-next")
    page.wait_for_function("() => new URL(location.href).searchParams.get('date') !== null")
    monday = day - timedelta(days=day.weekday()) + timedelta(days=7)
    assert f"date={monday.isoformat()}" in page.url and "view=week" in page.url
    page.click("button.ec-resourceTimeGridDay")
    page.wait_for_function("() => new URL(location.href).searchParams.get('view') === 'day'")
    page.reload()
    page.wait_for_selector(".ec-body .ec-day")
    assert page.locator(".ec-body .ec-day").count() == 3  # still the day view, one column per provider
    assert f"date={monday.isoformat()}" in page.url and "view=day" in page.url
