"""The front desk's evening email: tomorrow's schedule, per provider (staff-facing, in English)."""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta

from babel.dates import format_date, format_time
from flask import current_app
from sqlalchemy import select, update

from scheduler.domain.wall_time import to_instant_lenient
from scheduler.extensions import db
from scheduler.integrations.email import Email
from scheduler.models import Provider, WorkerRun
from scheduler.services.appointments.day_sheet import appointments_on
from scheduler.services.common.clock import clinic_tz, now
from scheduler.services.messages.sending import transports
from scheduler.services.operations.worker_runs import claim_daily

log = logging.getLogger(__name__)
CLAIM = "evening_digest_sent"


def digest_time() -> time:
    """FRONT_DESK_DIGEST_TIME as a clock time. Reads only."""
    hours, _, minutes = current_app.config["FRONT_DESK_DIGEST_TIME"].partition(":")
    return time(int(hours), int(minutes or 0))


def schedule_email(day: date, to: str) -> Email:
    """The email of a day's schedule, per provider, to `to`. Reads only."""
    tz = clinic_tz()
    providers = list(db.session.scalars(select(Provider).order_by(Provider.id)))
    visits = [a for a in appointments_on(day, providers) if a.status != "cancelled"]
    title = format_date(day, "full", locale="en_US")
    lines = [f"Schedule for {title}: {len(visits)} appointment{'s' if len(visits) != 1 else ''}.", ""]
    for provider in providers:
        own = [a for a in visits if a.provider_id == provider.id]
        if not own:
            continue
        lines.append(provider.name)
        for visit in own:
            start = format_time(visit.starts_at.astimezone(tz), "short", locale="en_US")
            end = format_time(visit.ends_at.astimezone(tz), "short", locale="en_US")
            visit_label = f" (visit {visit.visit_number})" if visit.visit_number else ""
            lines.append(f"  {start}-{end}  {visit.patient.full_name}  {visit.patient.phone_e164}  "
                         f"{visit.service.name}{visit_label}  [{visit.status}]")
        lines.append("")
    if not visits:
        lines.append("No appointments.")
    return Email(to=to, subject=f"Schedule for {title}", text="\n".join(lines))


def send_evening_digest(*, force: bool = False) -> str:
    """Emails FRONT_DESK_EMAIL tomorrow's schedule once a day, at or after FRONT_DESK_DIGEST_TIME
    (clinic time). Any number of workers may call this: one wins the day's claim. `force`
    sends now, whatever the time and whether it went already. Commits (the day's claim)."""
    to = current_app.config["FRONT_DESK_EMAIL"]
    if not to:
        return "no_address"
    moment = now()
    tz = clinic_tz()
    today = moment.astimezone(tz).date()
    due_from = to_instant_lenient(today, digest_time(), tz)
    if not force and (moment < due_from or not claim_daily(CLAIM, due_from, moment)):
        return "not_due"
    email = schedule_email(today + timedelta(days=1), to)
    try:
        transports().email.send(email, sent_at=moment)
    except Exception:
        if not force:  # give the day's claim back: the next pass tries again
            _release(due_from)
        raise
    return "sent"


def _release(due_from: datetime) -> None:
    db.session.rollback()
    db.session.execute(update(WorkerRun).where(WorkerRun.job == CLAIM)
                       .values(last_started_at=due_from - timedelta(seconds=1)))
    db.session.commit()
