"""`make bench`: run every benchmark and print one table of ratios."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import api_read, outbox, sweeps

# Explicit list, in the order they run.
BENCHMARKS: list[Callable[[], dict[str, Any]]] = [api_read.run, outbox.run, sweeps.run]


def main() -> None:
    rows = []
    for run in BENCHMARKS:
        print(f"running {run.__module__} ...", flush=True)
        rows.append(run())
    print()
    print(f"{'benchmark':<28} {'ratio':>8} {'aim':>8}  detail")
    print("-" * 100)
    for row in rows:
        aim = str(row.get("aim", ""))
        print(f"{row['name']:<28} {row['ratio']:>8.2f} {aim:>8}  {row.get('summary', '')}")


if __name__ == "__main__":
    main()
