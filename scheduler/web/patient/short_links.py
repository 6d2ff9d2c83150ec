"""The short links texts and emails carry (/l/<code>): each leads to one visit's private page."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, request, url_for

from scheduler.services.messages import links as message_links
from scheduler.web.common.limits import manage_limit

short_links = Blueprint("short_links", __name__)


@short_links.get("/l/<code>")
@manage_limit
def short_link(code: str):
    token = message_links.manage_token_for_code(code)
    if token is None:
        abort(404)
    # The private page speaks the patient's stored language; a ?lang on the link goes along.
    extra = {"lang": request.args["lang"]} if request.args.get("lang") else {}
    response = redirect(url_for("patient.manage.show", token=token, **extra), code=303)
    response.headers["Cache-Control"] = "no-store"
    return response
