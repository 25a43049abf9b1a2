"""What reading JSON Lines costs: time and peak memory against the file's size.

    python -m bench.jsonl_memory [ROWS ...]

For each ROWS (default 200000 and 1000000) writes synthetic events as JSON Lines (``params``
as a nested object, as trackers write it) into ``bench/cache/``, then reads it in a fresh
process with :func:`helpers.sources.read_events`, and appends wall time, peak resident memory
and the Arrow table's size to ``bench/jsonl_memory.md``. Peak memory should grow with the
Arrow columns (about the file's size), not with the file as Python objects (some ten times it).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

_CACHE = Path(__file__).with_name("cache")
_RESULTS = Path(__file__).with_name("jsonl_memory.md")
_READ = """
import json, resource, sys, time
from helpers.sources import read_events
started = time.perf_counter()
table = read_events(sys.argv[1]).table
print(json.dumps({"seconds": time.perf_counter() - started, "rows": table.num_rows,
                  "arrow_mb": table.nbytes / 1e6,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3}))
"""


def write_jsonl(rows: int) -> Path:
    from helpers.synthetic import synthetic_events

    path = _CACHE / f"events_{rows}.jsonl"
    if path.exists():
        return path
    _CACHE.mkdir(exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for chunk in synthetic_events(rows, seed=7):
            for row in chunk.to_pylist():
                with contextlib.suppress(TypeError, ValueError):  # else the text it was
                    row["params"] = json.loads(row["params"])
                fh.write(json.dumps(row) + "\n")
    return path


def measure(rows: int) -> dict[str, object]:
    path = write_jsonl(rows)
    done = subprocess.run(
        [sys.executable, "-c", _READ, str(path)], capture_output=True, text=True, check=True
    )
    return {"file_mb": path.stat().st_size / 1e6, **json.loads(done.stdout)}


def main(argv: list[str]) -> None:
    lines = []
    for rows in [int(a) for a in argv] or [200_000, 1_000_000]:
        m = measure(rows)
        lines.append(
            f"| {m['rows']:,} | {m['file_mb']:.0f} MB | {m['seconds']:.1f} s | "
            f"{m['arrow_mb']:.0f} MB | {m['peak_mb']:.0f} MB |"
        )
        print(lines[-1])
    new = not _RESULTS.exists()
    with _RESULTS.open("a", encoding="utf-8") as fh:
        if new:
            fh.write("# Reading JSON Lines: time and peak memory\n\n"
                     "`python -m bench.jsonl_memory`; one fresh process per file.\n")
        fh.write(f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n\n"
                 "| rows | file | read | Arrow table | peak memory |\n|---:|---:|---:|---:|---:|\n")
        fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
