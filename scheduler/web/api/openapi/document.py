"""The OpenAPI 3.1 description of the JSON API v1 (tests check responses against it),
assembled from one part per module of the API, and what reads request bodies by it."""
from __future__ import annotations

from functools import lru_cache

from scheduler.web.api.openapi.courses import COURSE_SCHEMAS, course_paths
from scheduler.web.api.openapi.public import PUBLIC_SCHEMAS, public_paths
from scheduler.web.api.openapi.settings import SETTINGS_SCHEMAS, settings_paths
from scheduler.web.api.openapi.shapes import INVALID, json_response, ref
from scheduler.web.api.openapi.staff import STAFF_SCHEMAS, staff_paths
from scheduler.web.api.openapi.waitlist import WAITLIST_SCHEMAS, waitlist_paths

__all__ = ["openapi_document", "unknown_fields"]

SCHEMAS = {**PUBLIC_SCHEMAS, **WAITLIST_SCHEMAS, **STAFF_SCHEMAS, **COURSE_SCHEMAS, **SETTINGS_SCHEMAS}


def unknown_fields(body: dict, schema_name: str) -> list[str]:
    """Keys of a request body (and of its documented nested objects) that the schema, closed
    with additionalProperties: false, does not name: a misspelt "provider" must not quietly
    mean "first available"."""
    return _unknown(body, ref(schema_name), "")


def _unknown(value: object, schema: dict, prefix: str) -> list[str]:
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [key for index, item in enumerate(value, 1) for key in _unknown(item, schema["items"], f"{prefix}{index}.")]
    if not isinstance(value, dict) or "properties" not in schema:
        return []
    unknown = []
    for key, item in value.items():
        described = schema["properties"].get(key)
        if described is None:
            if schema.get("additionalProperties", True) is False:
                unknown.append(f"{prefix}{key}")
        else:
            unknown += _unknown(item, described, f"{prefix}{key}.")
    return unknown


# Answers any operation can give, whatever it is: the input guard's
# (scheduler/web/common/input_guard.py) and the size limit's. Added to every operation, those
# described in the parts and any added later.
COMMON_RESPONSES = {
    "413": json_response(ref("Error"), "The request body is larger than the server takes (MAX_CONTENT_LENGTH)"),
    "414": {"description": "The address is longer than the server reads (gunicorn's request line limit)"},
    "422": INVALID,
}


def _with_common_responses(document: dict) -> dict:
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                for status, response in COMMON_RESPONSES.items():
                    operation["responses"].setdefault(status, response)
    return document


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    return _with_common_responses(_document())


def _document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Clinic scheduler API",
            "version": "1.0.0",
            "description": "Online booking of the clinic's services. Times carry their UTC offset; "
            "dates are clinic-local.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": {
            **public_paths(),
            **waitlist_paths(),
            **staff_paths(),
            **course_paths(),
            **settings_paths(),
        },
        "components": {
            "schemas": dict(SCHEMAS),
            "securitySchemes": {
                "staffToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A staff API token (flask create-api-token EMAIL); sent as Authorization: Bearer",
                }
            },
        },
    }
