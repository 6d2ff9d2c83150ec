"""Twilio's webhooks: texts patients send, and delivery reports for ours.

Exempt from CSRF (no cookies are involved); the X-Twilio-Signature header, an HMAC of
PUBLIC_BASE_URL + path and the form fields under the account's auth token, is what
protects them: without a valid one (or without an auth token configured) the answer is 403.
"""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from scheduler.services.messages.inbound import handle_inbound, record_status
from scheduler.web.common.input_guard import takes_any_text

from ..domain.text_safety import without_forbidden

webhooks = Blueprint("webhooks", __name__, url_prefix="/webhooks")


@webhooks.before_request
def verify_signature():
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get("X-Twilio-Signature", "")
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + request.full_path.rstrip("?")
    if not token or not signature or not RequestValidator(token).validate(url, request.form, signature):
        abort(403)


def _twiml(reply: str | None) -> Response:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(str(response), mimetype="application/xml")


@webhooks.post("/twilio/sms")
@takes_any_text  # a patient's text is kept, cleaned, rather than refused (Twilio would not resend it)
def inbound_sms():
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    sender = request.form.get("From", "")
    if not sid or not sender:
        abort(400)
    outcome = handle_inbound(sid, sender, without_forbidden(request.form.get("Body", "")))
    return _twiml(outcome.reply)


@webhooks.post("/twilio/status")
def status_callback():
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    status = request.form.get("MessageStatus") or request.form.get("SmsStatus") or ""
    if not sid or not status:
        abort(400)
    record_status(sid, status, request.form.get("ErrorCode"))
    return Response("", status=200)
