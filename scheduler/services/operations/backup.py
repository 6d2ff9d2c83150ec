"""A consistent copy of a SQLite database while the clinic keeps working.

sqlite3's online backup API copies the database page by page through SQLite itself, so the
copy is a snapshot of committed transactions only (never a half-written page, as copying the
file with `cp` can give while the WAL is being checkpointed). The copy is made in a single
step: the database runs in WAL mode, so that step holds only a read snapshot and writers go on
committing beside it. (Copying in small steps would let a write from another connection
restart the backup from the first page, and a busy clinic might never let it finish.)

The copy is written next to the target under a temporary name, checked with
`PRAGMA integrity_check`, switched to a self-contained file (no -wal beside it) and only
then renamed into place, so PATH is either a good backup or not there at all.
"""
from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path


class BackupRefused(Exception):
    """The backup cannot be made as asked; the message says why and what to do instead."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    seconds: float


def sqlite_file(database_url_path: str | None) -> Path:
    """The database file a SQLite URL names; BackupRefused for an in-memory database. Reads only."""
    if database_url_path in (None, "", ":memory:"):
        raise BackupRefused("The database is in memory: there is no file to back up.")
    return Path(database_url_path).resolve()


def backup_sqlite(source: Path, target: Path, *, overwrite: bool = False) -> BackupResult:
    """A checked copy of the SQLite database `source` at `target` (see above).
    Reads only: the database is opened read-only, the copy is a new file."""
    target = target.resolve()
    if not source.is_file():
        raise BackupRefused(f"No database file at {source}.")
    if target == source:
        raise BackupRefused("The backup must go to another file than the database itself.")
    if target.exists() and not overwrite:
        raise BackupRefused(f"{target} already exists (add --overwrite to replace it).")
    if not target.parent.is_dir():
        raise BackupRefused(f"No folder {target.parent}.")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    started = time.perf_counter()
    try:
        # The source is opened read-only (SQLite URI): the backup can never write to it.
        with closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True, timeout=30)) as live, \
                closing(sqlite3.connect(partial)) as copy:
            live.backup(copy, pages=-1)  # one step: one consistent snapshot
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupRefused("The copy failed its integrity check: " + "; ".join(problems[:5]))
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(target, target.stat().st_size, time.perf_counter() - started)


def pg_dump_hint(libpq_url: str) -> str:
    """What to run instead when the database is PostgreSQL. Reads only."""
    return (
        "This database is PostgreSQL: this command copies SQLite files only. Use pg_dump, e.g.\n"
        f"  pg_dump --format=custom --file=clinic-$(date +%F).dump '{libpq_url}'\n"
        "and pg_restore to restore it (README, \"Backups\")."
    )
