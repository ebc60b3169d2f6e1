"""`make bench`: run every benchmark and print one table of ratios."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import api_read

# Explicit list: (name, runner, the ratio's key, what it divides, the aim).
BENCHMARKS: list[tuple[str, Callable[[], dict[str, Any]], str, str, str]] = [
    ("api_read", api_read.run, "ratio", "GET patient rps / bare asyncpg rps", ">= 0.35"),
]


def main() -> None:
    rows = []
    for name, runner, key, meaning, aim in BENCHMARKS:
        print(f"running {name} ...", flush=True)
        result = runner()
        rows.append((name, result.get(key), meaning, aim, result))
    print()
    print(f"{'benchmark':<14} {'ratio':>8}  {'aim':<8} what")
    for name, ratio, meaning, aim, _ in rows:
        print(f"{name:<14} {ratio!s:>8}  {aim:<8} {meaning}")
    print()
    for name, _, _, _, result in rows:
        details = {k: v for k, v in result.items() if k not in ("file",)}
        print(f"{name}: {details}")


if __name__ == "__main__":
    main()
