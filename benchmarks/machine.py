"""How busy the whole machine was between two readings (every process, from /proc/stat).

A phase that keeps every core busy is limited by the machine, not by the code it measures:
the benchmarks print this beside their rates so the reader can tell the two apart."""
from __future__ import annotations

import os
from pathlib import Path

STAT = Path("/proc/stat")


def cpu_ticks() -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores since boot; None where /proc/stat does not exist."""
    try:
        fields = [int(x) for x in STAT.read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


class BusyMeter:
    """Cores in use on average between start and `read()`: 2.0 means two cores fully busy."""

    def __init__(self) -> None:
        self.start = cpu_ticks()

    def read(self) -> float | None:
        end = cpu_ticks()
        if self.start is None or end is None or end[1] == self.start[1]:
            return None
        busy, total = end[0] - self.start[0], end[1] - self.start[1]
        return round(busy / total * (os.cpu_count() or 1), 2)
