"""`make bench`: run every benchmark and print one table of ratios.

`python -m bench NAME [NAME...]` runs only those (names as in BENCHMARKS); each writes its
JSON to bench/results/ with the machine described."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from bench import alert_latency, api_read, fhir_export, outbox, scale, sweeps

# Explicit list, in the order they run.
BENCHMARKS: dict[str, Callable[[], dict[str, Any]]] = {
    "api_read": api_read.run,
    "outbox": outbox.run,
    "sweeps": sweeps.run,
    "scale": scale.run,
    "alert_latency": alert_latency.run,
    "fhir_export": fhir_export.run,
}


def main(names: list[str]) -> None:
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {unknown}; choose from {sorted(BENCHMARKS)}")
    rows = []
    for name in names or list(BENCHMARKS):
        print(f"running {name} ...", flush=True)
        rows.append(BENCHMARKS[name]())
    print()
    print(f"{'benchmark':<28} {'ratio':>8} {'aim':>8}  detail")
    print("-" * 100)
    for row in rows:
        aim = str(row.get("aim", ""))
        print(f"{row['name']:<28} {row['ratio']:>8.2f} {aim:>8}  {row.get('summary', '')}")


if __name__ == "__main__":
    main(sys.argv[1:])
