"""What one availability answer asks of the database, statement by statement.

Each statement is a round trip, and beside the framework's own cost a round trip is most of
what a one-day answer costs. The list is pinned, so a change that adds one (the providers
read on their own again, a lookup done twice) fails here and says which.
"""
from __future__ import annotations

from datetime import date

import pytest

from tests.support.factories import make_closure, make_provider, make_service
from tests.support.statements import statement_kinds

# The service asked for; the bookable providers with their hours (one query); the busy times
# and time off of those providers; the closures in the range.
ANSWER = ["SELECT services", "SELECT providers", "SELECT appointments", "SELECT closures"]


def check_statements(app) -> None:
    first = make_provider("Dr. First")
    make_provider("Dr. Second")
    make_service("evaluation")
    make_closure(date(2026, 12, 24))
    client = app.test_client()
    query = "/api/v1/availability?service=evaluation&start=2026-12-01&end=2026-12-31"

    def ask(path):
        response = client.get(path)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["slots"]

    one = f"{query}&provider={first.id}"
    assert statement_kinds(lambda: ask(query)) == ANSWER
    assert statement_kinds(lambda: ask(one)) == ANSWER


def test_an_availability_answer_sends_four_statements(app):
    check_statements(app)


@pytest.mark.postgres
def test_an_availability_answer_sends_four_statements_on_postgresql(pg_app):
    check_statements(pg_app)
