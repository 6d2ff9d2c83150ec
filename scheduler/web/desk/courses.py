"""Staff pages for courses of care: the planner (prescription -> preview -> edit -> book)
and the course page (progress, move or cancel one visit with make-up times, change the
time of this and following visits, extend, cancel the rest)."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from scheduler.domain.course_progress import progress
from scheduler.domain.courses import WEEKDAY_NAMES
from scheduler.extensions import db
from scheduler.models import Appointment, Patient, Provider, Service
from scheduler.services.appointments import staff_changes as staff_appointments
from scheduler.services.common import audit
from scheduler.services.common.clock import clinic_tz
from scheduler.services.common.errors import (
    AlreadyBooked,
    ChangeNotAllowed,
    NotFound,
    SlotUnavailable,
    ValidationFailed,
)
from scheduler.services.courses import prescription as course_input
from scheduler.services.courses import series as courses
from scheduler.services.courses.prescription import DEFAULT_SERVICE
from scheduler.services.courses.series import FollowingConflict, PlanConflict
from scheduler.services.patients import directory as patient_directory
from scheduler.services.staff.access import may_act_for, may_plan
from scheduler.web.common.course_presenters import ordinals, reason_text
from scheduler.web.desk.roles import EVERY_ROLE, staff_only

course_pages = Blueprint("courses", __name__, url_prefix="/staff/courses")
PRESCRIPTION_FIELDS = ("patient_id", "provider_id", "service", "first_date", "weeks", "visits_per_week", "time",
                       "window_start", "window_end", "min_gap_days", "allow_other_provider", "evaluation_id")


@course_pages.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"  # patient names and numbers
    return response


def _allowed(provider_id: int | None) -> None:
    if not may_act_for(current_user, provider_id):
        abort(403)


# --- the planner --------------------------------------------------------------------------------


def _typed() -> dict:
    """What the form says, as typed (to show it again)."""
    source = request.form if request.method == "POST" else request.args
    typed = {name: source.get(name, "") for name in PRESCRIPTION_FIELDS}
    typed["weekdays"] = source.getlist("weekdays")
    typed.setdefault("service", DEFAULT_SERVICE)
    if request.method == "GET":
        typed.update({"weeks": typed["weeks"] or "6", "visits_per_week": typed["visits_per_week"] or "3",
                      "min_gap_days": typed["min_gap_days"] or "1", "service": typed["service"] or DEFAULT_SERVICE,
                      "time": typed["time"] or "09:00"})
        if not typed["weekdays"]:
            typed["weekdays"] = ["mon", "wed", "fri"]
    return typed


def _request_data(typed: dict) -> dict:
    window = [typed["window_start"], typed["window_end"]] if typed["window_start"] or typed["window_end"] else None
    return {
        **{k: typed[k] for k in ("patient_id", "provider_id", "service", "first_date", "weeks", "visits_per_week",
                                 "min_gap_days", "evaluation_id")},
        "weekdays": typed["weekdays"],
        "time": typed["time"],
        "window": window,
        "allow_other_provider": typed["allow_other_provider"] == "on",
    }


def _rows() -> list[dict]:
    """The previewed visits as the staff edited them (date, time, provider, keep)."""
    rows = []
    count = request.form.get("rows", "0")
    for index in range(1, min(int(count) if count.isdigit() else 0, 120) + 1):
        rows.append({
            "index": index,
            "date": request.form.get(f"visit-{index}-date", ""),
            "time": request.form.get(f"visit-{index}-time", ""),
            "provider_id": request.form.get(f"visit-{index}-provider", ""),
            "keep": request.form.get(f"visit-{index}-keep") == "on",
            "status": request.form.get(f"visit-{index}-status", ""),
            "reason": request.form.get(f"visit-{index}-reason", ""),
        })
    return rows


def _rows_from_plan(plan) -> list[dict]:
    tz = clinic_tz()
    rows = []
    for index, visit in enumerate(plan, 1):
        local = visit.start.astimezone(tz) if visit.start else None
        rows.append({
            "index": index,
            "date": local.date().isoformat() if local else visit.day.isoformat(),
            "time": local.strftime("%H:%M") if local else "",
            "provider_id": str(visit.provider_id or ""),
            "keep": visit.start is not None,
            "status": visit.status,
            "reason": reason_text(visit) or "",
        })
    return rows


def _day_label(raw: str) -> str:
    """"Tue Dec 1" / "mar 1 dic" for a row's date, so the weekday shows beside the date field."""
    try:
        return format_date(date.fromisoformat(raw), _("EEE MMM d"))
    except ValueError:
        return ""


def _planner_page(typed: dict, *, rows=None, errors=None, message=None, status=200):
    rows = [{**row, "day_label": _day_label(row["date"])} for row in rows or []]
    patient = None
    if typed.get("patient_id", "").isdigit():
        patient = db.session.get(Patient, int(typed["patient_id"]))
    query = request.args.get("query", "")
    found = []
    if patient is None and len(query.strip()) >= 2:
        try:
            found = patient_directory.search(query)
        except ValidationFailed:
            found = []
    return render_template(
        "staff/course_new.html",
        typed=typed,
        patient=patient,
        query=query,
        found=found,
        providers=list(db.session.scalars(select(Provider).where(Provider.active.is_(True)).order_by(Provider.id))),
        services=list(db.session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.id))),
        weekday_names=WEEKDAY_NAMES,
        rows=rows,
        errors=errors or {},
        message=message,
    ), status


@course_pages.get("/new")
@staff_only(*EVERY_ROLE)
def new():
    return _planner_page(_typed())


def _row_errors(fields: dict[str, str], kept: list[dict]) -> dict[str, str]:
    """visits.K.start (K-th kept row) -> visit-<row>; everything else as it is."""
    errors = {}
    for key, message in fields.items():
        parts = key.split(".")
        if parts[0] == "visits" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) <= len(kept):
            errors[f"visit-{kept[int(parts[1]) - 1]['index']}"] = message
        else:
            errors[key] = message
    return errors


@course_pages.post("/new")
@staff_only(*EVERY_ROLE)
def plan_or_book():
    typed = _typed()
    data = _request_data(typed)
    provider_id = int(typed["provider_id"]) if typed["provider_id"].isdigit() else None
    if provider_id is not None:
        _allowed(provider_id)
    action = request.form.get("action", "preview")
    rows = _rows()
    kept = [r for r in rows if r["keep"]]
    if action == "book" and rows:
        data["visits"] = [{"start": f"{r['date']}T{r['time']}", "provider_id": r["provider_id"]} for r in kept] or None
        if not kept:
            return _planner_page(typed, rows=rows, errors={"visits": _("Keep at least one visit to book.")}, status=422)
    data["preview"] = action != "book"
    try:
        parsed = course_input.parse_course_request(data)
        if not may_plan(current_user, parsed):
            abort(403)
        if parsed.preview:
            return _planner_page(typed, rows=_rows_from_plan(courses.preview(parsed)))
        booked = courses.book(parsed, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        errors = _row_errors(exc.fields, kept)
        if "patient_id" in errors and not typed.get("patient_id", "").isdigit():
            errors["patient_id"] = _("Find the patient above and choose them.")
        return _planner_page(typed, rows=rows, errors=errors, status=422)
    except PlanConflict as conflict:
        return _planner_page(
            typed, rows=_rows_from_plan(conflict.plan), status=409,
            message=_("A visit was taken meanwhile, so nothing was booked. Here is a fresh plan."),
        )
    flash(_("The course is booked: %(num)d visits.", num=len(booked.visits)), "success")
    return redirect(url_for("desk.courses.show", course_id=booked.course.id), code=303)


# --- the course page --------------------------------------------------------------------------


def _course(course_id: int):
    try:
        course = courses.get_course(course_id)
    except NotFound:
        abort(404)
    _allowed(course.provider_id)
    return course


def _course_page(course, *, errors=None, typed=None, make_up=None, make_up_for=None, status=200):
    visits = courses.visits_of(course)
    return render_template(
        "staff/course.html",
        course=course,
        visits=visits,
        ordinals=ordinals(visits),
        counts=progress(v.status for v in visits),
        providers={p.id: p for p in db.session.scalars(select(Provider))},
        errors=errors or {},
        typed=typed or {},
        make_up=make_up or [],
        make_up_for=make_up_for,
        duration=course.service.duration_minutes,
    ), status


@course_pages.get("/<int:course_id>")
@staff_only(*EVERY_ROLE)
def show(course_id: int):
    return _course_page(_course(course_id))


def _visit(course, number: int) -> Appointment:
    try:
        return courses.visit_by_number(course, number)
    except NotFound:
        abort(404)


def _done(course, message: str):
    flash(message, "success")
    return redirect(url_for("desk.courses.show", course_id=course.id), code=303)


@course_pages.post("/<int:course_id>/visits/<int:number>/move")
@staff_only(*EVERY_ROLE)
def move_visit(course_id: int, number: int):
    course = _course(course_id)
    visit = _visit(course, number)
    typed = {f"move-{number}-date": request.form.get("date", ""), f"move-{number}-time": request.form.get("time", "")}
    start = f"{request.form.get('date', '')}T{request.form.get('time', '')}"
    try:
        staff_appointments.move(visit, start, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _course_page(course, errors={f"move-{number}": _(next(iter(exc.fields.values())))}, typed=typed, status=422)
    except SlotUnavailable as conflict:
        times = ", ".join(s.start.astimezone(clinic_tz()).strftime("%a %b %d %H:%M") for s in conflict.alternatives)
        return _course_page(course, errors={f"move-{number}": _("That time is taken. Nearest open times: %(times)s",
                                                                 times=times or "-")}, typed=typed, status=409)
    except (AlreadyBooked, ChangeNotAllowed) as refused:
        return _course_page(course, errors={f"move-{number}": _(refused.message)}, typed=typed, status=409)
    return _done(course, _("Visit moved."))


@course_pages.post("/<int:course_id>/visits/<int:number>/cancel")
@staff_only(*EVERY_ROLE)
def cancel_visit(course_id: int, number: int):
    course = _course(course_id)
    reason = request.form.get("reason", "")
    try:
        visit, options = courses.cancel_visit(course, number, reason, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _course_page(course, errors={f"cancel-{number}": _(next(iter(exc.fields.values())))},
                            typed={f"cancel-{number}-reason": reason}, status=422)
    except ChangeNotAllowed as refused:
        return _course_page(course, errors={f"cancel-{number}": _(refused.message)}, status=409)
    flash(_("Visit cancelled. You can offer a make-up time below."), "success")
    return _course_page(course, make_up=options, make_up_for=visit)


@course_pages.post("/<int:course_id>/make-up")
@staff_only(*EVERY_ROLE)
def make_up(course_id: int):
    course = _course(course_id)
    provider_id = request.form.get("provider_id", "")
    named = course_input.whole_number(provider_id)  # as the booking reads it: " 2" is provider 2
    if named is not None:
        _allowed(named)
    start = request.form.get("start") or f"{request.form.get('date', '')}T{request.form.get('time', '')}"
    try:
        courses.book_make_up(course, start, provider_id, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _course_page(course, errors={"make-up": _(next(iter(exc.fields.values())))},
                            typed={"make-up-date": request.form.get("date", ""),
                                   "make-up-time": request.form.get("time", "")}, status=422)
    except (SlotUnavailable, AlreadyBooked, ChangeNotAllowed):
        return _course_page(course, errors={"make-up": _("That time is no longer open.")}, status=409)
    return _done(course, _("Make-up visit booked."))


@course_pages.post("/<int:course_id>/visits/<int:number>/following")
@staff_only(*EVERY_ROLE)
def change_following(course_id: int, number: int):
    course = _course(course_id)
    raw = request.form.get("time", "")
    try:
        courses.reschedule_following(course, number, raw, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _course_page(course, errors={f"following-{number}": _(next(iter(exc.fields.values())))},
                            typed={f"following-{number}-time": raw}, status=422)
    except FollowingConflict as conflict:
        return _course_page(course, errors={f"following-{number}": _(
            "Visits %(numbers)s are taken at that time; nothing was moved.",
            numbers=", ".join(f"#{n}" for n in conflict.taken))}, typed={f"following-{number}-time": raw}, status=409)
    except ChangeNotAllowed as refused:
        return _course_page(course, errors={f"following-{number}": _(refused.message)}, status=409)
    return _done(course, _("This visit and the following ones were moved."))


@course_pages.post("/<int:course_id>/extend")
@staff_only(*EVERY_ROLE)
def extend(course_id: int):
    course = _course(course_id)
    raw = request.form.get("weeks", "")
    try:
        booked = courses.extend(course, raw, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _course_page(course, errors={"extend": _(next(iter(exc.fields.values())))}, typed={"extend-weeks": raw},
                            status=422)
    except PlanConflict:
        return _course_page(course, errors={"extend": _("A time was taken meanwhile; nothing was booked. Try again.")},
                            typed={"extend-weeks": raw}, status=409)
    except ChangeNotAllowed as refused:
        return _course_page(course, errors={"extend": _(refused.message)}, status=409)
    return _done(course, _("%(num)d visits added.", num=len(booked.visits)))


@course_pages.post("/<int:course_id>/cancel")
@staff_only(*EVERY_ROLE)
def cancel_rest(course_id: int):
    course = _course(course_id)
    reason = request.form.get("reason", "")
    try:
        cancelled = courses.cancel_rest(course, reason, actor=audit.actor_for(current_user))
    except ValidationFailed as exc:
        return _course_page(course, errors={"cancel-rest": _(next(iter(exc.fields.values())))},
                            typed={"cancel-rest-reason": reason}, status=422)
    except ChangeNotAllowed as refused:
        return _course_page(course, errors={"cancel-rest": _(refused.message)}, status=409)
    return _done(course, _("The course is cancelled (%(num)d visits).", num=len(cancelled)))
