"""Benchmarks: `bench/<name>/run.py` each writes `bench/results/<name>.json`; `python -m bench.run_all` runs them all."""
