"""Every public page shows the office and cell numbers and the scope-of-practice disclaimer,
and has a favicon and a meta description."""
from __future__ import annotations

import re

from flask import current_app

from scheduler.services.clinic.contact import load_disclaimer
from scheduler.web.common.site import CONTENT_SECURITY_POLICY
from tests.support.factories import patient_payload
from tests.support.helpers import set_clinic_details
from tests.support.pages import public_html_urls


def _assert_chrome(html: str, url: str) -> None:
    disclaimer = load_disclaimer(current_app.config["CLINIC_DISCLAIMER_FILE"], "en")
    for needle in ("915-850-0900", "915-540-8444", 'href="tel:+19158500900"', 'href="tel:+19155408444"',
                   disclaimer.heading, disclaimer.paragraphs[0][:80]):
        assert needle in html, f"{needle!r} missing on {url}"


def test_every_public_page_has_numbers_and_disclaimer(demo, client):
    booked = client.post("/api/v1/bookings", json={
        "service": "initial-evaluation", "provider_id": None, "start": "2026-12-01T13:00:00-07:00",
        "patient": patient_payload(),
    })
    assert booked.status_code == 201, booked.get_json()
    token = booked.get_json()["manage_url"].rsplit("/", 1)[1]
    urls = public_html_urls(demo, token) + [
        "/book/initial-evaluation/any/details?start=2026-12-01T14:00:00-07:00",
        "/book/initial-evaluation/any/details?start=nonsense",  # 400 page
        "/no-such-page",                                          # 404 page
        "/appointments/forged-token",                              # 404 page
    ]
    assert len(urls) >= 12
    for url in urls:
        response = client.get(url, follow_redirects=True)  # /staff/ leads to the sign-in page
        assert response.status_code < 500, url
        _assert_chrome(response.get_data(as_text=True), url)
    # Error re-renders and conflicts carry them too.
    conflict = client.post("/book/initial-evaluation/1/details", data={"start": "2026-12-01T13:00:00-07:00"})
    assert conflict.status_code in (409, 422)
    _assert_chrome(conflict.get_data(as_text=True), "POST details")


def test_every_public_page_has_a_favicon_and_a_description_in_its_language(demo, client):
    """A missing favicon is a 404 in the console of every page; the icon is one of the app's
    static files, so the Content-Security-Policy stays as it is."""
    urls = public_html_urls(demo, "forged-token") + ["/no-such-page"]
    descriptions = {}
    for language in ("en", "es"):
        for url in urls:
            response = client.get(url + ("&" if "?" in url else "?") + f"lang={language}", follow_redirects=True)
            html = response.get_data(as_text=True)
            assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, url
            icons = re.findall(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
            assert len(icons) == 1, url
            described = re.findall(r'<meta name="description" content="([^"]+)">', html)
            assert len(described) == 1 and len(described[0]) >= 50, url
            if not url.startswith("/staff"):  # staff pages are English whatever is asked
                descriptions.setdefault(language, set()).update(described)
    with client.get(icons[0]) as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    assert all(len(found) == 1 for found in descriptions.values())
    assert descriptions["en"] != descriptions["es"]
    assert "Reserve" in next(iter(descriptions["es"]))


def test_disclaimer_comes_from_the_current_clinic_details(demo, client):
    # The first version is seeded from the content files (checked above on every page).
    set_clinic_details(disclaimer_en="Our own heading\n\nA paragraph the clinic edited itself.\n")
    html = client.get("/").get_data(as_text=True)
    assert "Our own heading" in html and "A paragraph the clinic edited itself." in html


def test_numbers_come_from_the_current_clinic_details(demo, client):
    set_clinic_details(office_phone="915-555-0100")
    html = client.get("/").get_data(as_text=True)
    assert 'href="tel:+19155550100"' in html and "915-555-0100" in html


def test_error_pages_are_patient_friendly_in_both_languages(demo, client):
    wrong_method = client.delete("/")
    assert wrong_method.status_code == 405
    assert "That action is not available on this page." in wrong_method.get_data(as_text=True)
    spanish = client.delete("/?lang=es")
    assert spanish.status_code == 405 and "Method Not Allowed" not in spanish.get_data(as_text=True)
    api = client.put("/api/v1/services")
    assert api.status_code == 405 and api.get_json()["error"] == "method_not_allowed"
