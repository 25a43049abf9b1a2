"""Benchmarks of the report pipeline: ``python -m bench.bench`` (see bench/bench.py)."""
