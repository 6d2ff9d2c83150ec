"""gunicorn.conf.py: what each worker does once the app is loaded."""
from __future__ import annotations

import gc
import runpy
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


def test_a_loaded_worker_moves_its_objects_out_of_the_collectors_reach():
    hooks = runpy.run_path(str(CONF))
    gc.unfreeze()
    try:
        hooks["post_worker_init"](None)
        assert gc.get_freeze_count() > 1000
        assert len(gc.get_objects()) < gc.get_freeze_count()  # a full collection walks only what is left
    finally:
        gc.unfreeze()
