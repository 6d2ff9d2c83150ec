"""The pages a walk over the URL map finds."""
from __future__ import annotations

import re

NOT_HTML = ("/api/", "/static/", "/metrics")  # JSON, files, Prometheus text


def public_html_urls(app, token: str) -> list[str]:
    # "code": a message's short link (unknown here: the 404 page)
    values = {"slug": "initial-evaluation", "who": "any", "day": "2026-12-01", "token": token, "course_id": 1,
              "code": "no-such-link", "appointment_id": 1, "patient_id": 1,
              "version_id": 1}
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(NOT_HTML) or rule.rule.endswith(".ics"):
            continue
        missing = set(rule.arguments) - values.keys()
        assert not missing, f"add an example value for {missing} in {rule.rule}"
        urls.append(re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule).format(**values))
    return urls
