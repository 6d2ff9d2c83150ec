"""The answer that carries a calendar file (.ics): a visit's, a course's, a feed."""
from __future__ import annotations

from flask import Response


def ics_response(body: bytes, filename: str) -> Response:
    """A calendar file: private to whoever holds the link, never kept by shared caches."""
    return Response(
        body,
        content_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )
