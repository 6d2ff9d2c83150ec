"""The availability answer is written as JSON text directly; it must say what slot_json says."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.domain.availability import OpenTimes, to_micros
from scheduler.web.common.presenters import slot_json, slots_json_text

DENVER = ZoneInfo("America/Denver")


def test_slots_written_directly_read_back_as_slot_json_gives():
    start = datetime(2026, 11, 1, 7, 30, tzinfo=UTC)  # across the fall-back change in Denver
    times = OpenTimes(
        [
            (to_micros(start + timedelta(minutes=15 * k)), provider_id)
            for k in range(40)
            for provider_id in (1, 2, 17)
            if (k + provider_id) % 3
        ],
        to_micros(start + timedelta(minutes=60)) - to_micros(start),
    )
    parsed = json.loads(slots_json_text(times, DENVER))
    assert parsed == [slot_json(slot, DENVER) for slot in times.slots()]
    assert [(item["start"], item["provider_id"]) for item in parsed][:3] == [
        ("2026-11-01T01:30:00-06:00", 1), ("2026-11-01T01:30:00-06:00", 2), ("2026-11-01T01:30:00-06:00", 17)
    ]
    offsets = {item["start"][-6:] for item in parsed}
    assert offsets == {"-06:00", "-07:00"}, "instants are shown with the clinic's offset of that moment"


def test_no_slots_is_an_empty_array():
    assert json.loads(slots_json_text(OpenTimes([], 0), DENVER)) == []
