"""Benchmarks: each module exposes `run() -> dict` and reports ratios measured side by side in
one run (never absolute timings compared across machines). `python -m bench` runs them all."""
