"""Half-open [start, end) intervals of instants: the one overlap rule used everywhere."""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter


@dataclass(frozen=True, order=True)
class Interval:
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"empty or reversed interval: {self.start} .. {self.end}")

    def overlaps(self, other: Interval) -> bool:
        # Half-open: [9:00, 10:00) and [10:00, 11:00) touch but do not overlap.
        return self.start < other.end and other.start < self.end

    def contains(self, other: Interval) -> bool:
        return self.start <= other.start and other.end <= self.end


_edges = attrgetter("start", "end")


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping, non-touching cover of the given intervals."""
    merged: list[Interval] = []
    for current in sorted(intervals, key=_edges):  # a C-level key, not the dataclass's __lt__
        if merged and current.start <= merged[-1].end:
            last = merged[-1]
            if current.end > last.end:
                merged[-1] = Interval(last.start, current.end)
        else:
            merged.append(current)
    return merged


def subtract(base: Interval, holes: Iterable[Interval]) -> list[Interval]:
    """The parts of `base` not covered by any hole."""
    free: list[Interval] = []
    cursor = base.start
    for hole in merge(holes):
        if hole.end <= cursor or hole.start >= base.end:
            continue
        if hole.start > cursor:
            free.append(Interval(cursor, hole.start))
        cursor = max(cursor, hole.end)
        if cursor >= base.end:
            break
    if cursor < base.end:
        free.append(Interval(cursor, base.end))
    return free


class BusyIndex:
    """Answers "does [start, end) hit anything busy?" in O(log n) over a merged list."""

    def __init__(self, busy: Iterable[Interval]) -> None:
        self._merged: Sequence[Interval] = merge(busy)
        # Parallel lists of the merged intervals' edges, for bisecting and for walking along.
        self.starts: list[datetime] = [interval.start for interval in self._merged]
        self.ends: list[datetime] = [interval.end for interval in self._merged]

    def is_free(self, candidate: Interval) -> bool:
        return self.is_free_between(candidate.start, candidate.end)

    def is_free_between(self, start: datetime, end: datetime) -> bool:
        """is_free for [start, end) without building an Interval."""
        # The first merged interval ending after `start` is the only one that can hit.
        i = bisect_right(self.ends, start)
        return i >= len(self.starts) or self.starts[i] >= end
