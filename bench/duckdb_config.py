"""Run ``python -m helpers`` with DuckDB settings applied from outside the project.

The project opens its DuckDB connection with ``ibis.duckdb.connect()`` and no settings, and
DuckDB reads no environment variable for them (``DUCKDB_MEMORY_LIMIT=1GB`` changes nothing;
:func:`bench.bench.env_var_reaches_duckdb` checks it on every run of the harness). So this
wrapper wraps ``duckdb.connect`` before the project imports it and merges in:

- ``BENCH_DUCKDB_MEMORY_LIMIT`` -> ``memory_limit`` (e.g. ``1GB``)
- ``BENCH_DUCKDB_THREADS`` -> ``threads``
- ``BENCH_DUCKDB_TEMP_DIRECTORY`` -> ``temp_directory`` (where DuckDB spills)

Usage: ``python bench/duckdb_config.py run --source FILE --out DIR --json-only``. It is a
benchmark device, not a feature: the project itself would need a setting (see PROFILE.md).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb

_SETTINGS = {
    "BENCH_DUCKDB_MEMORY_LIMIT": "memory_limit",
    "BENCH_DUCKDB_THREADS": "threads",
    "BENCH_DUCKDB_TEMP_DIRECTORY": "temp_directory",
}


def configured() -> dict[str, str]:
    return {key: os.environ[var] for var, key in _SETTINGS.items() if os.environ.get(var)}


def install() -> None:
    """Make every later ``duckdb.connect`` (and so ``ibis.duckdb.connect``) use the settings."""
    extra = configured()
    if not extra:
        return
    if "temp_directory" in extra:
        Path(extra["temp_directory"]).mkdir(parents=True, exist_ok=True)
    original = duckdb.connect

    def connect(database=":memory:", read_only=False, config=None, **kwargs):
        con = original(database, read_only=read_only, config={**(config or {}), **extra}, **kwargs)
        query = "SELECT current_setting(?)"
        shown = ", ".join(f"{k}={con.execute(query, [k]).fetchone()[0]}" for k in extra)
        print(f"bench.duckdb_config: {shown}", file=sys.stderr)
        return con

    duckdb.connect = connect


if __name__ == "__main__":
    install()
    # The project under measurement: the working directory (bench.bench runs us from there).
    sys.path.insert(0, os.getcwd())
    from helpers.cli import main

    sys.exit(main(sys.argv[1:]))
