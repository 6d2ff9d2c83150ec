"""The SQL statements the app sends: what the statement-count tests pin, one round trip each."""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import event

from scheduler.extensions import db

TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """Every statement the app's engine sends inside the block, as sent."""
    sent: list[str] = []

    def remember(_conn, _cursor, statement, _parameters, _context, _many) -> None:
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", remember)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", remember)


def is_transaction_control(statement: str) -> bool:
    return statement.lstrip().upper().startswith(TRANSACTION_CONTROL)


def kind(statement: str) -> str:
    """"INSERT <table>", or "<VERB> <table of the first column>" (a subquery's FROM may come first)."""
    if "pg_advisory_xact_lock" in statement:
        return "SELECT pg_advisory_xact_lock"
    verb = statement.split(None, 1)[0].upper()
    table = re.search(r"\bINTO\s+(\w+)" if verb == "INSERT" else r"\b(\w+)\.\w+", statement)
    return f"{verb} {table.group(1) if table else '?'}"


def statement_kinds(work: Callable[[], object]) -> list[str]:
    """Runs `work`; the kinds of the statements it sent, transaction control left out."""
    with statements_sent() as sent:
        work()
    return [kind(statement) for statement in sent if not is_transaction_control(statement)]
