"""Staff pages for messages: an appointment with its messages (resend one), the outbox, and
the inbox of texts the system could not act on."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from scheduler.services.appointments import staff_changes as staff_appointments
from scheduler.services.common.errors import NotFound, ValidationFailed
from scheduler.services.messages import desk as message_admin
from scheduler.services.staff.access import may_see
from scheduler.web.desk.roles import DESK, EVERY_ROLE, staff_only

message_pages = Blueprint("messages", __name__, url_prefix="/staff")


def record_look(user, patient_ids: list[int], where: str) -> None:
    """A staff look at patients' messages leaves an audit row; a HEAD request shows nothing,
    so it is no look (and writes nothing, as every HEAD)."""
    # The input guard answers HEAD as GET (request.method reads GET); the environ keeps HEAD.
    if request.environ.get("REQUEST_METHOD") != "HEAD":
        message_admin.record_messages_viewed(user, patient_ids, where)


@message_pages.after_request
def private_page(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@message_pages.get("/appointments/<int:appointment_id>")
@staff_only(*EVERY_ROLE)
def appointment(appointment_id: int):
    try:
        visit, messages = message_admin.appointment_with_messages(appointment_id)
    except NotFound:
        abort(404)
    if not may_see(current_user, visit.provider_id):
        abort(404)
    record_look(current_user, [visit.patient_id], "appointment")
    return render_template(
        "staff/appointment.html", visit=visit, messages=messages,
        causes=message_admin.causes_of(messages), resendable=message_admin.RESENDABLE,
        sms=message_admin.sms_state(visit.patient),
        steps=staff_appointments.status_steps(visit),
        may_resend=current_user.role in DESK,  # the roles the resend route below allows
    )


# Resending and the inbox are the front desk's (and admins'), not a provider's.
@message_pages.post("/messages/<int:message_id>/resend")
@staff_only(*DESK)
def resend(message_id: int):
    try:
        copy = message_admin.resend(message_id, current_user)
    except NotFound:
        abort(404)
    except message_admin.NotResendable as refused:
        flash(_("Only a sent or failed message can be sent again."), "error")
        if refused.appointment_id is None:
            abort(409)
        return appointment(refused.appointment_id), 409
    flash(_("The message will be sent again (within the send window)."), "success")
    return redirect(url_for("desk.messages.appointment", appointment_id=copy.appointment_id), code=303)


@message_pages.get("/outbox")
@staff_only(*DESK)
def outbox():
    """Every message by state (due, sending, sent, failed, expired) and channel, with its text
    and the provider's answer."""
    state, channel = request.args.get("state", ""), request.args.get("channel", "")
    try:
        rows = message_admin.outbox(state, channel)
    except ValidationFailed as exc:
        return render_template("staff/outbox.html", rows=[], state=state, channel=channel, errors=exc.fields,
                               states=message_admin.OUTBOX_STATES), 422
    record_look(current_user, [patient.id for _m, patient in rows], "outbox")
    return render_template("staff/outbox.html", rows=rows, state=state, channel=channel, errors={},
                           states=message_admin.OUTBOX_STATES)


@message_pages.get("/inbox")
@staff_only(*DESK)
def inbox():
    show_done = request.args.get("done") == "1"
    texts = message_admin.inbox(include_done=show_done)
    patients = {t.id: message_admin.patient_for_inbound(t) for t in texts}
    return render_template("staff/inbox.html", texts=texts, patients=patients, show_done=show_done)


@message_pages.post("/inbox/<int:inbound_id>/done")
@staff_only(*DESK)
def inbox_done(inbound_id: int):
    try:
        message_admin.mark_done(inbound_id, current_user)
    except NotFound:
        abort(404)
    flash(_("Marked as done."), "success")
    return redirect(url_for("desk.messages.inbox"), code=303)
