"""Accessibility of the patient pages, checked by axe-core in a real browser.

Every page a patient meets while booking and managing a visit (including the form with
field errors, the "that time was just taken" answer and a 404) is run through axe-core's
WCAG 2.1 A and AA rules, on a phone and on a desktop screen, in English and in Spanish.
Any violation fails the test, and all of them are listed.

axe-core comes from npm (package.json, installed into node_modules/ by scripts/setup). The
app's Content-Security-Policy allows no inline scripts, so these contexts bypass it to inject
axe; the policy itself is tested elsewhere.
"""
from __future__ import annotations

import re
from itertools import count
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from .support import ROOT, LiveServer, migrate, require_or_skip, seed_demo_clinic
from .test_browser import CHROMIUM, CHROMIUM_ARGS, PHONE

pytestmark = pytest.mark.browser

AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_OPTIONS = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
DESKTOP = dict(viewport={"width": 1280, "height": 800}, locale="en-US")
SCREENS = {"phone": PHONE, "desktop": DESKTOP}
PHONE_NUMBERS = (f"915-555-{n:04d}" for n in count(1301))


@pytest.fixture(scope="module")
def sync_api():
    if not CHROMIUM.exists():
        require_or_skip("Debian's chromium at /usr/bin/chromium")
    if not AXE_JS.exists():
        require_or_skip("node_modules/axe-core (scripts/setup runs npm ci)")
    try:
        from playwright import sync_api
    except ImportError:  # pragma: no cover - playwright is in requirements-dev.txt
        require_or_skip("the playwright package")
    return sync_api


@pytest.fixture(scope="module")
def live(sync_api, tmp_path_factory):
    path = tmp_path_factory.mktemp("a11y") / "scheduler.db"
    url = f"sqlite:///{path}"
    migrate(url)
    seed_demo_clinic(url)
    server = LiveServer(url, workers=1, threads=4)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(sync_api, live):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Audit:
    """Opens pages in one browser context and runs axe on each; keeps every violation."""

    def __init__(self, page, language: str):
        self.page = page
        self.language = language
        self.checked: list[str] = []
        self.violations: dict[str, list[dict]] = {}

    def go(self, url: str, status: int = 200):
        response = self.page.goto(url)
        assert response.status == status, f"{url}: {response.status}"

    def follow(self, action, status: int = 200):
        """Clicks or submits, waits for the next page and checks its status."""
        with self.page.expect_navigation() as navigation:
            action()
        response = navigation.value
        assert response.status == status, f"{response.url}: {response.status}"

    def check(self, name: str) -> None:
        page = self.page
        assert page.locator("html").get_attribute("lang") == self.language, name
        assert page.locator("h1").count() == 1, name
        page.add_script_tag(path=str(AXE_JS))
        found = page.evaluate("async options => (await axe.run(document, options)).violations", AXE_OPTIONS)
        self.checked.append(name)
        if found:
            self.violations[f"{name} ({urlsplit(page.url).path})"] = found

    def report(self) -> str:
        lines = []
        for where, violations in self.violations.items():
            lines.append(f"== {where}")
            for v in violations:
                lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
                for node in v["nodes"][:5]:
                    summary = " / ".join(s.strip() for s in (node.get("failureSummary") or "").splitlines()[1:])
                    lines.append(f"    {' '.join(map(str, node['target']))}: {summary}")
                    lines.append(f"      {node['html'][:160]}")
                if len(v["nodes"]) > 5:
                    lines.append(f"    ... and {len(v['nodes']) - 5} more")
        return "\n".join(lines)


def _details_args(url: str) -> tuple[str, str, str, str]:
    """service slug, start and preferred provider from a first-available details URL."""
    parts = urlsplit(url)
    match = re.fullmatch(r"/book/([^/]+)/any/details", parts.path)
    assert match, url
    query = parse_qs(parts.query)
    return match.group(1), query["start"][0], query["prefer"][0], parts.query


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
def test_patient_pages_have_no_wcag_violations(browser, live, screen, language):
    context = browser.new_context(base_url=live.url, bypass_csp=True, **SCREENS[screen])
    context.set_default_timeout(10_000)
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

        slug, start, prefer, _ = _details_args(page.url)
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
        move = page.locator(f"a.button[href$='{urlsplit(page.url).path}/reschedule']")
        audit.follow(lambda: move.click())
        audit.check("reschedule days")
        audit.follow(lambda: page.locator("a.day").first.click())
        assert page.locator("input[type=radio][name=start]").count() > 0
        audit.check("reschedule times")

        audit.go("/no-such-page", status=404)
        audit.check("not found")
    finally:
        context.close()

    assert len(audit.checked) == 12
    assert server_errors == []
    assert not audit.violations, f"axe found WCAG violations ({screen}, {language}):\n{audit.report()}"


def test_axe_reports_a_violation(browser, live):
    """The checker is live: a page with an unlabelled field and faint text has violations."""
    context = browser.new_context(base_url=live.url, bypass_csp=True, **DESKTOP)
    page = context.new_page()
    try:
        page.set_content(
            '<html lang="en"><head><title>t</title></head><body><main><h1>Form</h1>'
            '<input id="x"><p style="color:#bbb">faint</p></main></body></html>'
        )
        audit = Audit(page, "en")
        audit.check("broken page")
    finally:
        context.close()
    rules = {v["id"] for violations in audit.violations.values() for v in violations}
    assert {"label", "color-contrast"} <= rules, sorted(rules)
    assert "label" in audit.report() and "#x" in audit.report()
