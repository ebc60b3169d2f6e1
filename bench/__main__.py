"""`make bench`: run every benchmark and print one table of ratios.

`python -m bench NAME [NAME ...]` runs only those (e.g. `python -m bench fhir_export`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from bench import api_read, fhir_export, outbox, sweeps

# Explicit list, in the order they run.
BENCHMARKS: list[Callable[[], dict[str, Any]]] = [
    api_read.run,
    outbox.run,
    sweeps.run,
    fhir_export.run,
]


def _name(run: Callable[[], dict[str, Any]]) -> str:
    return run.__module__.rsplit(".", 1)[-1]


def main(argv: list[str]) -> None:
    chosen = BENCHMARKS
    if argv:
        known = {_name(run): run for run in BENCHMARKS}
        unknown = [name for name in argv if name not in known]
        if unknown:
            raise SystemExit(f"unknown benchmark {', '.join(unknown)}; one of {', '.join(known)}")
        chosen = [known[name] for name in argv]
    rows = []
    for run in chosen:
        print(f"running {run.__module__} ...", flush=True)
        rows.append(run())
    print()
    print(f"{'benchmark':<28} {'ratio':>8} {'aim':>8}  detail")
    print("-" * 100)
    for row in rows:
        aim = str(row.get("aim", ""))
        print(f"{row['name']:<28} {row['ratio']:>8.2f} {aim:>8}  {row.get('summary', '')}")


if __name__ == "__main__":
    main(sys.argv[1:])
