"""The outbox: planning, re-planning and cancelling a patient's messages (see events.py).

Placeholder interface: the planning is being built; until then these record nothing.
"""
from __future__ import annotations


def plan_booked(appointment, *, cause: str) -> None:
    return None


def plan_moved(appointment, *, cause: str) -> None:
    return None


def plan_cancelled(appointment, *, cause: str) -> None:
    return None


def plan_confirmed(appointment, *, cause: str) -> None:
    return None


def plan_course_booked(course, visits, *, cause: str) -> None:
    return None


def plan_links(appointments, *, channel: str, cause: str) -> None:
    return None
