"""Spanish for patients: the catalogue is complete and compiled, and every page and API message follows the language."""
from __future__ import annotations

import html as html_lib
import re
from io import BytesIO

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from tests.support.factories import patient_payload
from tests.support.helpers import ROOT
from tests.support.pages import public_html_urls

TRANSLATIONS = ROOT / "scheduler" / "translations"
ES_PO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.po"
ES_MO = TRANSLATIONS / "es" / "LC_MESSAGES" / "messages.mo"
# The same keywords as the documented `pybabel extract -k N_ -k lazy_gettext` command.
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None, "lazy_gettext": None}

SPANISH_HEADING = "Alcance de la práctica profesional"
ENGLISH_HEADING = "Professional Scope of Practice"
SLOT = "2026-12-01T13:00:00-07:00"  # Tuesday, an opening in the demo clinic


def _read_po(path) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f)


def _key(value):
    return tuple(value) if isinstance(value, list | tuple) else value


def _messages(catalog: Catalog) -> dict:
    return {_key(m.id): _key(m.string) for m in catalog if m.id}


def _translated(string) -> bool:
    strings = string if isinstance(string, tuple | list) else (string,)
    return all(isinstance(s, str) and s.strip() for s in strings)


@pytest.fixture(scope="module")
def fresh_catalogue(tmp_path_factory) -> Catalog:
    """The messages the code and templates use today, extracted the way babel.cfg says."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    catalog = Catalog(locale=None)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    assert not any(f.startswith(".venv") for m in catalog for f, _line in m.locations)
    return catalog


@pytest.fixture(scope="module")
def es_catalogue() -> Catalog:
    return _read_po(ES_PO)


# --- the catalogue -----------------------------------------------------------------------


def test_every_extracted_message_has_a_spanish_translation(fresh_catalogue, es_catalogue):
    es = {m.id: m for m in es_catalogue if m.id}
    assert len(fresh_catalogue) > 50  # the extraction really found the templates and the code
    problems = []
    for message in fresh_catalogue:
        if not message.id:
            continue
        found = es.get(message.id)
        if found is None:
            problems.append(f"missing: {message.id!r}")
        elif not _translated(found.string):
            problems.append(f"empty: {message.id!r}")
        elif found.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
    assert not problems, "re-extract and update the es catalogue (see babel.cfg):\n" + "\n".join(problems)


def test_the_template_pot_is_current(fresh_catalogue):
    pot = _read_po(TRANSLATIONS / "messages.pot")
    assert {_key(m.id) for m in fresh_catalogue if m.id} == {_key(m.id) for m in pot if m.id}


def test_spanish_catalogue_passes_babels_checks(es_catalogue):
    # Placeholders such as %(office)s must survive translation, plural forms must all be there.
    errors = [(m.id, [str(e) for e in errs]) for m, errs in es_catalogue.check()]
    assert not errors
    assert es_catalogue.num_plurals == 2
    assert not [m.id for m in es_catalogue if m.id and m.fuzzy]


def test_committed_mo_is_compiled_from_the_po(es_catalogue):
    compiled = BytesIO()
    write_mo(compiled, es_catalogue)
    compiled.seek(0)
    with open(ES_MO, "rb") as f:
        committed = read_mo(f)
    fresh = read_mo(compiled)
    assert _messages(committed) == _messages(fresh), (
        "messages.mo is stale: pybabel compile -d scheduler/translations"
    )
    assert _messages(committed)["Book a visit"] == "Agende una cita"


# --- pages -----------------------------------------------------------------------------


def _html(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def _book(client) -> str:
    response = client.post("/api/v1/bookings", json={
        "service": "initial-evaluation", "provider_id": None, "start": SLOT, "patient": patient_payload(),
    })
    assert response.status_code == 201, response.get_json()
    return response.get_json()["manage_url"].rsplit("/", 1)[1]


def test_lang_parameter_switches_to_spanish_and_is_remembered(demo, client):
    home = _html(client.get("/?lang=es"))
    assert '<html lang="es">' in home
    assert "Agende una cita" in home and "Book a visit" not in home
    assert "Evaluación inicial" in home and "60 minutos" in home
    assert SPANISH_HEADING in home and ENGLISH_HEADING not in home
    assert 'href="?lang=en"' in home  # the way back to English

    # No ?lang on the next pages: the session remembers the choice.
    days = _html(client.get("/book/initial-evaluation/any"))
    assert '<html lang="es">' in days
    assert "Elija un día" in days and "Choose a day" not in days
    # Each day tile starts with its weekday, capitalised as the start of a line.
    for word in ("Lunes", "Martes", "diciembre", "noviembre"):
        assert word in days, word
    assert "Monday" not in days and "December" not in days
    assert re.search(r"\d+ horas? disponibles?", days)
    assert "Sin horas disponibles" in days  # the weekend

    times = _html(client.get("/book/initial-evaluation/any/2026-12-01"))
    assert "Martes, 1 de diciembre de 2026" in times  # the heading starts with the date
    assert "hora de la clínica" in times

    details = _html(client.get(f"/book/initial-evaluation/any/details?start={SLOT}"))
    assert "Sus datos" in details and "Teléfono celular" in details and "Agendar cita" in details
    assert "Martes" in details and "diciembre" in details

    back = _html(client.get("/?lang=en"))
    assert '<html lang="en">' in back and "Book a visit" in back and ENGLISH_HEADING in back
    assert "Book a visit" in _html(client.get("/"))  # and English is remembered too


def test_accept_language_picks_spanish(demo, client):
    page = _html(client.get("/book/initial-evaluation/any", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}))
    assert '<html lang="es">' in page
    assert "Elija un día" in page and "Lunes" in page and "diciembre" in page
    assert SPANISH_HEADING in page

    english = _html(client.get("/book/initial-evaluation/any", headers={"Accept-Language": "en-US,en;q=0.9"}))
    assert '<html lang="en">' in english and "Choose a day" in english and "Monday" in english

    # An explicit choice outranks the browser's preference.
    client.get("/?lang=en")
    chosen = _html(client.get("/", headers={"Accept-Language": "es-MX"}))
    assert '<html lang="en">' in chosen and "Book a visit" in chosen


def test_booking_flow_and_manage_link_in_spanish(demo, client):
    client.get("/?lang=es")
    invalid = client.post("/book/initial-evaluation/any/details", data={
        "start": SLOT, "first_name": "", "last_name": "Garcia", "phone": "555-12", "email": "no",
    })
    assert invalid.status_code == 422
    page = _html(invalid)
    assert "Hay un problema" in page
    assert "Por favor, escriba un nombre." in page
    assert "Please enter" not in page

    booked = client.post("/book/initial-evaluation/any/details", data={
        "start": SLOT, "first_name": "Ana", "last_name": "Garcia", "phone": "915-555-0123",
        "email": "ana@example.com", "sms_opt_in": "yes",
    })
    assert booked.status_code == 303
    confirmation = _html(client.get(booked.headers["Location"]))
    assert "¡Su cita está agendada!" in confirmation
    assert "Martes" in confirmation and "diciembre" in confirmation and "2026" in confirmation
    assert "Agendada" in confirmation and "Tiene hasta el lunes" in confirmation

    manage_path = booked.headers["Location"].removesuffix("/booked")
    cancelled = client.post(f"{manage_path}/cancel", data={"reason": ""}, follow_redirects=True)
    page = _html(cancelled)
    assert "Su cita quedó cancelada." in page and "Cancelada" in page


def test_too_late_to_change_online_in_spanish(demo, client, clock):
    token = _book(client)
    clock.advance(hours=28)  # Tuesday 12:00, an hour before the visit
    page = _html(client.get(f"/appointments/{token}?lang=es"))
    assert "Su cita está muy próxima y ya no se puede cambiar en línea." in page
    assert "Llamar a la oficina" in page
    refused = client.post(f"/appointments/{token}/cancel", data={})
    assert refused.status_code == 409
    assert "Su cita está muy próxima y ya no se puede cambiar en línea. Por favor, llámenos." in _html(refused)


def test_error_pages_in_spanish(demo, client):
    missing = client.get("/no-such-page?lang=es")
    assert missing.status_code == 404
    page = _html(missing)
    assert "No encontramos esa página." in page and "Lo sentimos" in page and SPANISH_HEADING in page
    bad_day = client.get("/book/initial-evaluation/any/not-a-day")
    assert bad_day.status_code == 400 and "Esa fecha no es válida." in _html(bad_day)


def _english_phrases(es_catalogue: Catalog) -> list[str]:
    """Every translated English message without placeholders whose Spanish differs from it."""
    phrases = []
    for message in es_catalogue:
        if not message.id or message.pluralizable or "%" in message.id:
            continue
        if message.string and message.string != message.id:
            phrases.append(message.id)
    return phrases


def test_no_english_left_on_any_page_in_spanish(demo, client, clock, es_catalogue):
    token = _book(client)
    # Chosen on the patient's own link: the private pages follow her choice, not only the
    # language stored with her record, and the public pages follow too.
    client.get(f"/appointments/{token}?lang=es")
    # The staff's sign-in page is English, as every staff page is.
    urls = [url for url in public_html_urls(demo, token) if not url.startswith("/staff")] + [
        f"/book/initial-evaluation/any/details?start={SLOT.replace('13:00', '14:00')}",
        "/book/initial-evaluation/any/details?start=nonsense",
        f"/appointments/{token}/booked",
        f"/appointments/{token}/reschedule/2026-12-02",
        "/no-such-page",
        "/appointments/forged-token",
    ]
    phrases = _english_phrases(es_catalogue)
    assert {"Book a visit", "Choose a day", "Choose a time", "Questions? Call us"} <= set(phrases)
    patterns = [(p, re.compile(rf"(?<![\w-]){re.escape(p)}(?![\w-])")) for p in phrases]
    checked = 0
    for url in urls:
        response = client.get(url, follow_redirects=True)
        if response.status_code in (301, 302, 303):
            continue
        page = _html(response)
        assert '<html lang="es">' in page, url
        assert SPANISH_HEADING in page, url
        leftovers = [phrase for phrase, pattern in patterns if pattern.search(page)]
        assert not leftovers, f"English on {url}: {leftovers}"
        checked += 1
    assert checked >= 12


# --- the JSON API ------------------------------------------------------------------------


def test_api_validation_messages_follow_accept_language(demo, client):
    bad = {"service": "initial-evaluation", "start": SLOT,
           "patient": patient_payload(first_name="", phone="555-12", email="not-an-email")}
    english = client.post("/api/v1/bookings", json=bad, headers={"Accept-Language": "en"})
    spanish = client.post("/api/v1/bookings", json=bad, headers={"Accept-Language": "es"})
    assert english.status_code == spanish.status_code == 422
    en_fields, es_fields = english.get_json()["fields"], spanish.get_json()["fields"]
    assert set(en_fields) == set(es_fields) and len(es_fields) >= 3
    for key in en_fields:
        assert en_fields[key] != es_fields[key], key
    assert "Por favor, escriba un nombre." in es_fields.values()
    assert "Por favor, escriba un correo electrónico válido." in es_fields.values()

    range_check = client.get("/api/v1/availability?service=initial-evaluation", headers={"Accept-Language": "es"})
    assert range_check.status_code == 422
    assert range_check.get_json()["fields"] == {
        "start": "Obligatorio, en formato AAAA-MM-DD.", "end": "Obligatorio, en formato AAAA-MM-DD.",
    }

    not_json = client.post("/api/v1/bookings", data="x", headers={"Accept-Language": "es-MX"})
    assert not_json.get_json()["fields"]["body"] == "Envíe un objeto JSON con Content-Type: application/json."

    gone = client.get("/api/v1/bookings/forged-token", headers={"Accept-Language": "es"})
    assert gone.status_code == 404 and gone.get_json()["message"] == "Este enlace no es válido o ya venció."


def test_spanish_dates_use_spanish_word_order_and_12_hour_times(client, demo):
    days = client.get("/book/initial-evaluation/any?lang=es").get_data(as_text=True)
    assert "1 de diciembre" in days and "diciembre 1" not in days
    times = client.get("/book/initial-evaluation/1/2026-12-01").get_data(as_text=True)
    assert "8:00\u202fa.m." in times or "8:00 a.m." in times
    assert "1:00\u202fp.m." in times or "1:00 p.m." in times
    english = client.get("/book/initial-evaluation/1/2026-12-01?lang=en").get_data(as_text=True)
    assert "1:00\u202fPM" in english
