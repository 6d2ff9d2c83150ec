"""What a patient's text back means (pure). Case, spaces, accents and punctuation are ignored."""
from __future__ import annotations

import unicodedata
from enum import StrEnum


class Intent(StrEnum):
    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"
    STOP = "stop"
    START = "start"
    HELP = "help"
    OTHER = "other"


CONFIRM_WORDS = frozenset({"C", "CONFIRM", "YES", "SI", "CONFIRMAR"})
RESCHEDULE_WORDS = frozenset({"R", "CAMBIAR"})
# Twilio's opt-out keywords and their Spanish counterparts: the carrier stops delivery too.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
                        "ALTO", "PARAR", "BAJA"})
START_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "AYUDA"})
SPANISH_WORDS = frozenset({"SI", "CONFIRMAR", "CAMBIAR", "ALTO", "PARAR", "BAJA", "AYUDA"})


def normalize(body: str) -> str:
    """'  sí. ' -> 'SI': upper case, accents dropped, only letters and digits kept."""
    decomposed = unicodedata.normalize("NFKD", body)
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).upper()


def interpret(body: str, *, opted_out: bool) -> Intent:
    """YES after a STOP opts back in (the carrier's rule) rather than confirming."""
    word = normalize(body)
    if word in STOP_WORDS:
        return Intent.STOP
    if word in START_WORDS or (opted_out and word == "YES"):
        return Intent.START
    if word in CONFIRM_WORDS:
        return Intent.CONFIRM
    if word in RESCHEDULE_WORDS:
        return Intent.RESCHEDULE
    if word in HELP_WORDS:
        return Intent.HELP
    return Intent.OTHER


def looks_spanish(body: str) -> bool:
    return normalize(body) in SPANISH_WORDS
