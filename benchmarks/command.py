"""What every benchmark command does once it has parsed its arguments: run, print the
report, and write the figures to --json when asked."""
from __future__ import annotations

import json
from collections.abc import Callable


def run_and_report(args, run: Callable[..., dict], report: Callable[[dict], str]) -> int:
    results = run(args)
    print(report(results), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0
