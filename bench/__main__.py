"""Run every benchmark in this package and print one table: `python -m bench`."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import bench


def discover() -> list[str]:
    return sorted(
        f"bench.{m.name}"
        for m in pkgutil.iter_modules(bench.__path__)
        if not m.name.startswith("_") and not m.ispkg
    )


def main() -> None:
    rows: list[dict[str, Any]] = []
    for name in discover():
        module = importlib.import_module(name)
        if not hasattr(module, "run"):
            continue
        print(f"running {name} ...", flush=True)
        result = module.run()
        rows.append(result)
    print()
    print(f"{'benchmark':<28} {'ratio':>8} {'aim':>8}  detail")
    print("-" * 90)
    for row in rows:
        aim = row.get("aim")
        print(
            f"{row['name']:<28} {row['ratio']:>8.2f} {aim if aim is not None else '':>8}  "
            f"{row.get('summary', '')}"
        )


if __name__ == "__main__":
    main()
