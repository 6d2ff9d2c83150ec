"""What a first-time patient sees when things do not go straight (issue: back button, cancel,
first available, moving, broken links, closed days, form errors, keeping the link), in a
phone-sized chromium against gunicorn with the demo clinic and the real clock."""
from __future__ import annotations

import re
from datetime import date, timedelta
from itertools import count
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.browser import PHONE, module_fixtures

pytestmark = pytest.mark.browser

PROVIDERS = ("Dr. Alex Jimenez, DC", "Maria Lopez, PT", "Daniel Reyes, PT")
PHONES = (f"915-555-{n:04d}" for n in count(1701))

sync_api, live, browser = module_fixtures("browser_pages")


@pytest.fixture
def page(browser, live):
    context = browser.new_context(base_url=live.url, **PHONE)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = []
    page.on("response", lambda r: r.status >= 500 and errors.append(r.url))
    try:
        yield page
    finally:
        context.close()
    assert errors == []


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u202f", " ").replace("\u00a0", " ")).strip()


def _click(page, locator):
    with page.expect_navigation():
        locator.click()


def _fill_details(page, phone: str, first_name: str = "Rosa") -> None:
    page.locator("#first_name").fill(first_name)
    page.locator("#last_name").fill("Mendez")
    page.locator("#phone").fill(phone)
    page.locator("#email").fill(f"rosa.{phone}@example.com")


def _booking_id(live, manage_url: str) -> int:
    token = urlsplit(manage_url).path.rsplit("/", 1)[1]
    return requests.get(f"{live.url}/api/v1/bookings/{token}", timeout=5).json()["id"]


def _later_slot(live, provider_id: int) -> dict:
    """An opening of the provider a week or more ahead: far enough to change online."""
    first = date.today() + timedelta(days=7)
    slots = requests.get(f"{live.url}/api/v1/availability", params={
        "service": "initial-evaluation", "provider": provider_id, "start": first.isoformat(),
        "end": (first + timedelta(days=10)).isoformat()}, timeout=10).json()["slots"]
    return slots[len(slots) // 2]


def _book_via_api(live, provider_id: int) -> str:
    slot = _later_slot(live, provider_id)
    phone = next(PHONES)
    response = requests.post(f"{live.url}/api/v1/bookings", json={
        "service": "initial-evaluation", "provider_id": provider_id, "start": slot["start"],
        "patient": {"first_name": "Luz", "last_name": "Ortiz", "phone": phone, "email": f"luz.{phone}@example.com",
                    "sms_opt_in": True}}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["manage_url"]


def test_first_available_back_and_book_again_keep_the_link_and_cancel_asks_first(sync_api, live, page):
    expect = sync_api.expect
    page.goto("/book/initial-evaluation/any")
    _click(page, page.locator("a.day").last)  # about two weeks out: changeable online

    # Time tiles for "first available" name nobody; they say how many are free.
    tiles = page.locator("ul.times")
    expect(tiles).to_be_visible()
    tiles_text = tiles.inner_text()
    assert not any(name in tiles_text for name in PROVIDERS), tiles_text
    expect(page.locator("a.time", has_text="with any of 3 providers").first).to_be_visible()
    _click(page, page.locator("a.time").first)

    # The details page says who it is, and that it is whoever is free.
    who = _clean(page.locator(".chosen-who").inner_text())
    assert who.startswith("With ") and who.removeprefix("With ") in PROVIDERS, who
    shown_provider = who.removeprefix("With ")
    chosen_when = _clean(page.locator(".chosen-when").inner_text())
    phone = next(PHONES)
    _fill_details(page, phone)
    _click(page, page.get_by_role("button", name="Book appointment"))
    expect(page.locator("h1")).to_have_text("You're booked")
    expect(page.locator("dd.with")).to_have_text(shown_provider)
    manage_url = page.locator("a.private-link").inner_text().strip()

    # Keeping the link: copy it (script from a file, under the page's CSP), or have it texted.
    copy = page.get_by_role("button", name="Copy link")
    expect(copy).to_be_visible()
    copy.click()
    expect(page.locator("#copy-status")).to_have_text("Link copied.")
    assert page.evaluate("navigator.clipboard.readText()") == manage_url
    expect(page.get_by_role("button", name="Email it to me")).to_be_visible()

    # Back to the form, "Book appointment" again: no second visit, a way to the first one.
    page.go_back()
    expect(page.locator("h1")).to_have_text("Your details")
    _fill_details(page, phone)
    _click(page, page.get_by_role("button", name="Book appointment"))
    expect(page.locator("h1")).to_have_text("You already booked this time")
    summary = _clean(page.locator(".chosen").inner_text())
    assert chosen_when in summary and shown_provider in summary, summary
    expect(page.get_by_text("Please check the fields")).to_have_count(0)
    _click(page, page.get_by_role("link", name="See my appointment"))
    # A fresh link (a new timestamp) to the same visit.
    assert _booking_id(live, page.url) == _booking_id(live, manage_url)
    expect(page.locator("h1")).to_have_text("Your appointment")

    _click(page, page.get_by_role("button", name="Text it to me"))
    expect(page.locator("[role=status]").first).to_have_text("We are texting you the link.")

    # Cancelling takes a confirmation that names the visit.
    _click(page, page.get_by_role("link", name="Cancel appointment"))
    question = _clean(page.locator("h1").inner_text())
    assert re.fullmatch(rf"Cancel \w+day, \w+ \d+ at \d+:\d\d [AP]M with {re.escape(shown_provider)}\?", question), question
    _click(page, page.get_by_role("button", name="Yes, cancel it"))
    expect(page.locator("dd.status")).to_have_text("Cancelled")
    expect(page.get_by_role("link", name="Book a new time")).to_be_visible()
    assert requests.get(f"{live.url}/api/v1/bookings/{manage_url.rsplit('/', 1)[1]}", timeout=5).json()["status"] == "cancelled"


def test_form_errors_take_focus_closed_days_and_spanish_dates(sync_api, live, page):
    expect = sync_api.expect
    page.goto("/book/initial-evaluation/any")
    _click(page, page.locator("a.day").first)
    _click(page, page.locator("a.time").first)
    _fill_details(page, "555-12")
    _click(page, page.get_by_role("button", name="Book appointment"))

    # Focus lands on the error summary, which links to the field (WCAG 3.3.1).
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary.locator("h2")).to_have_text("There is a problem")
    link = summary.get_by_role("link", name=re.compile("^Mobile phone: "))
    link.click()
    expect(page.locator("#phone")).to_be_focused()
    expect(page.locator("#phone")).to_have_value("555-12")

    # Christmas is a closure: it says so, apart from days with no openings.
    christmas = date(date.today().year, 12, 25)
    if christmas < date.today():
        christmas = date(christmas.year + 1, 12, 25)
    page.goto(f"/book/initial-evaluation/any?from={(christmas - timedelta(days=3)).isoformat()}")
    closed = page.locator(".day-closure", has_text="Christmas")
    expect(closed).to_have_count(1)
    expect(closed.locator(".day-count")).to_have_text("Closed: Christmas Day")
    expect(closed.locator(".day-date")).to_have_text("December 25")
    expect(page.locator(".day-closed:not(.day-closure) .day-count").first).to_have_text(
        re.compile("^(No openings|Fully booked)$"))

    # Spanish: a date at the start of a heading, a tile or a line is capitalised, in the markup.
    page.goto("/book/initial-evaluation/any?lang=es")
    expect(page.locator(".day-closure .day-count")).to_have_count(0)  # two weeks from today
    names = page.locator(".day-name").all_text_contents()
    assert names and all(name[:1].isupper() for name in names), names
    _click(page, page.locator("a.day").first)
    heading = page.locator("h1").text_content()
    assert heading[:1].isupper() and " de " in heading, heading
    _click(page, page.locator("a.time").first)
    when = page.locator(".chosen-when").text_content().strip()
    assert when[:1].isupper() and when.split(",")[0] in heading, (when, heading)


def test_moving_states_the_provider_offers_others_and_preselects_nothing(sync_api, live, page):
    expect = sync_api.expect
    manage_url = _book_via_api(live, 2)  # Maria Lopez, PT
    page.goto(manage_url)
    _click(page, page.get_by_role("link", name="Move to another time"))
    expect(page.locator(".provider-choice")).to_have_text(
        "These are the open times of Maria Lopez, PT, who you are booked with.")
    other = page.locator(".other-providers").get_by_role("link", name="Daniel Reyes, PT")
    expect(other).to_be_visible()
    _click(page, other)
    expect(page.locator(".provider-choice")).to_contain_text("Daniel Reyes, PT")
    _click(page, page.locator("a.day").last)

    radios = page.locator("input[type=radio][name=start]")
    assert radios.count() > 0
    assert page.locator("input[type=radio][name=start]:checked").count() == 0
    _click(page, page.get_by_role("button", name="Move my appointment"))
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Please choose one of the times.")
    summary.get_by_role("link").click()
    expect(radios.first).to_be_focused()
    chosen = radios.nth(1)
    chosen_start = chosen.get_attribute("value")
    chosen.check()
    _click(page, page.get_by_role("button", name="Move my appointment"))
    assert page.url == manage_url
    expect(page.locator("[role=status]").first).to_have_text("Your appointment has been moved.")
    expect(page.locator("dd.with")).to_have_text("Daniel Reyes, PT")
    api = requests.get(f"{live.url}/api/v1/bookings/{manage_url.rsplit('/', 1)[1]}", timeout=5).json()
    assert api["start"] == chosen_start and api["provider_name"] == "Daniel Reyes, PT"


def test_a_broken_link_explains_and_offers_to_send_it_again(sync_api, live, page):
    expect = sync_api.expect
    manage_url = _book_via_api(live, 1)
    path = urlsplit(manage_url).path
    for broken in (path[:-4], path[:-3] + "abc"):  # cut short when copied; altered
        response = page.goto(broken)
        assert response.status == 404
        expect(page.locator("h1")).to_have_text("This link does not work")
        expect(page.locator("main")).to_contain_text("This link is not valid or has expired.")
        expect(page.locator('main a[href="tel:+19158500900"]')).to_have_text("915-850-0900")
        expect(page.locator('main a[href="tel:+19155408444"]')).to_have_text("915-540-8444")
    answers = []
    for contact in ("915-555-0101", "915-555-0999"):  # a demo patient's number, and nobody's
        page.get_by_label("Your mobile number or email").fill(contact)
        _click(page, page.get_by_role("button", name="Send me my link"))
        answers.append(_clean(page.locator("main").inner_text()))
        page.goto(path[:-4])
    assert answers[0] == answers[1] and answers[0].startswith("Check your phone or email")


def test_public_pages_load_without_a_console_error_or_a_missing_file(browser, live):
    """Lighthouse counts a missing favicon's 404 as a console error on every page."""
    context = browser.new_context(base_url=live.url, **PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    console, missing = [], []
    page.on("console", lambda message: message.type == "error" and console.append(message.text))
    page.on("response", lambda r: r.status >= 400 and missing.append((r.status, r.url)))
    try:
        for path in ("/", "/book/initial-evaluation", "/?lang=es"):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            icon = page.locator('link[rel="icon"]').get_attribute("href")
            assert page.locator('meta[name="description"]').get_attribute("content")
        served = page.request.get(icon)
        assert served.status == 200 and served.headers["content-type"].startswith("image/svg+xml")
    finally:
        context.close()
    assert console == [] and missing == []
