"""All models, importable from one place (and registered with the metadata)."""
from .appointment import OPEN_STATUSES, Appointment, AppointmentStatus, BookingSource
from .appointment_link import AppointmentLink
from .audit import ActorKind, AuditEvent
from .clinic import Closure, Provider, TimeOff, WorkingHours
from .clinic_versions import ClinicInfoVersion, MessagePolicyVersion
from .course import Course, CourseStatus
from .messaging import InboundMessage, Message, MessageCause, MessageStatus, WorkerRun
from .patient import Patient
from .service import Service
from .staff import ApiToken, Role, User
from .waitlist import (
    OfferStatus,
    OpeningStatus,
    TimeOfDay,
    WaitlistEntry,
    WaitlistOffer,
    WaitlistOpening,
    WaitlistStatus,
)

__all__ = [
    "ActorKind", "ApiToken", "Appointment", "AppointmentLink", "AppointmentStatus", "AuditEvent", "BookingSource",
    "ClinicInfoVersion", "Closure", "Course", "CourseStatus", "InboundMessage", "Message", "MessageCause", "MessageStatus", "MessagePolicyVersion",
    "OPEN_STATUSES", "Patient", "Provider", "Role", "Service", "TimeOff", "User",
    "OfferStatus", "OpeningStatus", "TimeOfDay", "WaitlistEntry", "WaitlistOffer", "WaitlistOpening", "WaitlistStatus", "WorkerRun", "WorkingHours",
]
