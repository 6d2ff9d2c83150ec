"""A patient asks for their private link(s) again: "send me my link", "text it to me".

Only hashes of the links are stored, so the messages carry fresh links; the outbox (through
events.links_requested) writes them in the same transaction as the request.
"""
from __future__ import annotations

from itertools import groupby

from flask import current_app
from sqlalchemy import func, select

from scheduler.domain.patient_details import N_, Contact, check_contact
from scheduler.extensions import db
from scheduler.models import Appointment, Patient
from scheduler.models.appointment import OPEN_STATUSES
from scheduler.services import events
from scheduler.services.common.clock import now
from scheduler.services.common.errors import ValidationFailed


def parse_contact(raw: object) -> Contact:
    """A mobile number or an email address as the patient typed it; ValidationFailed
    otherwise. Reads only."""
    contact, error = check_contact(raw, current_app.config["PHONE_REGION"])
    if contact is None:
        raise ValidationFailed({"contact": error})
    return contact


def upcoming_visits_of(contact: Contact) -> list[Appointment]:
    """Open visits still to come of every patient with this mobile number or email. Reads only."""
    if contact.channel == "sms":
        whose = Patient.phone_e164 == contact.address
    else:
        whose = func.lower(Patient.email) == contact.address.lower()
    query = (
        select(Appointment)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            whose,
            Appointment.status.in_([s.value for s in OPEN_STATUSES]),
            Appointment.starts_at > now(),
        )
        .order_by(Appointment.patient_id, Appointment.starts_at)
    )
    return list(db.session.scalars(query))


def send_links_to(raw_contact: object) -> None:
    """Sends each matching patient one message with links to their upcoming visits.

    Nothing tells the caller whether anyone matched: the page answers the same either way,
    so the form cannot be used to find out who is a patient here. Commits.
    """
    contact = parse_contact(raw_contact)
    visits = upcoming_visits_of(contact)
    for _patient_id, theirs in groupby(visits, key=lambda a: a.patient_id):
        events.links_requested(list(theirs), channel=contact.channel, cause="patient")
    db.session.commit()


def send_link_for(appointment: Appointment, channel: object) -> None:
    """"Text it to me" / "Email it to me" from the appointment's own page. Commits."""
    if channel == "email" and appointment.patient.email:
        events.links_requested([appointment], channel="email", cause="patient")
    elif channel == "sms":
        events.links_requested([appointment], channel="sms", cause="patient")
    else:
        raise ValidationFailed({"channel": N_("Please choose text message or email.")})
    db.session.commit()
