"""EXPLAIN ANALYZE of every appointments query that availability and a booking send, on the
benchmark's data: which index each one uses, how many rows it returns, how long it takes."""
from __future__ import annotations

import json
from datetime import date

from sqlalchemy import event

from config import Config
from scheduler import create_app
from scheduler.extensions import db


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def explain_appointment_queries(database_url: str, service: str, first: date, last: date, one_day: date) -> list[dict]:
    """Sends the six-week and the one-day availability requests and books the first open
    time of the one day (in process, through the app), then EXPLAIN ANALYZEs each SELECT
    that read the appointments table."""
    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    seen: list[tuple[str, str, object]] = []
    label = [""]

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and "FROM appointments" in statement:
            seen.append((label[0], statement, parameters))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        for label[0], start, end in (("availability, 6 weeks", first, last), ("availability, 1 day", one_day, one_day)):
            response = client.get(f"/api/v1/availability?service={service}&start={start}&end={end}")
            if response.status_code != 200:
                raise RuntimeError(f"availability answered {response.status_code}")
        slots = response.get_json()["slots"]
        if slots:
            label[0] = "booking"
            booked = client.post("/api/v1/bookings", json={
                "service": service, "provider_id": slots[0]["provider_id"], "start": slots[0]["start"],
                "patient": {"first_name": "Plan", "last_name": "Check", "phone": "915-540-9999",
                            "email": "plan@example.com", "sms_opt_in": False},
            })
            if booked.status_code != 201:
                raise RuntimeError(f"booking answered {booked.status_code}: {booked.get_data(as_text=True)[:200]}")
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    results = []
    with app.app_context(), db.engine.connect() as conn:
        for request, statement, parameters in seen:
            raw = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).scalar_one()
            plan = raw if isinstance(raw, list) else json.loads(raw)
            scans = [node for node in _nodes(plan[0]["Plan"]) if node.get("Relation Name") == "appointments"]
            results.append({
                "request": request,
                "query": " ".join(statement.split())[:160],
                "appointments_scans": [
                    {"node": s["Node Type"], "rows": s.get("Actual Rows"),
                     # A bitmap heap scan names its index on the bitmap index scan below it.
                     "index": ", ".join(n["Index Name"] for n in _nodes(s) if "Index Name" in n) or None,
                     "index_condition": " / ".join(n["Index Cond"] for n in _nodes(s) if "Index Cond" in n) or None}
                    for s in scans
                ],
                "execution_ms": round(plan[0]["Execution Time"], 3),
            })
        conn.rollback()
    with app.app_context():
        db.engine.dispose()
    return results


def report(plans: list[dict]) -> list[str]:
    lines = []
    for item in plans:
        scans = "; ".join(
            f"{s['node']}{' on ' + s['index'] if s['index'] else ''} ({s['rows']} rows)" for s in item["appointments_scans"]
        )
        lines.append(f"  {item['request']:<22} {item['execution_ms']:>8} ms  {scans}")
    return lines
