"""When to try a message again after a transient failure (pure: randomness passed in)."""
from __future__ import annotations

from datetime import timedelta


def retry_delay(failures: int, *, base_seconds: float, max_seconds: float, jitter: float) -> timedelta:
    """Exponential backoff with jitter: base * 2^(failures-1), capped, then scaled into
    [half, all] of itself by `jitter` in [0, 1), so workers that failed together do not
    retry together. With base 30 s the first retry comes within 15-30 s."""
    if failures < 1:
        raise ValueError("failures counts from 1")
    ceiling = min(max_seconds, base_seconds * 2 ** min(failures - 1, 30))
    return timedelta(seconds=ceiling * (0.5 + 0.5 * jitter))
