"""What the patient's private link does to a visit of a course: the course follows."""
from __future__ import annotations

from scheduler.extensions import db
from scheduler.models import Course
from scheduler.services.appointments import patient_changes
from scheduler.services.courses.state import course_progress
from tests.support.factories import demo_course, demo_patient, local

STARTS = [local(2026, 12, d, 10, 0) for d in (8, 10, 15)]


def test_a_course_visit_cancelled_through_the_link_updates_the_course(demo):
    course, visits = demo_course(demo_patient(), STARTS)
    db.session.commit()
    sequence = course.ical_sequence
    patient_changes.cancel(visits[0])
    course = db.session.get(Course, course.id)
    # Its calendar file changed (subscribed calendars drop the visit) and the counts follow.
    assert course.ical_sequence == sequence + 1
    assert course_progress(course).cancelled == 1


def test_a_course_visit_moved_through_the_link_updates_the_course_calendar(demo):
    course, visits = demo_course(demo_patient(), STARTS)
    db.session.commit()
    sequence = course.ical_sequence
    patient_changes.reschedule(visits[0], local(2026, 12, 8, 14, 0).isoformat())
    assert db.session.get(Course, course.id).ical_sequence == sequence + 1
