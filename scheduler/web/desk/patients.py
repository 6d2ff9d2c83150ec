"""The desk's patient pages: search by name, phone or email; one patient's record; language;
merging a duplicate record into the one kept."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from scheduler.extensions import db
from scheduler.models import Patient
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz
from scheduler.services.common.errors import ValidationFailed
from scheduler.services.common.parsing import row_id
from scheduler.services.messages import desk as message_admin
from scheduler.services.patients import directory as patient_directory
from scheduler.services.patients import records as patient_records
from scheduler.services.patients.history import history
from scheduler.web.desk.messages import record_look
from scheduler.web.desk.presenters import SOURCE_LABELS, STATUS_LABELS, audit_changes, clinic_moment
from scheduler.web.desk.roles import DESK, EVERY_ROLE, staff_only

patient_pages = Blueprint("patients", __name__, url_prefix="/staff/patients")


@patient_pages.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"
    return response


def _patient(patient_id: int) -> Patient:
    patient = db.session.get(Patient, patient_id)
    if patient is None:
        abort(404)
    return patient


@patient_pages.get("/")
@staff_only(*EVERY_ROLE)
def search():
    query = request.args.get("query", "")
    found, error = [], None
    if query.strip():
        try:
            found = patient_directory.search(query)
        except ValidationFailed as exc:
            error = next(iter(exc.fields.values()))
    recent = [] if query.strip() else patient_directory.recent()
    duplicates = patient_records.all_possible_duplicates() if current_user.role in DESK else []
    return render_template("staff/patients.html", query=query, found=found, error=error, recent=recent,
                           duplicates=duplicates)


@patient_pages.get("/<int:patient_id>")
@staff_only(*EVERY_ROLE)
def show(patient_id: int):
    patient = _patient(patient_id)
    if patient.merged_into_id is not None:
        flash("That record was merged into this one.", "success")
        return redirect(url_for("desk.patients.show", patient_id=patient.merged_into_id))
    record_look(current_user, [patient.id], "patient")
    return render_template(
        "staff/patient.html", patient=patient, h=history(patient),
        duplicates=patient_records.possible_duplicates(patient),
        sms=message_admin.sms_state(patient),
        status_labels=STATUS_LABELS, source_labels=SOURCE_LABELS,
        audit_changes=audit_changes, clinic_moment=clinic_moment, tz=clinic_tz(),
    )


@patient_pages.post("/<int:patient_id>/language")
@staff_only(*EVERY_ROLE)
def language(patient_id: int):
    patient = _patient(patient_id)
    try:
        patient_records.set_language(patient, request.form.get("language", ""), audit.actor_for(current_user))
    except ValidationFailed as exc:
        flash(next(iter(exc.fields.values())), "error")
    else:
        flash("Language saved.", "success")
    return redirect(url_for("desk.patients.show", patient_id=patient.id), code=303)


@patient_pages.post("/<int:patient_id>/merge")
@staff_only(*DESK)
def merge(patient_id: int):
    """Merge the record named in the form (duplicate_id) into this one."""
    kept = _patient(patient_id)
    raw = request.form.get("duplicate_id", "")
    duplicate_id = row_id(raw)
    duplicate = db.session.get(Patient, duplicate_id) if duplicate_id is not None else None
    if duplicate is None:
        abort(404)
    try:
        moved = patient_records.merge(kept, duplicate, audit.actor_for(current_user))
    except ValidationFailed as exc:
        flash(next(iter(exc.fields.values())), "error")
    else:
        flash(f"Merged {duplicate.full_name} (#{duplicate.id}) into this record; {moved} appointment(s) moved.", "success")
    return redirect(url_for("desk.patients.show", patient_id=kept.id), code=303)
