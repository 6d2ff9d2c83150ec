"""Accessibility of the patient pages, checked by axe-core in a real browser.

Every page a patient meets while booking and managing a visit (including the form with
field errors, the "that time was just taken" answer and a 404) is run through axe-core's
WCAG 2.1 A and AA rules, on a phone and on a desktop screen, in English and in Spanish.
Any violation fails the test, and all of them are listed.

axe-core comes from npm (package.json, installed into node_modules/ by scripts/setup). It is
added to each page as a browser-context init script: the browser runs those itself, outside the
page's strict Content-Security-Policy (no inline scripts), so the pages are checked exactly as
served, CSP included, and nothing has to be injected after each load.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from itertools import count
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from tests.support.axe import AXE_JS, DESKTOP, Audit, axe_context
from tests.support.browser import PHONE, module_fixtures
from tests.support.helpers import ROOT

pytestmark = pytest.mark.browser

SCREENS = {"phone": PHONE, "desktop": DESKTOP}
PHONE_NUMBERS = (f"915-555-{n:04d}" for n in count(1301))


sync_api, live, browser = module_fixtures("a11y", (AXE_JS, "node_modules/axe-core (scripts/setup runs npm ci)"))


@pytest.fixture(scope="module")
def staff_user(live):
    """A front-desk account on the live server's database, made the way an admin would."""
    email, password = "desk@example.com", "a long enough password"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{live.db_path}", "FLASK_APP": "wsgi"}
    subprocess.run([sys.executable, "-m", "flask", "create-user", email, "--role", "front_desk"],
                   input=password + "\n", text=True, cwd=ROOT, env=env, check=True, capture_output=True)
    return email, password


def _details_args(url: str) -> tuple[str, str, str]:
    """service slug, start and preferred provider from a first-available details URL."""
    parts = urlsplit(url)
    match = re.fullmatch(r"/book/([^/]+)/any/details", parts.path)
    assert match, url
    query = parse_qs(parts.query)
    return match.group(1), query["start"][0], query["prefer"][0]


def _fill_details(page, *, phone: str, email: str) -> None:
    page.locator("#first_name").fill("Rosa")
    page.locator("#last_name").fill("Mendez")
    page.locator("#phone").fill(phone)
    page.locator("#email").fill(email)


def _book_via_api(live, slug: str, provider_id: str, start: str) -> None:
    phone = next(PHONE_NUMBERS)
    response = requests.post(
        f"{live.url}/api/v1/bookings",
        json={
            "service": slug, "provider_id": int(provider_id), "start": start,
            "patient": {"first_name": "Other", "last_name": "Patient", "phone": phone,
                        "email": f"other.{phone}@example.com", "sms_opt_in": False},
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("screen", list(SCREENS))
def test_patient_pages_have_no_wcag_violations(browser, live, staff_user, screen, language):
    context = axe_context(browser, live, SCREENS[screen])
    page = context.new_page()
    server_errors = []
    page.on("response", lambda r: r.status >= 500 and server_errors.append(r.url))
    audit = Audit(page, language)
    try:
        # Booking: service, who, day, time, details.
        audit.go("/?lang=es" if language == "es" else "/")
        audit.check("service list")
        audit.follow(lambda: page.locator("a.choice").first.click())
        audit.check("provider choice")
        audit.follow(lambda: page.locator("a.choice-primary").click())
        audit.check("day list")
        # The last day shown is about two weeks out: far enough ahead to move online.
        audit.follow(lambda: page.locator("a.day").last.click())
        audit.check("time list")
        audit.follow(lambda: page.locator("a.time").first.click())
        audit.check("details form")
        switch = page.locator("nav.lang a")
        assert "start=" in switch.get_attribute("href"), "the language switch keeps the chosen time"

        slug, start, prefer = _details_args(page.url)
        _fill_details(page, phone="555-12", email="not-an-email")
        audit.follow(lambda: page.locator("form button[type=submit]").click(), status=422)
        for field in ("#phone", "#email"):
            assert page.locator(field).get_attribute("aria-invalid") == "true", field
        audit.check("details form with field errors")

        # Someone else takes the time first: the form comes back with the nearest times.
        _book_via_api(live, slug, prefer, start)
        audit.go(f"/book/{slug}/{prefer}/details?" + urlencode({"start": start}))
        phone = next(PHONE_NUMBERS)
        _fill_details(page, phone=phone, email=f"rosa.{phone}@example.com")
        audit.follow(lambda: page.locator("form button[type=submit]").click(), status=409)
        assert page.locator("input[type=radio][name=start]").count() > 0, "alternatives are offered"
        audit.check("details form after a conflict")

        # Book the first alternative (the details are kept).
        audit.follow(lambda: page.locator("form button[type=submit]").click())
        assert re.search(r"/appointments/[^/]+/booked$", page.url), page.url
        audit.check("confirmation")

        audit.follow(lambda: page.locator("a.private-link").click())
        audit.check("manage")
        manage_path = urlsplit(page.url).path
        audit.follow(lambda: page.locator(f"a.button[href$='{manage_path}/cancel']").click())
        audit.check("cancel confirmation")
        audit.go(manage_path)
        move = page.locator(f"a.button[href$='{manage_path}/reschedule']")
        audit.follow(lambda: move.click())
        audit.check("reschedule days")
        audit.follow(lambda: page.locator("a.day").first.click())
        assert page.locator("input[type=radio][name=start]").count() > 0
        audit.check("reschedule times")
        audit.follow(lambda: page.locator("form button[type=submit]").click(), status=422)
        assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
        audit.check("reschedule times, nothing chosen")

        audit.go(manage_path[:-4], status=404)
        audit.check("link cut short")
        page.locator("#contact").fill("not a number")
        audit.follow(lambda: page.locator("form.send-link button[type=submit]").click(), status=422)
        audit.check("send my link, with an error")

        audit.go("/no-such-page", status=404)
        audit.check("not found")
        audit.go(f"/book/{slug}/any/waitlist")
        audit.check("waitlist form")
        audit.follow(lambda: page.locator("form button[type=submit]").click(), status=422)
        audit.check("waitlist form with field errors")

        # Staff: sign-in and the day sheet of the booked day (staff pages are English).
        audit.go("/staff/login")
        audit.check("staff sign-in", language="en")
        page.locator("#email").fill(staff_user[0])
        page.locator("#password").fill(staff_user[1])
        audit.follow(lambda: page.locator("form button[type=submit]").click())
        audit.go(f"/staff/?date={start[:10]}")
        assert page.locator("li.visit").count() >= 2
        audit.check("staff day sheet", language="en")
        audit.go("/staff/waitlist")  # the desk's waitlist page
        audit.check("staff waitlist", language="en")
        audit.go("/staff/waitlist?query=ga")  # the patient search that picks whom to add
        audit.check("staff waitlist, patient search", language="en")
        audit.go("/staff/patients/")  # recent patients before any search
        audit.check("staff patients", language="en")
    finally:
        context.close()

    assert len(audit.checked) == 23
    assert server_errors == []
    if audit.violations:
        pytest.fail(f"axe found WCAG violations ({screen}, {language}):\n{audit.report()}")


def test_axe_reports_a_violation(browser, live):
    """The checker is live, under the app's CSP: an unlabelled field and faint text are reported."""
    context = axe_context(browser, live, DESKTOP)
    page = context.new_page()
    broken = (
        '<!doctype html><html lang="en"><head><title>Broken</title></head><body><main><h1>Form</h1>'
        '<input id="x"><p>faint</p></main></body></html>'
    )
    csp = requests.get(live.url + "/", timeout=5).headers["Content-Security-Policy"]
    page.route("**/broken", lambda route: route.fulfill(
        status=200, content_type="text/html", body=broken, headers={"Content-Security-Policy": csp}))
    try:
        page.goto("/broken")
        page.evaluate("document.querySelector('p').style.color = '#bbb'")  # CSSOM, which the CSP allows
        audit = Audit(page, "en")
        audit.check("broken page")
    finally:
        context.close()
    rules = {v["id"] for violations in audit.violations.values() for v in violations}
    assert {"label", "color-contrast"} <= rules, sorted(rules)
    assert "label" in audit.report() and "#x" in audit.report()


# The focused element's outline against the first opaque background behind it (WCAG 1.4.11:
# a focus indicator needs 3:1 against what is next to it). axe does not look at focus styles.
FOCUS_RING = r"""() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const rgba = c => c.match(/[\d.]+/g).map(Number);
  let behind = [255, 255, 255];
  for (let node = el.parentElement; node; node = node.parentElement) {
    const c = rgba(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] > 0) { behind = c; break; }
  }
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const [a, b] = [lum(rgba(style.outlineColor)), lum(behind)];
  return {
    element: el === document.body ? null : el.outerHTML.slice(0, 90).replace(/\s+/g, " "),
    style: style.outlineStyle, width: parseFloat(style.outlineWidth),
    ratio: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
  };
}"""


def _focus_rings(page) -> list[dict]:
    """Tabs through the page from the top; one entry per focus stop."""
    stops = []
    for _ in range(80):
        page.keyboard.press("Tab")
        ring = page.evaluate(FOCUS_RING)
        if ring["element"] is None or (stops and ring["element"] == stops[0]["element"]):
            break
        stops.append(ring)
    return stops


def test_focus_rings_stand_out_on_every_background(browser, live):
    context = browser.new_context(base_url=live.url, **DESKTOP)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        page.goto("/")
        page.locator("a.choice").first.click()
        page.locator("a.choice-primary").click()
        page.locator("a.day").last.click()
        page.wait_for_selector("a.time")
        times = _focus_rings(page)
        with page.expect_navigation():
            page.locator("a.time").first.click()
        details = _focus_rings(page)
    finally:
        context.close()
    stops = times + details
    # Header, time buttons, form fields, footer: all of them were reached.
    assert len(times) > 10 and len(details) > 10, stops
    assert any("textarea" in s["element"] for s in details) and any("button" in s["element"] for s in details)
    weak = [s for s in stops if s["style"] == "none" or s["width"] < 2 or s["ratio"] < 3]
    assert not weak, "focus rings below 3:1 or missing:\n" + "\n".join(
        f"  {s['ratio']:.2f}:1 {s['style']} {s['width']}px {s['element']}" for s in weak
    )
