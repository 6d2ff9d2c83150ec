"""cProfile of the 6-week availability request, in process (Flask test client), on the seeded data."""
from __future__ import annotations

import cProfile
import io
import pstats
import time

from config import Config
from scheduler import create_app
from scheduler.extensions import db


def profile_request(database_url: str, path: str, *, repeat: int = 20, top: int = 25) -> str:
    app = create_app(Config, {"SQLALCHEMY_DATABASE_URI": database_url, "RATELIMIT_ENABLED": False})
    client = app.test_client()
    try:
        for _ in range(3):  # warm caches and the connection pool
            assert client.get(path).status_code == 200
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for _ in range(repeat):
            client.get(path)
        profiler.disable()
        wall = (time.perf_counter() - started) / repeat
        out = io.StringIO()
        out.write(f"{path}: {wall * 1000:.1f} ms per request in process, under cProfile ({repeat} requests)\n")
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        return out.getvalue()
    finally:
        with app.app_context():
            db.engine.dispose()
