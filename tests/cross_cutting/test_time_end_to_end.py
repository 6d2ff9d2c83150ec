"""Time zone and daylight-saving correctness through the HTTP layer.

The clinic is in America/Denver. Clocks fall back on 2026-11-01 (02:00 MDT -> 01:00 MST,
a 25-hour day) and spring forward on 2027-03-14 (02:00 MST -> 03:00 MDT, a 23-hour day).
The pure planner has its own property tests; these prove that the API, the booking and
manage pages, the calendar file and the staff views keep wall times and real durations
straight on both sides of each change.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

from scheduler.extensions import db
from scheduler.models import Appointment
from scheduler.services.staff.accounts import create_user, issue_api_token
from tests.support.factories import make_closure, make_provider, make_service, patient_payload

DENVER = ZoneInfo("America/Denver")
MDT, MST = "-06:00", "-07:00"
FALL_BACK, SPRING_FORWARD = date(2026, 11, 1), date(2027, 3, 14)
DAYTIME = ((time(8), time(12)), (time(13), time(17)))
# Works through both changeover nights: the small hours and the late evening.
NIGHT = ((time(0), time(5)), (time(21), time(23, 59)))
NIGHT_MINUTES, NIGHT_STEP = 20, 30
PASSWORD = "a long enough password"


def denver(y, m, d, h=0, minute=0, *, fold=0) -> datetime:
    """An instant (UTC) from a Denver wall time."""
    return datetime(y, m, d, h, minute, tzinfo=DENVER, fold=fold).astimezone(UTC)


def instant(iso: str) -> datetime:
    parsed = datetime.fromisoformat(iso)
    assert parsed.tzinfo is not None, iso
    return parsed.astimezone(UTC)


def starts_in_window(day: date, opens: time, closes: time, minutes: int, step: int) -> int:
    """How many starts fit a window on a day, measured in real minutes (independent of the app)."""
    length = (datetime.combine(day, closes, tzinfo=DENVER).astimezone(UTC)
              - datetime.combine(day, opens, tzinfo=DENVER).astimezone(UTC))
    usable = length - timedelta(minutes=minutes)
    return usable // timedelta(minutes=step) + 1 if usable >= timedelta(0) else 0


def openings_per_day(day: date, windows, minutes: int, step: int) -> int:
    return sum(starts_in_window(day, opens, closes, minutes, step) for opens, closes in windows)


@pytest.fixture
def clinic(app):
    """A daytime provider who also works weekends (so the changeover Sunday is a working day),
    a night provider, a 60 + 15 minute evaluation and a short night visit."""

    class Clinic:
        day = make_provider("Maria Lopez, PT", windows=DAYTIME, weekdays=range(7))
        night = make_provider("Nora Vega, DC", windows=NIGHT, weekdays=range(7))
        evaluation = make_service(max_advance_days=200)
        night_visit = make_service(
            "night", name="Night check", duration_minutes=NIGHT_MINUTES, buffer_minutes=0,
            slot_step_minutes=NIGHT_STEP, max_advance_days=200,
        )

    return Clinic


_phones = iter(range(100, 10_000))


def book(client, provider_id, start, *, service="evaluation", first_name="Ana", expect=201) -> dict:
    body = {
        "service": service, "provider_id": provider_id, "start": start,
        "patient": patient_payload(first_name=first_name, phone=f"915-555-{next(_phones):04d}"),
    }
    response = client.post("/api/v1/bookings", json=body)
    assert response.status_code == expect, (start, response.get_json())
    return response.get_json()


def availability(client, service, provider_id, first: date, last: date) -> list[dict]:
    response = client.get(
        f"/api/v1/availability?service={service}&provider={provider_id}&start={first}&end={last}")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["timezone"] == "America/Denver"
    return response.get_json()["slots"]


def by_day(slots: list[dict]) -> dict[str, list[str]]:
    days: dict[str, list[str]] = {}
    for slot in slots:
        days.setdefault(slot["start"][:10], []).append(slot["start"])
    return days


def path_of(url: str) -> str:
    return url.removeprefix("http://localhost")


def day_counts(html: str) -> dict[str, int]:
    """Openings per day from a day list: linked days carry a count, the others "No openings"."""
    counts = {}
    for item in re.findall(r"<li>(.*?)</li>", html, flags=re.S):
        linked = re.search(r'href="[^"]*/(\d{4}-\d{2}-\d{2})(?:\?[^"]*)?"', item)
        if linked:
            counts[linked.group(1)] = int(re.search(r"(\d+) opening", item).group(1))
        elif "No openings" in item:
            month_day = re.search(r'class="day-date">\s*([^<]+?)\s*<', item).group(1)
            counts[month_day] = 0
    return counts


# --- 1. availability across each change -------------------------------------------------------

CHANGES = {
    "fall back": dict(now=denver(2026, 10, 29, 8), days=[date(2026, 10, 30) + timedelta(days=i) for i in range(4)],
                      change=FALL_BACK, before=MDT, after=MST, day_hours=25),
    "spring forward": dict(now=denver(2027, 3, 11, 8), days=[date(2027, 3, 12) + timedelta(days=i) for i in range(4)],
                           change=SPRING_FORWARD, before=MST, after=MDT, day_hours=23),
}


@pytest.mark.parametrize("name", CHANGES)
def test_api_availability_keeps_wall_times_across_the_change(client, clock, clinic, name):
    case = CHANGES[name]
    clock.now = case["now"]
    days = case["days"]
    per_day = by_day(availability(client, "evaluation", clinic.day.id, days[0], days[-1]))
    assert sorted(per_day) == [d.isoformat() for d in days]
    expected = openings_per_day(days[0], DAYTIME, 60, 15)
    assert expected == 26
    wall_times = None
    for day in days:
        starts = per_day[day.isoformat()]
        offset = case["before"] if day < case["change"] else case["after"]
        assert all(s.endswith(offset) for s in starts), (day, offset)
        # The first and last starts and the 09:00 opening are the same wall times every day,
        # the day of the change included, and it has the ordinary number of openings.
        assert starts[0] == f"{day}T08:00:00{offset}" and starts[-1] == f"{day}T16:00:00{offset}"
        assert f"{day}T09:00:00{offset}" in starts
        assert len(starts) == expected, day
        walls = [s[11:19] for s in starts]
        assert wall_times in (None, walls)
        wall_times = walls
    nine = [instant(f"{d}T09:00:00{case['before'] if d < case['change'] else case['after']}") for d in days]
    # Nine o'clock the day before the change to nine o'clock on it is 25 (or 23) real hours.
    change_index = days.index(case["change"])
    assert nine[change_index] - nine[change_index - 1] == timedelta(hours=case["day_hours"])
    assert nine[change_index + 1] - nine[change_index] == timedelta(hours=24)


def test_every_slot_lasts_its_duration_in_real_time_over_the_changeover_nights(client, clock, clinic):
    clock.now = denver(2026, 10, 20, 8)
    slots = availability(client, "night", clinic.night.id, FALL_BACK, FALL_BACK)
    assert slots and all(instant(s["end"]) - instant(s["start"]) == timedelta(minutes=NIGHT_MINUTES) for s in slots)
    # Both passes of 01:00-01:59 are offered, each with its own offset.
    assert [s["start"][11:16] for s in slots].count("01:30") == 2
    clock.now = denver(2027, 3, 1, 8)
    slots = availability(client, "night", clinic.night.id, SPRING_FORWARD, SPRING_FORWARD)
    assert slots and all(instant(s["end"]) - instant(s["start"]) == timedelta(minutes=NIGHT_MINUTES) for s in slots)
    # 02:00-02:59 does not exist that night: nothing is offered in it, in any notation.
    assert not any(s["start"][11:13] == "02" for s in slots)
    assert all(s["start"].endswith(MST if s["start"][11:13] < "02" else MDT) for s in slots)


@pytest.mark.parametrize("change", [FALL_BACK, SPRING_FORWARD])
def test_a_closure_on_the_changeover_day_closes_exactly_that_local_day(client, clock, clinic, change):
    clock.now = denver(change.year, change.month, change.day) - timedelta(days=10)
    make_closure(change, "Closed for the time change")
    per_day = by_day(availability(client, "night", clinic.night.id, change - timedelta(days=1),
                                  change + timedelta(days=1)))
    before, after = (change - timedelta(days=1)).isoformat(), (change + timedelta(days=1)).isoformat()
    assert change.isoformat() not in per_day
    # The evening before and the small hours after are open, though in UTC they fall on the closed day.
    assert per_day[before][-1][11:19] == "23:30:00" and per_day[after][0][11:19] == "00:00:00"
    assert instant(per_day[before][-1]).date() == change
    assert len(per_day[before]) == len(per_day[after]) == openings_per_day(change + timedelta(days=1), NIGHT,
                                                                              NIGHT_MINUTES, NIGHT_STEP)


# --- 2. naive local starts are clinic wall time; skipped and repeated ones are refused -------------


def test_naive_starts_around_the_fall_change(client, clock, clinic):
    clock.now = denver(2026, 10, 25, 8)
    for naive, expected in (
        ("2026-10-30T09:00:00", "2026-10-30T09:00:00-06:00"),
        ("2026-11-01T09:00:00", "2026-11-01T09:00:00-07:00"),  # the 25-hour day, after 02:00
        ("2026-11-02T09:00:00", "2026-11-02T09:00:00-07:00"),
    ):
        booked = book(client, clinic.day.id, naive)
        assert booked["start"] == expected
        assert instant(booked["end"]) - instant(booked["start"]) == timedelta(minutes=60)

    # The night provider really is working at 01:30 that night, twice.
    night = by_day(availability(client, "night", clinic.night.id, FALL_BACK, FALL_BACK))["2026-11-01"]
    assert "2026-11-01T01:30:00-06:00" in night and "2026-11-01T01:30:00-07:00" in night

    refused = book(client, clinic.night.id, "2026-11-01T01:30:00", service="night", expect=422)
    assert refused["error"] == "validation_failed"
    assert refused["fields"] == {"start": "That local time is skipped or repeated by a daylight-saving change."}
    # With an offset each pass is a different, bookable instant.
    first = book(client, clinic.night.id, "2026-11-01T01:30:00-06:00", service="night", first_name="Primera")
    second = book(client, clinic.night.id, "2026-11-01T01:30:00-07:00", service="night", first_name="Segunda")
    assert first["start"] == "2026-11-01T01:30:00-06:00" and second["start"] == "2026-11-01T01:30:00-07:00"
    assert instant(second["start"]) - instant(first["start"]) == timedelta(hours=1)
    # The same instants written in UTC are the same (now taken) times.
    for taken in ("2026-11-01T07:30:00Z", "2026-11-01T08:30:00+00:00"):
        assert book(client, clinic.night.id, taken, service="night", expect=409)["error"] == "slot_unavailable"
    # An unambiguous time of that night is fine without an offset.
    assert book(client, clinic.night.id, "2026-11-01T03:00:00", service="night")["start"] == "2026-11-01T03:00:00-07:00"


def test_naive_starts_around_the_spring_change(client, clock, clinic):
    clock.now = denver(2027, 3, 8, 8)
    for naive, expected in (
        ("2027-03-13T09:00:00", "2027-03-13T09:00:00-07:00"),
        ("2027-03-14T09:00:00", "2027-03-14T09:00:00-06:00"),  # the 23-hour day, after 03:00
        ("2027-03-15T09:00:00", "2027-03-15T09:00:00-06:00"),
    ):
        assert book(client, clinic.day.id, naive)["start"] == expected

    night = by_day(availability(client, "night", clinic.night.id, SPRING_FORWARD, SPRING_FORWARD))["2027-03-14"]
    assert "2027-03-14T01:30:00-07:00" in night and "2027-03-14T03:30:00-06:00" in night

    refused = book(client, clinic.night.id, "2027-03-14T02:30:00", service="night", expect=422)
    assert refused["fields"] == {"start": "That local time is skipped or repeated by a daylight-saving change."}
    # 02:30-07:00 and 03:30-06:00 name the same instant: both are that (open) time, once.
    moved_on = book(client, clinic.night.id, "2027-03-14T02:30:00-07:00", service="night", first_name="Una")
    assert moved_on["start"] == "2027-03-14T03:30:00-06:00"
    assert book(client, clinic.night.id, "2027-03-14T03:30:00-06:00", service="night", expect=409)["error"] \
        == "slot_unavailable"
    # Before the jump, naive and explicit agree.
    assert book(client, clinic.night.id, "2027-03-14T01:30:00", service="night")["start"] == "2027-03-14T01:30:00-07:00"


def test_the_details_page_refuses_a_skipped_or_repeated_naive_time(client, clock, clinic):
    clock.now = denver(2026, 10, 25, 8)
    for start in ("2026-11-01T01:30:00", "2027-03-14T02:30:00"):
        page = client.get(f"/book/night/{clinic.night.id}/details?start={start}")
        assert page.status_code == 400
        assert "skipped or repeated by a daylight-saving change" in page.get_data(as_text=True)
    assert client.get(f"/book/night/{clinic.night.id}/details?start=2026-11-01T01:30:00-07:00").status_code == 200


# --- 3. booking pages, confirmation, manage page and calendar file ---------------------------------


@pytest.mark.parametrize("name", CHANGES)
def test_day_lists_count_the_openings_of_short_and_long_days(client, clock, clinic, name):
    case = CHANGES[name]
    clock.now = case["now"]
    first = case["days"][0]
    for provider, windows, minutes, step in (
        (clinic.day, DAYTIME, 60, 15),
        (clinic.night, NIGHT, NIGHT_MINUTES, NIGHT_STEP),
    ):
        slug = "evaluation" if provider is clinic.day else "night"
        html = client.get(f"/book/{slug}/{provider.id}?from={first}").get_data(as_text=True)
        counts = day_counts(html)
        for day in case["days"][1:]:  # the first day has partly passed
            assert counts[day.isoformat()] == openings_per_day(day, windows, minutes, step), (slug, day)
    night_counts = day_counts(client.get(f"/book/night/{clinic.night.id}?from={first}").get_data(as_text=True))
    change, ordinary = case["change"], case["change"] + timedelta(days=1)
    # The small-hours window is an hour longer (or shorter) in real time on the changeover night.
    delta = night_counts[change.isoformat()] - night_counts[ordinary.isoformat()]
    assert delta == (2 if case["day_hours"] == 25 else -2)


def test_times_confirmation_manage_and_calendar_after_the_fall_change(client, clock, clinic):
    clock.now = denver(2026, 10, 29, 8)
    times = client.get(f"/book/evaluation/{clinic.day.id}/2026-11-02").get_data(as_text=True)
    starts = re.findall(r'details\?start=([^"&]+)', times)
    assert starts[0] == "2026-11-02T08:00:00-07:00" and "2026-11-02T09:00:00-07:00" in starts
    labels = re.findall(r"\b(\d{1,2}:\d{2}\u202f[AP]M)", times)
    assert labels[:2] == ["8:00\u202fAM", "8:15\u202fAM"] and "4:00\u202fPM" in labels
    friday = client.get(f"/book/evaluation/{clinic.day.id}/2026-10-30").get_data(as_text=True)
    assert re.findall(r'details\?start=([^"&]+)', friday)[0] == "2026-10-30T08:00:00-06:00"
    assert re.findall(r"\b(\d{1,2}:\d{2}\u202f[AP]M)", friday)[0] == "8:00\u202fAM"

    details = client.post(f"/book/evaluation/{clinic.day.id}/details", data={
        "start": "2026-11-02T09:00:00-07:00", "first_name": "Ana", "last_name": "Garcia",
        "phone": "915-555-0123", "email": "ana@example.com"})
    assert details.status_code == 303, details.get_data(as_text=True)
    confirmation = client.get(details.headers["Location"]).get_data(as_text=True)
    when = "Monday, November 2, 2026, 9:00\u202fAM\u201310:00\u202fAM"
    assert when in confirmation
    manage_path = details.headers["Location"].removesuffix("/booked")
    manage = client.get(manage_path).get_data(as_text=True)
    assert when in manage
    assert "until Sunday, November 1, 2026, 9:00\u202fAM." in manage  # 24 real hours earlier, also 09:00

    body = client.get(f"{manage_path}/calendar.ics").data
    assert b"DTSTART:20261102T160000Z" in body and b"DTEND:20261102T170000Z" in body
    calendar = icalendar.Calendar.from_ical(body)
    (event,) = calendar.walk("VEVENT")
    assert event.decoded("dtstart") == denver(2026, 11, 2, 9) == datetime(2026, 11, 2, 16, tzinfo=UTC)
    assert event.decoded("dtend") - event.decoded("dtstart") == timedelta(minutes=60)
    expanded = recurring_ical_events.of(calendar).between(denver(2026, 11, 2), denver(2026, 11, 3))
    assert [e.decoded("dtstart") for e in expanded] == [datetime(2026, 11, 2, 16, tzinfo=UTC)]
    assert recurring_ical_events.of(calendar).between(denver(2026, 11, 1), denver(2026, 11, 2)) == []


def test_calendar_files_for_both_passes_of_the_repeated_hour(client, clock, clinic):
    clock.now = denver(2026, 10, 25, 8)
    expected = {}
    for start in ("2026-11-01T01:30:00-06:00", "2026-11-01T01:30:00-07:00", "2027-03-14T01:30:00-07:00",
                  "2027-03-14T03:00:00-06:00"):
        booked = book(client, clinic.night.id, start, service="night", first_name="Nadia")
        expected[path_of(booked["ics_url"])] = instant(start)
    assert sorted(set(expected.values())) == sorted(expected.values())  # four different instants
    for ics_path, start in expected.items():
        calendar = icalendar.Calendar.from_ical(client.get(ics_path).data)
        (event,) = calendar.walk("VEVENT")
        assert event.decoded("dtstart") == start
        assert event.decoded("dtend") == start + timedelta(minutes=NIGHT_MINUTES)
        expanded = recurring_ical_events.of(calendar).between(start - timedelta(minutes=1), start + timedelta(hours=1))
        assert [e.decoded("dtstart") for e in expanded] == [start]
    # 01:30 MST is 08:30 UTC; 03:00 MDT is 09:00 UTC, half an hour after 01:30 MST the same night.
    assert sorted(expected.values())[1] == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    assert sorted(expected.values())[3] - sorted(expected.values())[2] == timedelta(minutes=30)


# --- 4. the cancellation window is 24 real hours -------------------------------------------------

DEADLINES = {
    # appointment (naive local), its deadline as the API shows it, text on the manage page
    "Monday after spring forward": ("2027-03-15T09:00:00", "2027-03-14T09:00:00-06:00",
                                    "Sunday, March 14, 2027, 9:00\u202fAM"),
    "on the spring forward day": ("2027-03-14T09:00:00", "2027-03-13T08:00:00-07:00",
                                  "Saturday, March 13, 2027, 8:00\u202fAM"),
    "on the fall back day": ("2026-11-01T09:00:00", "2026-10-31T10:00:00-06:00",
                             "Saturday, October 31, 2026, 10:00\u202fAM"),
}


@pytest.mark.parametrize("name", DEADLINES)
def test_change_deadline_is_24_real_hours_before(client, clock, clinic, name):
    start, deadline_iso, deadline_text = DEADLINES[name]
    clock.now = instant(deadline_iso) - timedelta(days=5)
    booked = book(client, clinic.day.id, start)
    deadline = instant(deadline_iso)
    assert instant(booked["start"]) - deadline == timedelta(hours=24)
    api_path = "/api/v1/bookings/" + path_of(booked["manage_url"]).rsplit("/", 1)[1]
    manage_path = path_of(booked["manage_url"])

    detail = client.get(api_path).get_json()
    assert detail["change_deadline"] == deadline_iso and detail["can_change_online"] is True
    assert f"until {deadline_text}." in client.get(manage_path).get_data(as_text=True)

    clock.now = deadline - timedelta(seconds=1)
    assert client.get(api_path).get_json()["can_change_online"] is True
    clock.now = deadline
    assert client.get(api_path).get_json()["can_change_online"] is False
    # Half an hour past the deadline, though the wall clock says "23 hours before" on a 23-hour day.
    clock.now = deadline + timedelta(minutes=30)
    assert client.get(api_path).get_json()["can_change_online"] is False
    refused = client.post(f"{api_path}/cancel", json={})
    assert refused.status_code == 409 and refused.get_json()["error"] == "inside_window"
    assert "Please call" in client.get(manage_path).get_data(as_text=True)
    clock.now = deadline - timedelta(seconds=1)
    cancelled = client.post(f"{api_path}/cancel", json={})
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"


# --- 5. the staff day sheet and staff API on the 25- and 23-hour days --------------------------------

STAFF_DAYS = {
    "fall back": dict(
        now=denver(2026, 10, 25, 8), day=FALL_BACK,
        bookings=[("2026-10-31T23:30:00", "Octavio"), ("2026-11-01T00:30:00", "Noelia"),
                  ("2026-11-01T01:30:00-06:00", "Primera"), ("2026-11-01T01:30:00-07:00", "Segunda"),
                  ("2026-11-01T23:30:00", "Ultima"), ("2026-11-02T00:30:00", "Lunes")],
        on_day={"2026-11-01T00:30:00-06:00": "Noelia", "2026-11-01T01:30:00-06:00": "Primera",
                "2026-11-01T01:30:00-07:00": "Segunda", "2026-11-01T23:30:00-07:00": "Ultima"},
        before={"2026-10-31T23:30:00-06:00": "Octavio"}, after={"2026-11-02T00:30:00-07:00": "Lunes"},
    ),
    "spring forward": dict(
        now=denver(2027, 3, 8, 8), day=SPRING_FORWARD,
        bookings=[("2027-03-13T23:30:00", "Sabado"), ("2027-03-14T00:30:00", "Noelia"),
                  ("2027-03-14T23:30:00", "Ultima"), ("2027-03-15T00:30:00", "Lunes")],
        on_day={"2027-03-14T00:30:00-07:00": "Noelia", "2027-03-14T23:30:00-06:00": "Ultima"},
        before={"2027-03-13T23:30:00-07:00": "Sabado"}, after={"2027-03-15T00:30:00-06:00": "Lunes"},
    ),
}


@pytest.mark.parametrize("name", STAFF_DAYS)
def test_staff_views_put_late_and_early_visits_on_the_right_day(client, clock, clinic, name):
    case = STAFF_DAYS[name]
    clock.now = case["now"]
    for start, first_name in case["bookings"]:
        book(client, clinic.night.id, start, service="night", first_name=first_name)
    create_user("desk@example.com", PASSWORD, "front_desk")
    headers = {"Authorization": f"Bearer {issue_api_token('desk@example.com', 'tests')}"}

    day = case["day"]
    for shown, expected in ((day - timedelta(days=1), case["before"]), (day, case["on_day"]),
                            (day + timedelta(days=1), case["after"])):
        answer = client.get(f"/api/v1/staff/appointments?date={shown}", headers=headers).get_json()
        assert answer["date"] == shown.isoformat()
        rows = [a for a in answer["appointments"] if a["provider_id"] == clinic.night.id]
        assert [a["start"] for a in rows] == list(expected), shown
        assert [a["patient_name"].split()[0] for a in rows] == list(expected.values())
        assert all(instant(a["end"]) - instant(a["start"]) == timedelta(minutes=NIGHT_MINUTES) for a in rows)

    signed_in = client.post("/staff/login", data={"email": "desk@example.com", "password": PASSWORD})
    assert signed_in.status_code == 303
    html = client.get(f"/staff/?date={day}").get_data(as_text=True)
    names = list(case["on_day"].values())
    positions = [html.index(f"{n} Garcia") for n in names]
    assert positions == sorted(positions)
    for other in (*case["before"].values(), *case["after"].values()):
        assert f"{other} Garcia" not in html
    assert "12:30\u202fAM\u201312:50\u202fAM" in html and "11:30\u202fPM\u201311:50\u202fPM" in html


# --- 6. reschedule across a change keeps wall time and real durations --------------------------------


@pytest.mark.parametrize("friday,monday,offset_after", [
    ("2026-10-30", "2026-11-02", MST),
    ("2027-03-12", "2027-03-15", MDT),
])
def test_reschedule_across_the_change_keeps_wall_time(client, clock, clinic, friday, monday, offset_after):
    clock.now = instant(f"{friday}T08:00:00+00:00") - timedelta(days=2)
    booked = book(client, clinic.day.id, f"{friday}T09:00:00")
    token = path_of(booked["manage_url"]).rsplit("/", 1)[1]
    moved = client.post(f"/api/v1/bookings/{token}/reschedule", json={"start": f"{monday}T09:00:00"})
    assert moved.status_code == 200, moved.get_json()
    detail = moved.get_json()
    assert detail["start"] == f"{monday}T09:00:00{offset_after}"
    assert detail["end"] == f"{monday}T10:00:00{offset_after}"
    # Same wall time, so not a whole number of 24-hour days later: one hour more (or less).
    shift = instant(detail["start"]) - instant(booked["start"])
    assert shift == timedelta(days=3, hours=1 if offset_after == MST else -1)
    appointment = db.session.get(Appointment, booked["id"])
    db.session.refresh(appointment)
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=60)
    assert appointment.blocks_until - appointment.starts_at == timedelta(minutes=75)
    event = icalendar.Calendar.from_ical(client.get(path_of(detail["ics_url"])).data).walk("VEVENT")[0]
    assert event.decoded("dtstart") == instant(detail["start"]) and int(event["sequence"]) == 1

    # Through the pages: the times offered for the Friday are in the old offset, and moving back
    # there with the offered value restores 09:00 local.
    page = client.get(f"/appointments/{token}/reschedule/{friday}").get_data(as_text=True)
    offered = re.findall(r'name="start" value="([^"]+)"', page)
    assert f"{friday}T09:00:00{MDT if offset_after == MST else MST}" in offered
    back = client.post(f"/appointments/{token}/reschedule", data={"start": booked["start"]})
    assert back.status_code == 303
    assert client.get(f"/api/v1/bookings/{token}").get_json()["start"] == booked["start"]


# --- 7. other clock edges ------------------------------------------------------------------------------


@pytest.mark.parametrize("utc_now,today", [
    (datetime(2026, 12, 1, 5, 30, tzinfo=UTC), date(2026, 11, 30)),  # 22:30 on Nov 30 in Denver
    (datetime(2026, 12, 1, 7, 5, tzinfo=UTC), date(2026, 12, 1)),  # 00:05 on Dec 1 in Denver
])
def test_today_is_the_clinics_date_not_utcs(client, clock, clinic, utc_now, today):
    clock.now = utc_now
    html = client.get(f"/book/evaluation/{clinic.day.id}").get_data(as_text=True)
    listed = re.findall(r'class="day-date">\s*([^<]+?)\s*<', html)
    assert listed[0] == f"{today:%B} {today.day}"
    assert "Earlier days" not in html
    counts = day_counts(html)
    if today == date(2026, 11, 30):
        assert counts["November 30"] == 0  # the evening is past every opening
    assert counts[(today + timedelta(days=1)).isoformat()] == openings_per_day(today, DAYTIME, 60, 15)
    create_user("desk@example.com", PASSWORD, "front_desk")
    headers = {"Authorization": f"Bearer {issue_api_token('desk@example.com')}"}
    assert client.get("/api/v1/staff/appointments", headers=headers).get_json()["date"] == today.isoformat()
    client.post("/staff/login", data={"email": "desk@example.com", "password": PASSWORD})
    sheet = client.get("/staff/").get_data(as_text=True)
    assert f"{today:%A}, {today:%B} {today.day}, {today.year}" in sheet


@pytest.mark.parametrize("now,first_slot,too_soon", [
    # 00:45 MDT + 2 h notice = 01:45 MST (not 02:45): the next 30-minute start is 02:00 MST.
    (denver(2026, 11, 1, 0, 45), "2026-11-01T02:00:00-07:00", "2026-11-01T01:30:00-07:00"),
    # 00:45 MST + 2 h notice = 03:45 MDT: the next start is 04:00 MDT.
    (denver(2027, 3, 14, 0, 45), "2027-03-14T04:00:00-06:00", "2027-03-14T03:30:00-06:00"),
])
def test_minimum_notice_on_the_changeover_night_is_real_time(client, clock, clinic, now, first_slot, too_soon):
    clock.now = now
    day = now.astimezone(DENVER).date()
    starts = by_day(availability(client, "night", clinic.night.id, day, day))[day.isoformat()]
    assert starts[0] == first_slot
    assert instant(first_slot) - now >= timedelta(minutes=120) > instant(too_soon) - now
    refused = book(client, clinic.night.id, too_soon, service="night", expect=422)
    assert refused["fields"]["start"] == "That time is too soon to book online. Please call us."
    assert book(client, clinic.night.id, first_slot, service="night")["start"] == first_slot
    times = client.get(f"/book/night/{clinic.night.id}/{day}").get_data(as_text=True)
    assert re.findall(r'details\?start=([^"&]+)', times)[0] == starts[1]  # the first is booked now


@pytest.mark.parametrize("now,last_day", [
    # 30 days ahead counts whole clinic days, across the fall change and across the spring one:
    # the last day is offered whole, whatever the time of day it is now.
    (denver(2026, 10, 12, 8), date(2026, 11, 11)),
    (denver(2027, 3, 1, 8), date(2027, 3, 31)),
])
def test_the_booking_horizon_agrees_on_api_pages_and_booking(client, clock, clinic, now, last_day):
    clinic.evaluation.max_advance_days = 30
    db.session.commit()
    clock.now = now
    assert now.astimezone(DENVER).date() + timedelta(days=30) == last_day
    slots = by_day(availability(client, "evaluation", clinic.day.id, last_day - timedelta(days=1),
                                last_day + timedelta(days=1)))
    on_last = slots.get(last_day.isoformat(), [])
    assert len(on_last) == openings_per_day(last_day, DAYTIME, 60, 15)
    assert on_last[0][11:19] == "08:00:00" and on_last[-1][11:19] == "16:00:00"
    assert not slots.get((last_day + timedelta(days=1)).isoformat())

    html = client.get(f"/book/evaluation/{clinic.day.id}?from={last_day}").get_data(as_text=True)
    counts = day_counts(html)
    label = f"{last_day:%B} {last_day.day}"
    assert counts.get(last_day.isoformat(), counts.get(label)) == len(on_last)
    assert list(counts)[-1] in (last_day.isoformat(), label)  # the list ends on the last bookable day
    assert "Later days" not in html

    refused = book(client, clinic.day.id, f"{last_day + timedelta(days=1)}T08:00:00", expect=422)
    assert refused["fields"]["start"] == "That time is too far ahead to book yet."
    assert book(client, clinic.day.id, f"{last_day}T16:00:00")["start"][:19] == f"{last_day}T16:00:00"


def test_the_repeated_hour_is_labelled_with_its_zone(client, clock, clinic):
    clock.now = datetime(2026, 10, 30, 12, tzinfo=UTC)
    html = client.get(f"/book/night/{clinic.night.id}/2026-11-01").get_data(as_text=True)
    assert "1:30\u202fAM MDT" in html and "1:30\u202fAM MST" in html
    assert "12:30\u202fAM" in html and "12:30\u202fAM MDT" not in html  # an ordinary hour has no zone
