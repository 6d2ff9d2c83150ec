"""Online booking in a real browser: a phone-sized chromium against gunicorn, a migrated
SQLite file with the demo clinic, and the real clock.

Screenshots of every step go to test-artifacts/ (whole pages). The README's phone-screen
shots in docs/screenshots/ are written when missing, or refreshed with UPDATE_SCREENSHOTS=1
(they are committed, so an ordinary run leaves them alone).
"""
from __future__ import annotations

import os
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.support.browser import PHONE, module_fixtures
from tests.support.helpers import ROOT

pytestmark = pytest.mark.browser

CLINIC = ZoneInfo("America/Denver")
OFFICE_TEL = "tel:+19158500900"
CELL_TEL = "tel:+19155408444"
SCREENSHOTS = ROOT / "docs" / "screenshots"
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"
ERROR_RED = "rgb(164, 38, 44)"  # --error in style.css
# Taps from the landing page to the details form: service, who, day, time.
MAX_TAPS_BEFORE_DETAILS = 6


sync_api, live, browser = module_fixtures("browser")


@pytest.fixture
def page(browser, live):
    context = browser.new_context(base_url=live.url, accept_downloads=True, **PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.server_errors = []
    page.on("response", lambda r: r.status >= 500 and page.server_errors.append(r.url))
    try:
        yield page
    finally:
        context.close()
    assert page.server_errors == []


class Flow:
    """Drives the pages and counts the taps a patient makes."""

    def __init__(self, page, artifacts: Path, prefix: str):
        self.page = page
        self.artifacts = artifacts
        self.prefix = prefix
        self.taps = 0

    def tap(self, locator):
        with self.page.expect_navigation():
            locator.tap()
        self.taps += 1
        assert self.page.locator("h1").count() == 1

    def shot(self, name: str, readme_name: str | None = None) -> None:
        path = self.artifacts / f"{self.prefix}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        readme = SCREENSHOTS / readme_name if readme_name else None
        if readme and (UPDATE_SCREENSHOTS or not readme.exists()):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(readme))  # what a phone shows: one screen


def _clean(text: str) -> str:
    """Collapses the narrow and non-breaking spaces CLDR puts in times."""
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " ")).strip()


def _clock_label(instant: datetime) -> str:
    return f"{instant:%-I:%M} {instant:%p}"


def _start_from_time_link(href: str) -> datetime:
    start = parse_qs(urlsplit(href).query)["start"][0]
    return datetime.fromisoformat(unquote(start))


def _token_from(manage_url: str) -> str:
    match = re.fullmatch(r".*/appointments/([^/]+)", manage_url)
    assert match, manage_url
    return match.group(1)


def _booking(live, token: str) -> dict:
    response = requests.get(f"{live.url}/api/v1/bookings/{token}", timeout=5)
    assert response.status_code == 200
    return response.json()


def _stored_start(live, appointment_id: int) -> datetime:
    with sqlite3.connect(live.db_path) as conn:
        (raw,) = conn.execute("SELECT starts_at FROM appointments WHERE id = ?", (appointment_id,)).fetchone()
    return datetime.fromisoformat(str(raw)).replace(tzinfo=UTC)


def _to_details(flow: Flow, expect, provider: str | None, *, latest_day: bool = False):
    """Landing page -> Initial evaluation -> who -> a day with openings -> its first time.

    The earliest open day by default; `latest_day` takes the last one shown (about two weeks
    out), far enough ahead to be changed online.
    """
    page = flow.page
    page.goto("/")
    expect(page.locator("h1")).to_have_text("Book a visit")
    flow.shot("1-services", "booking-services.png" if provider is None else None)
    flow.tap(page.get_by_role("link", name=re.compile("^Initial evaluation")))

    expect(page.locator("h1")).to_have_text("Initial evaluation")
    who = page.get_by_role("link", name=re.compile("^First available" if provider is None else f"^{re.escape(provider)}"))
    flow.shot("2-providers")
    flow.tap(who)

    expect(page.locator("h1")).to_have_text("Choose a day")
    open_day = page.locator("a.day").last if latest_day else page.locator("a.day").first
    expect(open_day).to_be_visible()
    day_label = _clean(open_day.locator(".day-date").inner_text())
    flow.shot("3-days", "booking-days.png" if provider is None else None)
    flow.tap(open_day)

    assert day_label in _clean(page.locator("h1").inner_text())
    first_time = page.locator("a.time").first
    expect(first_time).to_be_visible()
    chosen_start = _start_from_time_link(first_time.get_attribute("href"))
    assert _clock_label(chosen_start) in _clean(first_time.inner_text())
    flow.shot("4-times", "booking-times.png" if provider is None else None)
    flow.tap(first_time)

    expect(page.locator("h1")).to_have_text("Your details")
    chosen = _clean(page.locator(".chosen").inner_text())
    assert _clock_label(chosen_start) in chosen
    # The details page names the provider (for "first available": whoever is free then).
    shown_provider = _clean(page.locator(".chosen-who").inner_text()).removeprefix("With ")
    assert provider is None or shown_provider == provider
    return chosen_start, shown_provider


def _assert_contact_and_disclaimer(page, expect):
    for tel in (OFFICE_TEL, CELL_TEL):
        expect(page.locator(f'header a[href="{tel}"]')).to_be_visible()
        expect(page.locator(f'footer a[href="{tel}"]')).to_be_visible()
    expect(page.locator('header a[href="tel:+19158500900"]')).to_have_text("915-850-0900")
    expect(page.locator('header a[href="tel:+19155408444"]')).to_have_text("915-540-8444")
    expect(page.locator("#disclaimer-heading")).to_be_visible()
    expect(page.locator("#disclaimer-heading")).to_have_text("Professional Scope of Practice")


def _outline(locator) -> tuple[str, str]:
    return locator.evaluate(
        "el => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineWidth]; }"
    )


def test_book_first_available_on_a_phone(sync_api, live, page, artifacts_dir):
    expect = sync_api.expect
    flow = Flow(page, artifacts_dir, "first-available")
    began = time.monotonic()

    chosen_start, shown_provider = _to_details(flow, expect, provider=None)
    assert flow.taps <= MAX_TAPS_BEFORE_DETAILS, f"{flow.taps} taps before the details form"

    page.get_by_label("First name").fill("Ana")
    page.get_by_label("Last name").fill("Garcia")
    page.get_by_label("Mobile phone").fill("(915) 555-0123")
    page.get_by_label("Email").fill("ana.browser@example.com")
    page.get_by_role("checkbox", name=re.compile("Text me appointment reminders")).check()
    flow.shot("5-details", "booking-details.png")
    with page.expect_navigation():
        page.get_by_role("button", name="Book appointment").tap()
    elapsed = time.monotonic() - began

    expect(page.locator("h1")).to_have_text("You're booked")
    assert re.search(r"/appointments/[^/]+/booked$", page.url)
    manage = page.locator("a.private-link")
    manage_url = manage.inner_text().strip()
    assert manage.get_attribute("href") == manage_url
    assert manage_url.startswith(live.url + "/appointments/")
    token = _token_from(manage_url)

    booking = _booking(live, token)
    api_start = datetime.fromisoformat(booking["start"])
    assert api_start == chosen_start
    assert _stored_start(live, booking["id"]) == chosen_start.astimezone(UTC)
    assert booking["provider_name"] == shown_provider
    assert booking["status"] == "booked"

    local = api_start.astimezone(CLINIC)
    local_end = datetime.fromisoformat(booking["end"]).astimezone(CLINIC)
    when = _clean(page.locator("dd.when").inner_text())
    assert when.startswith(f"{local:%A, %B} {local.day}, {local.year}, {_clock_label(local)}"), when
    assert _clock_label(local_end) in when and "clinic time" in when
    expect(page.locator("dl.appointment")).to_contain_text(shown_provider)
    expect(page.locator("dl.appointment")).to_contain_text("Initial evaluation")
    _assert_contact_and_disclaimer(page, expect)
    flow.shot("6-confirmation", "booking-confirmation.png")

    calendar = page.get_by_role("link", name="Add to calendar (.ics)")
    expect(calendar).to_be_visible()
    with page.expect_download() as info:
        calendar.click()
    download = info.value
    assert download.suggested_filename.endswith(".ics")
    body = Path(download.path()).read_text()
    assert body.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in body
    assert f"DTSTART:{api_start.astimezone(UTC):%Y%m%dT%H%M%SZ}" in body
    served = page.request.get(calendar.get_attribute("href"))
    assert served.headers["content-type"].startswith("text/calendar")

    with page.expect_navigation():
        manage.click()
    assert page.url == manage_url
    expect(page.locator("h1")).to_have_text("Your appointment")
    expect(page.locator("dd.status")).to_have_text("Booked")
    # The earliest opening may be inside the cancellation window: then the page says to call.
    if booking["can_change_online"]:
        expect(page.get_by_role("link", name="Cancel appointment")).to_be_visible()
    else:
        expect(page.locator(".call-to-change")).to_contain_text("915-850-0900")
        expect(page.get_by_role("link", name="Call the office")).to_have_attribute("href", OFFICE_TEL)

    # Four taps and a few fields: comfortably under a minute even for a headless robot.
    assert elapsed < 60
    (artifacts_dir / "browser-timing.txt").write_text(
        f"taps before details: {flow.taps}\nlanding to confirmation: {elapsed:.1f} s\n"
    )


def test_specific_provider_keyboard_error_and_cancel(sync_api, live, page, artifacts_dir):
    expect = sync_api.expect
    flow = Flow(page, artifacts_dir, "provider")
    provider = "Maria Lopez, PT"
    chosen_start, _ = _to_details(flow, expect, provider=provider, latest_day=True)
    assert flow.taps <= MAX_TAPS_BEFORE_DETAILS

    # Keyboard only from here: type, Tab, Space for the checkbox, Enter on the button.
    first_name = page.locator("#first_name")
    first_name.focus()
    style, width = _outline(first_name)
    assert style != "none" and width != "0px", "a focused field needs a visible focus style"
    page.keyboard.type("Luis")
    page.keyboard.press("Tab")
    page.keyboard.type("Ortega")
    page.keyboard.press("Tab")
    page.keyboard.type("555-12")  # too short to be a phone number
    page.keyboard.press("Tab")
    page.keyboard.type("luis@example.com")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "sms_opt_in"
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "note"
    page.keyboard.press("Tab")
    button = page.get_by_role("button", name="Book appointment")
    expect(button).to_be_focused()
    style, width = _outline(button)
    assert style != "none" and width != "0px", "the focused button needs a visible focus style"
    flow.shot("5-keyboard-focus")
    with page.expect_navigation():
        page.keyboard.press("Enter")

    # The form comes back with what was typed and a message next to the phone field.
    expect(page.locator("h1")).to_have_text("Your details")
    expect(page.locator("[role=alert]")).to_contain_text("There is a problem")
    expect(page.locator("[data-error-summary]")).to_be_focused()
    phone = page.locator("#phone")
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_value("555-12")
    expect(phone).to_have_css("border-top-color", ERROR_RED)
    expect(page.locator("#email")).not_to_have_css("border-top-color", ERROR_RED)
    expect(page.locator("#first_name")).to_have_value("Luis")
    expect(page.locator("#last_name")).to_have_value("Ortega")
    expect(page.locator("#email")).to_have_value("luis@example.com")
    expect(page.locator("#sms_opt_in")).to_be_checked()
    for other in ("#first_name", "#last_name", "#email"):
        assert page.locator(other).get_attribute("aria-invalid") is None
    error = page.locator("#phone-error")
    expect(error).to_be_visible()
    assert "phone-error" in phone.get_attribute("aria-describedby").split()
    field_box, error_box = phone.bounding_box(), error.bounding_box()
    assert 0 <= error_box["y"] - (field_box["y"] + field_box["height"]) < 80, "the message sits under the phone field"
    assert _clock_label(chosen_start) in _clean(page.locator(".chosen").inner_text())
    flow.shot("6-phone-error")

    phone.fill("915-555-0199")
    with page.expect_navigation():
        phone.press("Enter")
    expect(page.locator("h1")).to_have_text("You're booked")
    expect(page.locator("dl.appointment")).to_contain_text(provider)
    manage_url = page.locator("a.private-link").inner_text().strip()
    token = _token_from(manage_url)
    booking = _booking(live, token)
    assert datetime.fromisoformat(booking["start"]) == chosen_start
    assert booking["provider_name"] == provider
    assert booking["can_change_online"] is True
    flow.shot("7-confirmation")

    # The private link opens the manage page, where the patient cancels.
    with page.expect_navigation():
        page.locator("a.private-link").click()
    expect(page.locator("dd.status")).to_have_text("Booked")
    with page.expect_navigation():
        page.get_by_role("link", name="Cancel appointment").tap()
    expect(page.locator("h1")).to_contain_text(f"with {provider}?")
    page.get_by_label("Reason (optional)").fill("Feeling better")
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, cancel it").tap()
    assert page.url == manage_url
    expect(page.locator("[role=status]")).to_have_text("Your appointment is cancelled.")
    expect(page.locator("dd.status")).to_have_text("Cancelled")
    expect(page.get_by_role("link", name="Cancel appointment")).to_have_count(0)
    expect(page.get_by_role("link", name="Add to calendar (.ics)")).to_have_count(0)
    # The calendar file stays on offer: opened, it removes the visit from a calendar that has it.
    removal = page.get_by_role("link", name="Update your calendar (.ics)")
    expect(removal).to_be_visible()
    with page.expect_download() as info:
        removal.click()
    removal_body = Path(info.value.path()).read_text()
    assert "METHOD:CANCEL" in removal_body and "STATUS:CANCELLED" in removal_body
    _assert_contact_and_disclaimer(page, expect)
    flow.shot("8-cancelled")
    assert _booking(live, token)["status"] == "cancelled"
