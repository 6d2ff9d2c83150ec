"""Characters no text from outside may carry, whatever the field.

NUL cannot be stored in PostgreSQL text at all; other control characters, lone surrogates
and the bidirectional overrides (which make "gpj.exe" read as "exe.jpg") are never typed by
a person; U+FFFD is what invalid UTF-8 turns into when it is decoded leniently. Fields with
stricter rules (names, notes, reasons) check more on top of this.
"""
from __future__ import annotations

import re

# C0 and C1 controls and DEL, lone surrogates, bidi embeddings/overrides/isolates (the marks
# U+200E/U+200F are left to the per-field rules), the replacement character, noncharacters.
_ALWAYS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\ufffd\ufffe\uffff"
_FORBIDDEN_IN_TEXT = re.compile(f"[{_ALWAYS}]")
_FORBIDDEN_ON_ONE_LINE = re.compile(f"[{_ALWAYS}\t\n\r]")


def forbidden_character(text: str, *, allow_line_breaks: bool) -> str | None:
    """The first character of `text` that no input may carry, or None. Tab, CR and LF are
    allowed only where the text may span lines (a textarea), never in a URL."""
    pattern = _FORBIDDEN_IN_TEXT if allow_line_breaks else _FORBIDDEN_ON_ONE_LINE
    match = pattern.search(text)
    return match.group() if match else None


def describe(ch: str) -> str:
    """How a refused character is named in messages and logs: U+0000, never the character."""
    return f"U+{ord(ch):04X}"


def without_forbidden(text: str) -> str:
    """`text` with every character no input may carry taken out (line breaks kept): for text
    that is better kept than refused, such as a patient's SMS relayed by a webhook."""
    return _FORBIDDEN_IN_TEXT.sub("", text)
