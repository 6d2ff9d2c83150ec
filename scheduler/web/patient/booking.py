"""Public booking pages: service -> provider -> day -> time -> details -> confirmation."""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from scheduler.domain.availability import one_per_start
from scheduler.extensions import db
from scheduler.models import Appointment, Provider, Service
from scheduler.services.appointments.booking import book
from scheduler.services.appointments.booking_input import parse_start
from scheduler.services.availability.open_times import (
    bookable_providers,
    day_labels,
    last_day_for,
    least_busy_first,
    open_days,
    open_slots,
    open_times,
)
from scheduler.services.common.errors import AlreadyBooked, SlotUnavailable, ValidationFailed
from scheduler.services.common.tokens import seal_for_session, unseal_from_session
from scheduler.web.common.limits import booking_limit
from scheduler.web.common.presenters import DayWindow, parse_day, today_local
from scheduler.web.common.site import current_language

booking_pages = Blueprint("booking", __name__)

ANY = "any"
# This browser's latest bookings, kept in the session so that pressing back and "Book" again
# can lead to the visit just booked (the database keeps only hashes of links; the session
# holds each link's secret masked, see tokens.seal_for_session). A handful is plenty.
RECENT_BOOKINGS = "recent_bookings"
RECENT_BOOKINGS_KEPT = 3


def _online_service(slug: str) -> Service:
    service = db.session.scalar(
        select(Service).where(Service.slug == slug, Service.active.is_(True), Service.online_bookable.is_(True))
    )
    if service is None:
        abort(404)
    return service


def _providers_for(who: str) -> tuple[list[Provider], Provider | None]:
    providers = bookable_providers(online_only=True)
    if who == ANY:
        return providers, None
    chosen = [p for p in providers if str(p.id) == who]
    if not chosen:
        abort(404)
    return chosen, chosen[0]


@booking_pages.get("/")
def services():
    rows = db.session.scalars(
        select(Service).where(Service.active.is_(True), Service.online_bookable.is_(True)).order_by(Service.id)
    ).all()
    return render_template("booking/services.html", services=rows)


@booking_pages.get("/book/<slug>")
def providers(slug: str):
    service = _online_service(slug)
    return render_template(
        "booking/providers.html", service=service, providers=bookable_providers(online_only=True)
    )


@booking_pages.get("/book/<slug>/<who>")
def days(slug: str, who: str):
    service = _online_service(slug)
    chosen, provider = _providers_for(who)
    today = today_local()
    first = parse_day(request.args.get("from"), today)
    if first is None:
        abort(400, _("That is not a valid date."))
    window = DayWindow.starting(
        first, current_app.config["BOOKING_DAYS_SHOWN"], today, last_day_for(service)
    )
    counts = open_days(open_times(service, chosen, window.first, window.last), window.first, window.last)
    return render_template(
        "booking/days.html", service=service, provider=provider, who=who, window=window, counts=counts,
        labels=day_labels(service, chosen, counts),
    )


@booking_pages.get("/book/<slug>/<who>/<day>")
def times(slug: str, who: str, day: str):
    service = _online_service(slug)
    chosen, provider = _providers_for(who)
    parsed = parse_day(day, today_local())
    if parsed is None:
        abort(400, _("That is not a valid date."))
    every = open_slots(service, chosen, parsed, parsed)
    slots = every if who != ANY else one_per_start(every, preference=least_busy_first(chosen, parsed, parsed))
    # "First available" tiles say how many providers are free, not a name that may change.
    free = Counter(slot.start for slot in every)
    return render_template(
        "booking/times.html", service=service, provider=provider, who=who, day=parsed, slots=slots, free=free
    )


def _remember_booking(appointment_id: int, token: str) -> None:
    recent = dict(session.get(RECENT_BOOKINGS, {}))
    recent.pop(str(appointment_id), None)
    recent[str(appointment_id)] = seal_for_session(token, appointment_id)
    session[RECENT_BOOKINGS] = dict(list(recent.items())[-RECENT_BOOKINGS_KEPT:])


def _already_booked(appointment_id: int | None) -> dict:
    """The patient's visit in the way, and a link to it if this browser booked it."""
    existing = db.session.get(Appointment, appointment_id) if appointment_id else None
    token = None
    if existing is not None:
        sealed = session.get(RECENT_BOOKINGS, {}).get(str(existing.id))
        token = unseal_from_session(sealed, existing.id, existing.manage_token_hash)
    return {"appointment": existing, "token": token}


def _details_page(service, who, provider, form, *, errors=None, conflict=None, already=None, status=200):
    alternatives = conflict.alternatives if conflict else []
    names = {p.id: p.name for p in bookable_providers(online_only=True)}
    prefer = form.get("prefer") or ""
    shown_name = names.get(int(prefer)) if prefer.isascii() and prefer.isdigit() else None
    return (
        render_template(
            "booking/details.html",
            service=service,
            who=who,
            provider=provider,
            form=form,
            errors=errors or {},
            conflict=conflict is not None,
            alternatives=alternatives,
            already=already,
            names=names,
            shown_name=shown_name,
        ),
        status,
    )


@booking_pages.route("/book/<slug>/<who>/details", methods=["GET", "POST"])
@booking_limit
def details(slug: str, who: str):
    service = _online_service(slug)
    chosen, provider = _providers_for(who)
    if request.method != "POST":
        # GET (and HEAD, answered as GET): show the form. Only a POST books, under CSRF
        # and the booking limit.
        start = request.args.get("start", "")
        form = {"start": start, "prefer": request.args.get("prefer", "")}
        try:
            parse_start(start)
        except ValidationFailed as exc:
            return _details_page(service, who, provider, form, errors=exc.fields, status=400)
        return _details_page(service, who, provider, form)

    form = request.form.to_dict()
    data = {
        "service": service.slug,
        "provider_id": None if who == ANY else who,
        "preferred_provider_id": form.get("prefer") if who == ANY else None,
        "start": form.get("start"),
        "patient": {
            "first_name": form.get("first_name", ""),
            "last_name": form.get("last_name", ""),
            "phone": form.get("phone", ""),
            "email": form.get("email", ""),
            "sms_opt_in": form.get("sms_opt_in") == "yes",
            "note": form.get("note", ""),
        },
    }
    try:
        booked = book(data, online=True, language=current_language())
    except ValidationFailed as exc:
        return _details_page(service, who, provider, form, errors=exc.fields, status=422)
    except SlotUnavailable as conflict:
        return _details_page(service, who, provider, form, conflict=conflict, status=409)
    except AlreadyBooked as duplicate:
        return _details_page(
            service, who, provider, form, already=_already_booked(duplicate.appointment_id), status=409
        )
    _remember_booking(booked.appointment.id, booked.manage_token)
    shown = form.get("prefer", "")
    if who == ANY and shown.isascii() and shown.isdigit() and int(shown) != booked.appointment.provider_id:
        shown_name = next((p.name for p in chosen if p.id == int(shown)), None)
        if shown_name:
            flash(
                _(
                    "%(shown)s was booked at this time a moment ago, so your visit is with %(given)s.",
                    shown=shown_name,
                    given=booked.appointment.provider.name,
                ),
                "warning",
            )
    return redirect(url_for("patient.manage.booked", token=booked.manage_token), code=303)
