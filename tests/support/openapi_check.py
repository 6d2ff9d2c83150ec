"""Checks real API traffic against the published OpenAPI 3.1 document.

`ApiContract(document)` finds the operation for a method and path, then validates

- a response: its status code must be documented for that operation, its media type must be
  the documented one, and its JSON body must satisfy the documented schema;
- a request body: it must satisfy the documented request schema.

Schemas are checked with JSON Schema Draft 2020-12; `#/components/...` references resolve
against the whole document, and formats (date-time, date, email, uri) are enforced.
"""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:clinic-scheduler:openapi"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ContractViolation(AssertionError):
    pass


def format_checker() -> FormatChecker:
    """Draft 2020-12 formats, with `date-time` required to really be checked."""
    checker = FormatChecker()
    if "date-time" not in checker.checkers:  # pragma: no cover - needs rfc3339-validator
        raise RuntimeError("date-time format checking is not available (install rfc3339-validator)")

    @checker.checks("date", raises=ValueError)
    def is_date(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return False
        date.fromisoformat(value)
        return True

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        if not isinstance(value, str):
            return True
        parts = urlsplit(value)
        return bool(parts.scheme) and (parts.scheme in {"mailto", "urn"} or bool(parts.netloc)) and " " not in value

    return checker


def _pointer(*segments: str) -> str:
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


class ApiContract:
    def __init__(self, document: dict) -> None:
        self.document = document
        self.base_path = urlsplit(document.get("servers", [{"url": ""}])[0]["url"]).path.rstrip("/")
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.formats = format_checker()
        self._templates = [
            (template, re.compile("^" + re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(template)) + "$"))
            for template in document["paths"]
        ]

    # --- finding the operation ---------------------------------------------------------

    def operation(self, method: str, path: str) -> tuple[str, dict]:
        """(path template, operation object) for a request path such as /api/v1/bookings/abc."""
        path = urlsplit(path).path
        if self.base_path:
            if not path.startswith(self.base_path + "/"):
                raise ContractViolation(f"{path} is not under the server URL {self.base_path}")
            path = path[len(self.base_path):]
        # A literal template (/bookings) wins over a templated one (/bookings/{token}), and of
        # two with as many parameters the one with more literal text (/courses/{id}.ics over
        # /courses/{id}): the document's order of paths means nothing.
        matches = sorted(
            (template for template, pattern in self._templates if pattern.match(path)),
            key=lambda t: (t.count("{"), -len(re.sub(r"\{[^}/]+\}", "", t))),
        )
        if not matches:
            raise ContractViolation(f"{path} is not described in the document")
        template = matches[0]
        operation = self.document["paths"][template].get(method.lower())
        if operation is None:
            raise ContractViolation(f"{method.upper()} {template} is not described in the document")
        return template, operation

    # --- validating ---------------------------------------------------------------------

    def schema_errors(self, instance: object, *pointer: str) -> list[str]:
        validator = Draft202012Validator(
            {"$ref": DOCUMENT_URI + "#" + _pointer(*pointer)},
            registry=self.registry,
            format_checker=self.formats,
        )
        return [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.absolute_path)))
        ]

    def check_response(self, response, method: str | None = None, path: str | None = None):
        """Validates a Flask test response against the document; returns its JSON body."""
        method = method or response.request.method
        path = path or response.request.path
        template, operation = self.operation(method, path)
        status = str(response.status_code)
        responses = operation.get("responses", {})
        key = status if status in responses else f"{status[0]}XX" if f"{status[0]}XX" in responses else "default"
        if key not in responses:
            raise ContractViolation(
                f"{method.upper()} {template} answered {status}, which is not documented "
                f"(documented: {', '.join(sorted(responses))}); body: {response.get_data(as_text=True)[:500]}"
            )
        content = responses[key].get("content")
        if not content:
            if response.get_data():
                raise ContractViolation(f"{method.upper()} {template} {status} has a body but documents none")
            return None
        if response.mimetype not in content:
            raise ContractViolation(
                f"{method.upper()} {template} {status} answered {response.mimetype}, documented {sorted(content)}"
            )
        if response.mimetype != "application/json":  # a calendar file: its type is the contract
            return response.get_data(as_text=True)
        body = response.get_json()
        errors = self.schema_errors(
            body, "paths", template, method.lower(), "responses", key, "content", response.mimetype, "schema"
        )
        if errors:
            raise ContractViolation(
                f"{method.upper()} {template} {status} does not match the document:\n  "
                + "\n  ".join(errors)
                + f"\nbody: {body!r}"
            )
        return body

    def check_request(self, method: str, path: str, body: object, media_type: str = "application/json") -> None:
        """Raises if `body` does not satisfy the documented request schema."""
        errors = self.request_errors(method, path, body, media_type)
        if errors:
            raise ContractViolation(f"request to {method.upper()} {path} does not match the document:\n  "
                                    + "\n  ".join(errors))

    def request_errors(self, method: str, path: str, body: object, media_type: str = "application/json") -> list[str]:
        template, operation = self.operation(method, path)
        request_body = operation.get("requestBody")
        if request_body is None:
            raise ContractViolation(f"{method.upper()} {template} documents no request body")
        if media_type not in request_body.get("content", {}):
            raise ContractViolation(f"{method.upper()} {template} does not accept {media_type}")
        return self.schema_errors(
            body, "paths", template, method.lower(), "requestBody", "content", media_type, "schema"
        )


def documented_operations(document: dict) -> set[tuple[str, str]]:
    """{(METHOD, /full/path/template)} for every operation in the document."""
    base = urlsplit(document.get("servers", [{"url": ""}])[0]["url"]).path.rstrip("/")
    return {
        (method.upper(), base + template)
        for template, item in document["paths"].items()
        for method in item
        if method in METHODS
    }
