"""The waitlist's public pages: join (from the day and time pages, when nothing suits), leave
through the private link, and take an offered time from the email's link. Each calls the
same service as the API."""
from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import OfferStatus, Service, WaitlistOffer
from scheduler.services.common import audit
from scheduler.services.common.errors import NotFound, ValidationFailed
from scheduler.services.messages.render import hold_line
from scheduler.services.waitlist import entries as waitlist
from scheduler.services.waitlist import offers as waitlist_offers
from scheduler.web.common.limits import booking_limit, manage_limit
from scheduler.web.common.site import current_language
from scheduler.web.patient.booking import ANY, _online_service, _providers_for

waitlist_pages = Blueprint("waitlist", __name__)

WEEKDAY_NUMBERS = tuple(str(d) for d in range(7))


def _join_page(service: Service, who: str, provider, form: dict, *, errors=None, status=200):
    return render_template("booking/waitlist_join.html", service=service, who=who, provider=provider, form=form,
                           weekdays=request.form.getlist("weekdays") if request.method == "POST" else [],
                           errors=errors or {}), status


@waitlist_pages.route("/book/<slug>/<who>/waitlist", methods=["GET", "POST"])
@booking_limit
def join(slug: str, who: str):
    service = _online_service(slug)
    _chosen, provider = _providers_for(who)
    if request.method != "POST":
        return _join_page(service, who, provider, {"earliest_date": request.args.get("from", "")})
    form = request.form.to_dict()
    days = request.form.getlist("weekdays")
    data = {
        "service": service.slug,
        "provider_id": None if who == ANY else who,
        "earliest_date": form.get("earliest_date", ""),
        "latest_date": form.get("latest_date", ""),
        "weekdays": [int(d) if d in WEEKDAY_NUMBERS else d for d in days],
        "time_of_day": form.get("time_of_day") or "any",
        "patient": {
            "first_name": form.get("first_name", ""), "last_name": form.get("last_name", ""),
            "phone": form.get("phone", ""), "email": form.get("email", ""),
            "sms_opt_in": form.get("sms_opt_in") == "yes", "note": "",
        },
    }
    try:
        joined = waitlist.join(data, language=current_language())
    except ValidationFailed as exc:
        return _join_page(service, who, provider, form, errors=exc.fields, status=422)
    return render_template("booking/waitlist_joined.html", entry=joined.entry, service=service, token=joined.leave_token)


@waitlist_pages.route("/waitlist/leave/<token>", methods=["GET", "POST"])
@manage_limit
def leave(token: str):
    try:
        entry = waitlist.entry_for_token(token)
    except NotFound:
        abort(404)
    if request.method == "POST":
        waitlist.leave(entry)
    return render_template("booking/waitlist_leave.html", entry=entry, token=token)


@waitlist_pages.route("/waitlist/offers/<token>", methods=["GET", "POST"])
@manage_limit
def offer(token: str):
    try:
        found = waitlist_offers.offer_for_token(token)
    except NotFound:
        abort(404)
    appointment = None
    if request.method == "POST":
        try:
            taken = waitlist_offers.take(found.id, audit.PATIENT_LINK)
            db.session.commit()
        except Exception:
            db.session.rollback()
            raise
        appointment = taken.appointment
        found = db.session.scalar(select(WaitlistOffer).where(WaitlistOffer.id == found.id))
    held = found.status == OfferStatus.OPEN.value and found.expires_at > waitlist_offers.now()
    mine = found.status == OfferStatus.TAKEN.value
    return render_template("booking/waitlist_offer.html", offer=found, token=token, held=held, taken=mine,
                           just_booked=appointment is not None,
                           hold_line=lambda until: hold_line(until, waitlist_offers.now()))
