"""The app's addresses and its API document are contracts: the clinic's website and tools
call these URLs and read this document. Both are compared with copies checked in beside this
test (contracts/), so a change to either shows in review as a change to those files."""
from __future__ import annotations

import json

from tests.support.helpers import ROOT

CONTRACTS = ROOT / "tests" / "cross_cutting" / "contracts"
DELIBERATE = (
    "{what} changed. It is a contract with the clinic's website and tools: change it only on "
    "purpose, and update {copy} in the same commit."
)


def url_map_lines(app) -> str:
    """Each rule with its methods (HEAD and OPTIONS, which Flask adds to every rule, left out), sorted."""
    rules = sorted(
        f"{rule.rule} {' '.join(sorted(rule.methods - {'HEAD', 'OPTIONS'}))}" for rule in app.url_map.iter_rules()
    )
    return "\n".join(rules) + "\n"


def test_the_url_map_is_the_checked_in_one(app):
    copy = CONTRACTS / "url_map.txt"
    assert url_map_lines(app) == copy.read_text(), DELIBERATE.format(
        what="The app's URL map (rules and methods)", copy=copy.relative_to(ROOT))


def test_the_served_openapi_document_is_the_checked_in_one(client):
    copy = CONTRACTS / "openapi.json"
    served = client.get("/api/v1/openapi.json")
    assert served.status_code == 200
    assert served.get_json() == json.loads(copy.read_text()), DELIBERATE.format(
        what="The served OpenAPI document (/api/v1/openapi.json)", copy=copy.relative_to(ROOT))
