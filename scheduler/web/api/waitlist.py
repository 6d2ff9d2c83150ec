"""The public waitlist: join it for an opening (or update the preferences), and leave it
through the private link the answer gives."""
from __future__ import annotations

from flask import Blueprint, jsonify

from scheduler.services.waitlist import entries as waitlist
from scheduler.web.api.base import json_body
from scheduler.web.common.limits import booking_limit, manage_limit
from scheduler.web.common.presenters import external_url
from scheduler.web.common.site import current_language

waitlist_api = Blueprint("waitlist", __name__)


def _waitlist_json(entry, token: str | None = None) -> dict:
    answer = {"id": entry.id, "status": entry.status}
    if token is not None:
        answer["leave_url"] = external_url("api.waitlist.leave", token=token)
    return answer


@waitlist_api.post("/waitlist")
@booking_limit
def join():
    """Join (or, for the same patient and service, update) the waitlist: 201 new, 200 updated."""
    joined = waitlist.join(json_body("WaitlistRequest"), language=current_language())
    return jsonify(_waitlist_json(joined.entry, joined.leave_token)), 201 if joined.created else 200


@waitlist_api.post("/waitlist/<token>/leave")
@manage_limit
def leave(token: str):
    return jsonify(_waitlist_json(waitlist.leave(waitlist.entry_for_token(token))))
