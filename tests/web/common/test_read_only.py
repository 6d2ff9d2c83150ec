"""The read-only views are listed by endpoint name: a view renamed or moved to another
blueprint must not drop out of the list unnoticed (its requests would take write locks again)."""
from __future__ import annotations

from scheduler.web.common.read_only import READ_ONLY_VIEWS, VIEWS_WITHOUT_DATABASE


def test_every_read_only_view_is_a_get_only_view_of_the_app(app):
    methods: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        methods.setdefault(rule.endpoint, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    assert READ_ONLY_VIEWS <= set(methods), f"not views of the app: {sorted(READ_ONLY_VIEWS - set(methods))}"
    assert VIEWS_WITHOUT_DATABASE <= READ_ONLY_VIEWS
    assert all(methods[name] == {"GET"} for name in READ_ONLY_VIEWS)
