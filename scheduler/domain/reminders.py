"""When a patient's messages go out: offsets before the visit, the send window, the visit's start.

Pure: instants in, instants out (aware datetimes; `now` and the clinic's zone are passed in).

The rules, in one place:

- A notice caused by the patient's own action (booking online, a change through the private
  link, an SMS reply) is due at once, at any hour.
- Everything else (reminders, notices the desk or the system causes) goes only inside the
  send window (clinic wall time, e.g. 08:00-21:00), and never at or after the visit's start
  (`send_before`).
- A reminder planned outside the window is deferred FORWARD to the next opening when that
  still leaves at least half of its lead (a 2 h reminder at 06:30 for a 08:30 visit would
  arrive 30 min before: too late); otherwise it is pulled BACK to the evening before (the
  window's close minus `PULL_BACK_MARGIN`, so a worker that ticks late still sends it inside
  the window), provided that is not already past; failing both, the next opening if it is
  still before the visit. Only a reminder that cannot arrive inside the window before the
  visit is not planned.
- A reminder whose time was already past when the visit was booked is not sent late.
- Two reminders on one channel that would arrive within `REMINDER_MIN_SPACING` of each other
  are one too many: the later one (the shorter offset) is not planned.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

PULL_BACK_MARGIN = timedelta(minutes=30)
REMINDER_MIN_SPACING = timedelta(hours=1)
# Course visits after a gap at least this long get the full reminder cadence again.
COURSE_LONG_GAP = timedelta(days=7)
MAX_OFFSET_HOURS = 24 * 14

PATIENT = "patient"
CHANNELS = ("email", "sms")


class Cadence(StrEnum):
    FULL = "full"      # a single visit, a course's first visit, the first after a long gap
    COURSE = "course"  # the lighter cadence of routine course visits


# ---------------------------------------------------------------- the send window


@dataclass(frozen=True)
class SendWindow:
    """Clinic wall times between which messages may go: [opens, closes). `closes` None is
    midnight at the end of the day, so 00:00-24:00 is any time."""

    opens: time
    closes: time | None

    @property
    def any_time(self) -> bool:
        return self.opens == time(0) and self.closes is None

    def _edges(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        opens = datetime.combine(day, self.opens, tzinfo=tz).astimezone(UTC)
        if self.closes is None:
            closes = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)
        else:
            closes = datetime.combine(day, self.closes, tzinfo=tz).astimezone(UTC)
        return opens, closes

    def contains(self, instant: datetime, tz: ZoneInfo) -> bool:
        if self.any_time:
            return True
        opens, closes = self._edges(instant.astimezone(tz).date(), tz)
        return opens <= instant < closes

    def next_opening(self, instant: datetime, tz: ZoneInfo) -> datetime:
        """The first instant at or after `instant` inside the window."""
        if self.contains(instant, tz):
            return instant
        day = instant.astimezone(tz).date()
        opens, _ = self._edges(day, tz)
        if instant < opens:
            return opens
        return self._edges(day + timedelta(days=1), tz)[0]

    def last_before(self, instant: datetime, tz: ZoneInfo, margin: timedelta) -> datetime:
        """For an instant outside the window: the window's close before it, less `margin`
        (but not before that day's opening)."""
        day = instant.astimezone(tz).date()
        opens, closes = self._edges(day, tz)
        if instant < opens:
            opens, closes = self._edges(day - timedelta(days=1), tz)
        return max(opens, closes - margin)


_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")


def _wall_time(raw: str, *, allow_24: bool) -> time | None:
    match = _CLOCK.fullmatch(raw.strip())
    if not match:
        raise ValueError(f"{raw.strip()!r} is not a time like 08:00")
    hours, minutes = int(match[1]), int(match[2])
    if allow_24 and (hours, minutes) == (24, 0):
        return None
    if hours > 23 or minutes > 59:
        raise ValueError(f"{raw.strip()!r} is not a time of day")
    return time(hours, minutes)


def parse_window(raw: str) -> SendWindow:
    """"08:00-21:00" (clinic wall time); "00:00-24:00" means any time. Raises ValueError."""
    parts = raw.split("-")
    if len(parts) != 2:
        raise ValueError(f"{raw!r} is not a window like 08:00-21:00")
    opens = _wall_time(parts[0], allow_24=False)
    closes = _wall_time(parts[1], allow_24=True)
    if closes is not None and closes <= opens:
        raise ValueError(f"{raw!r}: the window must close after it opens, on the same day")
    return SendWindow(opens, closes)


def parse_offsets(raw: str) -> tuple[timedelta, ...]:
    """"48" or "24,2" or "1.5" hours before the visit ("" for none), largest first.
    Raises ValueError."""
    offsets: set[timedelta] = set()
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            hours = float(part)
        except ValueError:
            raise ValueError(f"{part!r} is not a number of hours") from None
        if not math.isfinite(hours) or hours <= 0 or hours > MAX_OFFSET_HOURS:
            raise ValueError(f"{part!r}: an offset must be more than 0 and at most {MAX_OFFSET_HOURS} hours")
        offsets.add(timedelta(hours=hours))
    return tuple(sorted(offsets, reverse=True))


@dataclass(frozen=True)
class Policy:
    """The reminder offsets per channel and cadence, and the send window."""

    window: SendWindow
    email_offsets: tuple[timedelta, ...]
    sms_offsets: tuple[timedelta, ...]
    course_email_offsets: tuple[timedelta, ...]
    course_sms_offsets: tuple[timedelta, ...]

    def offsets(self, channel: str, cadence: Cadence) -> tuple[timedelta, ...]:
        if cadence is Cadence.COURSE:
            return self.course_sms_offsets if channel == "sms" else self.course_email_offsets
        return self.sms_offsets if channel == "sms" else self.email_offsets


DEFAULT_POLICY = Policy(
    window=SendWindow(time(8), time(21)),
    email_offsets=(timedelta(hours=48),),
    sms_offsets=(timedelta(hours=24), timedelta(hours=2)),
    course_email_offsets=(),
    course_sms_offsets=(timedelta(hours=24),),
)


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class Channels:
    """Where this patient can be reached now."""

    sms: bool
    email: bool

    def names(self) -> tuple[str, ...]:
        return tuple(c for c in CHANNELS if getattr(self, c))


@dataclass(frozen=True)
class Planned:
    channel: str
    kind: str
    planned_for: datetime  # the moment the rules asked for
    due_at: datetime       # when it may go, after the send window
    send_before: datetime | None


def plan_reminders(
    visit_start: datetime,
    now: datetime,
    channels: Channels,
    cadence: Cadence,
    policy: Policy,
    tz: ZoneInfo,
) -> list[Planned]:
    planned: list[Planned] = []
    for channel in channels.names():
        dues: list[datetime] = []
        for offset in policy.offsets(channel, cadence):  # largest first
            wanted = visit_start - offset
            if wanted < now:
                continue  # already past at booking: not sent late
            due = reminder_due(wanted, offset, visit_start, now, policy.window, tz)
            if due is None or any(abs(due - other) < REMINDER_MIN_SPACING for other in dues):
                continue
            dues.append(due)
            planned.append(Planned(channel, "reminder", wanted, due, visit_start))
    return planned


def reminder_due(
    wanted: datetime, offset: timedelta, visit_start: datetime, now: datetime, window: SendWindow, tz: ZoneInfo
) -> datetime | None:
    """Where a reminder wanted at `wanted` goes (see the module's rules), None if nowhere."""
    if window.contains(wanted, tz):
        return wanted
    forward = window.next_opening(wanted, tz)
    if forward <= visit_start - offset / 2:
        return forward
    back = window.last_before(wanted, tz, PULL_BACK_MARGIN)
    if now <= back < visit_start:
        return back
    if forward < visit_start:
        return forward
    return None


def plan_notice(
    kind: str,
    channels: Channels,
    cause: str,
    now: datetime,
    send_before: datetime | None,
    window: SendWindow,
    tz: ZoneInfo,
) -> list[Planned]:
    """A confirmation, change or cancellation notice (or a welcome, or links): at once when the
    patient caused it, else at the window's next opening; not planned when that would be at or
    after `send_before`."""
    due = now if cause == PATIENT else window.next_opening(now, tz)
    if send_before is not None and due >= send_before:
        return []
    return [Planned(channel, kind, now, due, send_before) for channel in channels.names()]


def course_cadences(visit_starts: list[datetime], earlier_visit: datetime | None = None) -> list[Cadence]:
    """The cadence of each visit of a course, in the order given (sorted by start).

    The course's first visit (none `earlier_visit` before it) and the first visit after a gap of
    `COURSE_LONG_GAP` or more get the full cadence: that is when patients forget; the routine
    visits in between get the lighter one."""
    cadences = []
    previous = earlier_visit
    for start in visit_starts:
        full = previous is None or start - previous >= COURSE_LONG_GAP
        cadences.append(Cadence.FULL if full else Cadence.COURSE)
        previous = start
    return cadences


# ---------------------------------------------------------------- at send time


@dataclass(frozen=True)
class SendFacts:
    """What the worker re-reads just before sending."""

    kind: str
    cause: str
    send_before: datetime | None
    channel_allowed: bool           # SMS consent and no opt-out / an email address
    appointment_cancelled: bool     # the visit (or course) was cancelled since
    appointment_started: bool = False  # the visit's start (for messages without send_before)


@dataclass(frozen=True)
class Decision:
    action: str  # "send", "defer", "expire"
    until: datetime | None = None
    reason: str = ""


SEND = Decision("send")


def send_decision(facts: SendFacts, now: datetime, window: SendWindow, tz: ZoneInfo) -> Decision:
    if facts.appointment_cancelled and facts.kind != "cancellation":
        return Decision("expire", reason="appointment_cancelled")
    if (facts.send_before is not None and now >= facts.send_before) or facts.appointment_started:
        return Decision("expire", reason="visit_started")
    if not facts.channel_allowed:
        return Decision("expire", reason="channel_not_allowed")
    if facts.cause == PATIENT or window.contains(now, tz):
        return SEND
    until = window.next_opening(now, tz)
    if facts.send_before is not None and until >= facts.send_before:
        return Decision("expire", reason="window_closed_until_visit")
    return Decision("defer", until=until, reason="outside_send_window")


# ---------------------------------------------------------------- SMS segments

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")  # an escape plus the character: 2 septets each


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def sms_segments(text: str) -> tuple[str, int]:
    """("GSM-7" | "UCS-2", segments). GSM-7: 160 septets in one, 153 per part of a longer one
    (an escaped pair is never split); UCS-2 (any character outside GSM-7): 70 UTF-16 units in
    one, 67 per part (a surrogate pair is never split)."""
    if is_gsm7(text):
        units = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        return "GSM-7", _parts(units, single=160, part=153)
    units = [len(ch.encode("utf-16-le")) // 2 for ch in text]
    return "UCS-2", _parts(units, single=70, part=67)


def _parts(units: list[int], *, single: int, part: int) -> int:
    if sum(units) <= single:
        return 1
    count, used = 1, 0
    for size in units:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return count


# Letters a Spanish text may carry that GSM-7 lacks, and the nearest it has (what phones'
# "smart encoding" does): keeps a text with "sábado" in 160-character parts.
_GSM7_FOLD = str.maketrans({
    "á": "a", "í": "i", "ó": "o", "ú": "u", "Á": "A", "Í": "I", "Ó": "O", "Ú": "U",
    "ç": "Ç", "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2019": "'", "\u2018": "'",
    "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-", "\u2026": "...",
})


def fold_to_gsm7(text: str) -> str:
    return text.translate(_GSM7_FOLD)


# ---------------------------------------------------------------- settings

POLICY_SETTINGS = (
    "MESSAGE_SEND_WINDOW",
    "REMINDER_EMAIL_OFFSETS_HOURS",
    "REMINDER_SMS_OFFSETS_HOURS",
    "COURSE_REMINDER_EMAIL_OFFSETS_HOURS",
    "COURSE_REMINDER_SMS_OFFSETS_HOURS",
)


class PolicySettingError(ValueError):
    """A messaging setting that cannot be used; the message names the setting."""


def policy_from_settings(settings) -> Policy:
    """The policy from the five settings (a mapping such as Flask's config)."""
    parsed = {}
    for name in POLICY_SETTINGS:
        raw = settings.get(name)
        if raw is None:
            raise PolicySettingError(f"{name} is not set")
        try:
            parsed[name] = parse_window(str(raw)) if name == "MESSAGE_SEND_WINDOW" else parse_offsets(str(raw))
        except ValueError as problem:
            raise PolicySettingError(f"{name}={raw!r}: {problem}") from None
    return Policy(
        window=parsed["MESSAGE_SEND_WINDOW"],
        email_offsets=parsed["REMINDER_EMAIL_OFFSETS_HOURS"],
        sms_offsets=parsed["REMINDER_SMS_OFFSETS_HOURS"],
        course_email_offsets=parsed["COURSE_REMINDER_EMAIL_OFFSETS_HOURS"],
        course_sms_offsets=parsed["COURSE_REMINDER_SMS_OFFSETS_HOURS"],
    )
