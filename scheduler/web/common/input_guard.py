"""One gate for everything a request carries, before any view sees it.

Every route gets the same protection, including the ones added later:

- the address (path and query string) must be valid UTF-8 without control, bidi-override
  or unreadable characters; form fields and JSON strings may add line breaks and nothing else
  (NUL in particular cannot be stored in PostgreSQL and used to end in a 500);
- JSON bodies are parsed once here, nested at most MAX_JSON_DEPTH deep; a body deep enough
  to exhaust the parser's recursion is refused instead of crashing;
- bodies larger than MAX_CONTENT_LENGTH are refused (413) before a byte of them is read;
- HEAD is answered exactly like GET: a view registered for GET and POST must never run its
  POST branch (and write) for a HEAD, which skips CSRF and the write rate limits.

A view that must take any text as it comes (a provider's webhook relaying a patient's SMS,
which is better kept than refused) is marked with @takes_any_text: its form fields and JSON
strings are not checked for characters (sizes, nesting and UTF-8 still are), and the view
cleans what it stores itself.

Refusals: the API (and any JSON request) gets 422 `validation_failed` with a message for the
field; pages get the error page saying what was wrong, 422 for a submitted form, 400 for a
query string; a path that cannot be read is simply not found.
"""
from __future__ import annotations

from functools import cached_property
from urllib.parse import parse_qsl, unquote_to_bytes

from flask import Flask, Request, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound, RequestEntityTooLarge

from scheduler.domain.patient_details import N_
from scheduler.domain.text_safety import describe, forbidden_character
from scheduler.extensions import db

MAX_JSON_DEPTH = 32

BAD_CHARACTER = N_("Contains a character that is not allowed (%(character)s).")
NOT_UTF8 = N_("Is not valid UTF-8 text.")
TOO_DEEP = N_("The JSON body is nested too deeply.")
OUT_OF_RANGE = N_("A value is out of range.")


class InputRejected(Exception):
    """A field that no view should ever see; `message` is marked for translation."""

    def __init__(self, field: str, message: str, *, in_body: bool = True, **params: str) -> None:
        super().__init__(f"{field}: {message % params if params else message}")
        self.field = field
        self.message = message
        self.in_body = in_body  # a submitted form or body (422), or the address (400)
        self.params = params


class GuardedRequest(Request):
    """Flask's request, whose query string and JSON parser cannot be crashed.

    Python's json module recurses once per level and raises RecursionError (not the
    ValueError that get_json turns into "no JSON") around a thousand levels deep: without
    this, `[[[[...]]]]` answered 500 wherever a view read the body.
    """

    @cached_property
    def args(self) -> MultiDict[str, str]:
        """Werkzeug decodes the raw query string as strict UTF-8 and raised UnicodeDecodeError
        (a 500, wherever the first view, hook or locale selector read an argument) for a raw
        invalid byte; undecodable bytes become U+FFFD here, which the guard then refuses."""
        return self.parameter_storage_class(
            parse_qsl(self.query_string.decode("utf-8", "replace"), keep_blank_values=True, errors="werkzeug.url_quote")
        )

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True):
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            raise InputRejected("body", TOO_DEEP) from None


def _check_text(field: str, value: str, *, allow_line_breaks: bool, in_body: bool = True) -> None:
    bad = forbidden_character(value, allow_line_breaks=allow_line_breaks)
    if bad is not None:
        raise InputRejected(field, BAD_CHARACTER, in_body=in_body, character=describe(bad))


def _check_address() -> None:
    environ = request.environ
    try:
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
    except UnicodeError:
        raise NotFound() from None
    if forbidden_character(path, allow_line_breaks=False) is not None:
        raise NotFound()
    raw_query = environ.get("QUERY_STRING", "")
    if raw_query:
        try:
            unquote_to_bytes(raw_query.encode("latin-1")).decode("utf-8")
        except UnicodeError:
            raise InputRejected("query", NOT_UTF8, in_body=False) from None
    for key, value in request.args.items(multi=True):
        _check_text("query", key, allow_line_breaks=False, in_body=False)
        _check_text(key, value, allow_line_breaks=False, in_body=False)


def _check_json(body: object, *, characters: bool) -> None:
    """Every key and string of a parsed JSON body, and its depth; iterative, so depth cannot
    hurt it. `characters=False` checks the depth only."""
    stack: list[tuple[object, str, int]] = [(body, "body", 1)]
    while stack:
        value, field, depth = stack.pop()
        if isinstance(value, (dict, list)) and depth > MAX_JSON_DEPTH:
            raise InputRejected("body", TOO_DEEP)
        if isinstance(value, dict):
            for key, item in value.items():
                if characters:
                    _check_text(field, key, allow_line_breaks=False)
                stack.append((item, key, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, field, depth + 1) for item in value)
        elif isinstance(value, str) and characters:
            _check_text(field, value, allow_line_breaks=True)


def takes_any_text(view):
    """Marks a view whose form fields and JSON strings the guard leaves to the view."""
    view.takes_any_text = True
    return view


def _view_takes_any_text() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "takes_any_text", False))


def _check_body() -> None:
    limit = request.max_content_length
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()  # refused on the header: the body is never read
    if request.is_json:
        _check_json(request.get_json(silent=True), characters=not _view_takes_any_text())
    elif request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        if request.mimetype == "application/x-www-form-urlencoded":
            # Werkzeug would drop a field with raw invalid UTF-8 and keep "%FF" as three
            # characters: read the bytes first (form parsing reuses them).
            try:
                unquote_to_bytes(request.get_data(cache=True).replace(b"+", b" ")).decode("utf-8")
            except UnicodeError:
                raise InputRejected("form", NOT_UTF8) from None
        if _view_takes_any_text():
            return
        for key, value in request.form.items(multi=True):
            _check_text("form", key, allow_line_breaks=False)
            _check_text(key, value, allow_line_breaks=True)


def guard_request() -> None:
    if request.method == "HEAD":
        # Werkzeug still leaves out the body for HEAD (it reads the WSGI environ); every
        # view, limit and CSRF check sees a GET, so nothing a HEAD does can write.
        request.method = "GET"
    _check_address()
    _check_body()


def answers_in_json() -> bool:
    return request.path.startswith("/api/") or request.is_json


def input_rejected(error: InputRejected):
    message = _(error.message, **error.params)
    if answers_in_json():
        return jsonify({"error": "validation_failed", "fields": {error.field: message}}), 422
    page_message = _("Something you sent contains text we cannot accept (%(problem)s). Please go back and type it again.",
                     problem=message)
    status = 422 if error.in_body else 400
    return render_template("error.html", status=status, message=page_message), status


def value_out_of_range(error: DataError):
    """The database refused a value the checks let through (an id past PostgreSQL's integer,
    a date past its range): the request's fault, so a 422, never a 500. The transaction is
    rolled back; the error is logged so the missing check gets written."""
    db.session.rollback()
    current_app.logger.warning("database refused a request's value: %s", type(error.orig).__name__)
    return input_rejected(InputRejected("request", OUT_OF_RANGE))


def register_input_guard(app: Flask) -> None:
    """Call first in create_app, so this runs before CSRF and every other hook."""
    app.request_class = GuardedRequest
    app.before_request(guard_request)
    app.register_error_handler(InputRejected, input_rejected)
    app.register_error_handler(DataError, value_out_of_range)
