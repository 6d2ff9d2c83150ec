"""What a use case can refuse, in terms the web layer maps to HTTP."""
from __future__ import annotations

from scheduler.domain.availability import Slot


class ServiceError(Exception):
    pass


class NotFound(ServiceError):
    """404: the thing asked for does not exist (or the link is not valid)."""


class ValidationFailed(ServiceError):
    """422 / form re-render: one message per field."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in fields.items()))
        self.fields = fields


class SlotUnavailable(ServiceError):
    """409: the time was taken (possibly a moment ago); here are the nearest open ones."""

    def __init__(self, alternatives: list[Slot]) -> None:
        super().__init__("slot unavailable")
        self.alternatives = alternatives


class ChangeNotAllowed(ServiceError):
    """409: the appointment can no longer be changed online (too close, or not open)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class AlreadyBooked(ServiceError):
    """409: this patient already holds an appointment at an overlapping time (often a
    double-pressed "Book" button); booking again would leave them two visits at once."""

    def __init__(self, message: str, appointment_id: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The patient's visit in the way, so a page can point to it (never shown to the API).
        self.appointment_id = appointment_id
