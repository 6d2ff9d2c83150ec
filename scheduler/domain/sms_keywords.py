"""What a patient's text back means (pure). Case, spaces, accents and punctuation are ignored.

YES has three meanings; which one wins, in order:
1. a STOP word always opts out;
2. YES (or SI) while a waitlist offer is held for that number takes the offer (the carrier
   re-subscribes a number that texts YES, so an opted-out number is opted back in as well);
3. YES (or SI) when the newest text sent to that number was a waitlist offer no longer held
   (expired, or the time was taken) is told the time is gone;
4. YES from an opted-out number opts back in (the carrier's rule);
5. otherwise YES confirms the patient's next visit.
"""
from __future__ import annotations

import unicodedata
from enum import StrEnum


class Intent(StrEnum):
    CONFIRM = "confirm"
    RESCHEDULE = "reschedule"
    STOP = "stop"
    START = "start"
    HELP = "help"
    TAKE_OFFER = "take_offer"
    OFFER_GONE = "offer_gone"
    OTHER = "other"


CONFIRM_WORDS = frozenset({"C", "CONFIRM", "YES", "SI", "CONFIRMAR"})
RESCHEDULE_WORDS = frozenset({"R", "CAMBIAR"})
# Twilio's opt-out keywords and their Spanish counterparts: the carrier stops delivery too.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
                        "ALTO", "PARAR", "BAJA"})
START_WORDS = frozenset({"START", "UNSTOP"})
OFFER_WORDS = frozenset({"YES", "SI"})  # what a waitlist offer asks for
HELP_WORDS = frozenset({"HELP", "AYUDA"})
SPANISH_WORDS = frozenset({"SI", "CONFIRMAR", "CAMBIAR", "ALTO", "PARAR", "BAJA", "AYUDA"})


def normalize(body: str) -> str:
    """'  sí. ' -> 'SI': upper case, accents dropped, only letters and digits kept."""
    decomposed = unicodedata.normalize("NFKD", body)
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch)).upper()


def interpret(body: str, *, opted_out: bool, offer_held: bool = False, offer_last: bool = False) -> Intent:
    """See the module's order. `offer_held`: a waitlist offer is held for the number;
    `offer_last`: the newest text sent to it was a waitlist offer."""
    word = normalize(body)
    if word in STOP_WORDS:
        return Intent.STOP
    if word in OFFER_WORDS and offer_held:
        return Intent.TAKE_OFFER
    if word in OFFER_WORDS and offer_last:
        return Intent.OFFER_GONE
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
