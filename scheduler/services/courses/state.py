"""Keeping a course's status and calendar sequence in step with its visits."""
from __future__ import annotations

from sqlalchemy import select

from scheduler.domain.course_progress import Progress, course_status, progress
from scheduler.extensions import db
from scheduler.models import Appointment, Course
from scheduler.services.common.clock import now


def course_progress(course: Course) -> Progress:
    """How many of the course's visits were attended, missed, cancelled or are still to
    come, as they are in this transaction. Reads only."""
    statuses = db.session.scalars(select(Appointment.status).where(Appointment.course_id == course.id))
    return progress(statuses)


def visit_changed(appointment: Appointment) -> None:
    """Called in the transaction of any change to a visit: the course's calendar file
    changes with it, and its status may move on (planned -> active -> completed).
    In the caller's transaction."""
    if appointment.course_id is not None:
        refresh(db.session.get(Course, appointment.course_id))


def refresh(course: Course) -> None:
    """The course's status from its visits as they are now in this transaction; its
    calendar file changed, so its sequence goes up. In the caller's transaction."""
    db.session.flush()
    course.status = course_status(course.status, course_progress(course))
    course.ical_sequence += 1
    course.updated_at = now()
