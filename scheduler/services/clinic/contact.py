"""The clinic's own contact details and disclaimer, shown on every page and in every message."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import phonenumbers


@dataclass(frozen=True)
class PhoneNumber:
    display: str  # as the clinic writes it: 915-850-0900
    e164: str     # for tel: links and SMS: +19158500900

    @property
    def tel_href(self) -> str:
        return f"tel:{self.e164}"


@dataclass(frozen=True)
class Disclaimer:
    heading: str
    paragraphs: tuple[str, ...]


@lru_cache(maxsize=16)
def phone_number(display: str, region: str = "US") -> PhoneNumber:
    """Parsed once per configured number, not on every page. Reads only."""
    parsed = phonenumbers.parse(display, region)
    return PhoneNumber(display, phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))


def disclaimer_source(base_path: str, language: str) -> str:
    """The text of `disclaimer.<lang>.txt` beside the configured file (English as the fallback):
    the first version of the clinic's details is seeded from it. Reads only."""
    base = Path(base_path)
    candidates = [base.with_name(f"disclaimer.{language}.txt"), base.with_name("disclaimer.en.txt"), base]
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"no disclaimer file near {base_path}")


@lru_cache(maxsize=64)
def parse_disclaimer(text: str) -> Disclaimer:
    """Plain text: the first paragraph is the heading, blank lines separate the rest.
    Raises ValueError when there is no text at all. Reads only."""
    blocks = [" ".join(b.split()) for b in text.replace("\r\n", "\n").split("\n\n")]
    blocks = [b for b in blocks if b]
    if not blocks:
        raise ValueError("the disclaimer is empty")
    return Disclaimer(blocks[0], tuple(blocks[1:]))


@lru_cache(maxsize=16)
def load_disclaimer(base_path: str, language: str) -> Disclaimer:
    """The disclaimer beside the configured file in a language, read and parsed once per
    process. Reads only."""
    return parse_disclaimer(disclaimer_source(base_path, language))
