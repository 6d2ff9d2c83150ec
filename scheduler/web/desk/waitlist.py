"""The desk's view of the waitlist: who waits for what, in the order offers go out; adding a
patient the desk knows (a caller); taking someone off."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from scheduler.extensions import db
from scheduler.models import Patient, Provider, Service, WaitlistEntry
from scheduler.services.common import audit
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.patients import directory as patient_directory
from scheduler.services.waitlist import entries as waitlist
from scheduler.web.desk.roles import DESK, staff_only

waitlist_pages = Blueprint("waitlist", __name__, url_prefix="/staff/waitlist")

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@waitlist_pages.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"
    return response


CHOOSE_PATIENT = "Find the patient above and choose them."


def _page(form: dict, *, errors: dict | None = None, status: int = 200, query: str = ""):
    patient = None
    if str(form.get("patient_id", "")).isdigit():
        patient = db.session.get(Patient, int(form["patient_id"]))
    found, query_error = [], None
    if patient is None and query.strip():
        try:
            found = patient_directory.search(query)
        except ValidationFailed as exc:
            query_error = next(iter(exc.fields.values()))
    return render_template(
        "staff/waitlist.html",
        entries=waitlist.waiting(),
        services=list(db.session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.id))),
        providers=list(db.session.scalars(select(Provider).where(Provider.active.is_(True)).order_by(Provider.id))),
        weekdays=WEEKDAYS, form=form, patient=patient, errors=errors or {},
        query=query, found=found, query_error=query_error,
    ), status


@waitlist_pages.get("")
@staff_only(*DESK)
def index():
    return _page({"patient_id": request.args.get("patient_id", ""), "time_of_day": "any"},
                 query=request.args.get("query", ""))


@waitlist_pages.post("")
@staff_only(*DESK)
def add():
    form = request.form.to_dict()
    form["weekdays"] = request.form.getlist("weekdays")
    patient = db.session.get(Patient, int(form["patient_id"])) if form.get("patient_id", "").isdigit() else None
    if patient is None:
        return _page(form, errors={"patient_id": CHOOSE_PATIENT},
                     status=422)
    data = {
        "service": form.get("service"),
        "provider_id": form.get("provider_id") or None,
        "earliest_date": form.get("earliest_date"),
        "latest_date": form.get("latest_date"),
        "weekdays": [int(d) for d in form["weekdays"] if d.isdigit()],
        "time_of_day": form.get("time_of_day", "any"),
    }
    try:
        waitlist.add_for_patient(patient, data, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _page(form, errors=exc.fields, status=422)
    flash(f"{patient.full_name} is on the waitlist.", "success")
    return redirect(url_for("desk.waitlist.index"), code=303)


@waitlist_pages.post("/<int:entry_id>/remove")
@staff_only(*DESK)
def remove(entry_id: int):
    entry = db.session.get(WaitlistEntry, entry_id)
    if entry is None:
        abort(404)
    waitlist.leave(entry, actor=audit.actor_for(current_user))
    flash("Taken off the waitlist.", "success")
    return redirect(url_for("desk.waitlist.index"), code=303)
