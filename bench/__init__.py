"""Benchmarks: each module exposes `run() -> dict` with `name`, `ratio`, `aim` and `summary`,
measured side by side in one run (never absolute timings compared across machines).
`python -m bench` (or `make bench`) runs them all. Benchmarks are never tests."""
