"""Benchmark harness: how long and how much memory the report takes, against a pyarrow floor.

Run from the repository root with the project's virtualenv::

    .venv/bin/python -m bench.bench                      # 100k, 1m, 10m x csv, parquet; 3 runs
    .venv/bin/python -m bench.bench --sizes 100k,1m --repeat 5 --skip-notebook

What it does, each measurement in a separate process:

1. Generates four weeks of synthetic events (:func:`events_path`, the files
   :mod:`bench.versus` reads) for every size and format under ``--cache`` (``bench/cache/``,
   git-ignored), reusing files already there (same rows and seed give the same bytes).
2. (a) the floor, ``bench/floor.py FILE``: pyarrow reads the file (all columns; a CSV as
   all-string columns with the project's options); (b) ``python -m helpers run --json-only``;
   (c) at ``--notebook-size`` (1m) CSV, the full papermill report (no ``--json-only``).
3. Records the median wall time of ``--repeat`` runs and the peak RSS (``/usr/bin/time -v``'s
   maximum resident set size of the largest process; psutil also samples the whole process
   tree, which matters for (c) where the notebook kernel is a second process), the ratio
   (b)/(a), the slope of (b) against rows (least squares, seconds per million rows) for each
   format, and the extra time of (c) over (b).
4. The memory-limit experiment: (b) at ``--spill-size`` (10m) with DuckDB's ``memory_limit``
   at each ``--spill-limit`` (1GB, 2GB): through the project's ``memory_limit`` parameter when
   the measured code has one, else through :mod:`bench.duckdb_config` (DuckDB reads no limit from
   the environment; checked on every run). Records whether it completed, its time, peak RSS,
   the spill files' peak size and whether report.json is unchanged.

The machine may be shared: before each run the harness waits (up to ``--wait-idle`` s) for
other processes to go quiet, and records the CPU they used during the run. ``--code-at REV``
measures a commit exported with ``git archive`` instead of a working tree someone may be
editing; ``--merge`` redoes some measurements and keeps the rest of OUT.json.

Writes ``OUT.json`` (raw figures) and ``OUT.md`` (tables) for ``--out OUT`` (default
``bench/results``), rewritten after every measurement so an interrupted run keeps what it
measured. Progress goes to stderr. Files are read once before timing so every run sees a
warm page cache.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TIME = "/usr/bin/time"
FORMATS = ("csv", "parquet")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)([km]?)$")
_START = time.perf_counter()


# -- small helpers ---------------------------------------------------------------------------


def parse_size(text: str) -> int:
    """``'10k'`` -> 10_000, ``'1m'`` -> 1_000_000, ``'2500'`` -> 2500."""
    match = _SIZE.match(text.strip().lower())
    if not match:
        raise argparse.ArgumentTypeError(f"size {text!r}: use e.g. 10k, 100k, 1m, 10m or 5000")
    number, unit = match.groups()
    rows = float(number) * {"": 1, "k": 1_000, "m": 1_000_000}[unit]
    if rows != int(rows) or rows <= 0:
        raise argparse.ArgumentTypeError(f"size {text!r} is not a positive whole number of rows")
    return int(rows)


def size_label(rows: int) -> str:
    for unit, scale in (("m", 1_000_000), ("k", 1_000)):
        if rows % scale == 0:
            return f"{rows // scale}{unit}"
    return str(rows)


def _csv_list(text: str, allowed: tuple[str, ...] | None = None) -> list[str]:
    items = [item.strip().lower() for item in text.split(",") if item.strip()]
    if allowed is not None:
        bad = [item for item in items if item not in allowed]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {', '.join(allowed)}")
    return items


def log(message: str) -> None:
    elapsed = time.perf_counter() - _START
    print(f"[bench {int(elapsed) // 60:3d}:{int(elapsed) % 60:02d}] {message}", file=sys.stderr)


def mb(kb: float | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


def least_squares_slope(xs: list[float], ys: list[float]) -> float | None:
    if len(xs) < 2 or len(set(xs)) < 2:
        return None
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


#: Every benchmark reads the same synthetic events: four weeks of them.
DAYS = 28
#: From this many rows Parquet events are a directory of files (and bench.versus runs such a
#: case ``--repeat-big`` times).
BIG = 50_000_000


def events_path(cache: Path, rows: int, fmt: str, seed: int) -> Path:
    """The cached events of ``rows`` rows in ``fmt``, generated the first time (the same rows
    and seed give the same bytes); from :data:`BIG` rows Parquet is a directory of files."""
    name = f"events_{size_label(rows)}_seed{seed}_days{DAYS}"
    if fmt == "parquet" and rows >= BIG:
        path = cache / name
        if not (path / "_complete").exists():
            import pyarrow.parquet as pq

            from helpers.synthetic import synthetic_events

            log(f"generating {rows:,} rows -> {path}/")
            path.mkdir(parents=True, exist_ok=True)
            for i, chunk in enumerate(synthetic_events(rows, seed=seed, days=DAYS)):
                pq.write_table(chunk, path / f"part-{i:05d}.parquet")
            (path / "_complete").write_text("")
        return path
    path = cache / f"{name}.{fmt}"
    if not path.exists():
        from helpers.synthetic import write_synthetic_events

        log(f"generating {rows:,} rows -> {path}")
        start = time.perf_counter()
        write_synthetic_events(path, rows=rows, seed=seed, days=DAYS)
        log(f"  {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - start:.1f} s")
    return path


def _dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


# -- one measured process ---------------------------------------------------------------------


@dataclass
class Run:
    wall_s: float
    returncode: int
    max_rss_kb: int | None  # largest single process (/usr/bin/time -v, or getrusage)
    tree_peak_rss_kb: int | None  # sampled sum over the process tree (psutil)
    peak_dir_bytes: int | None = None  # sampled size of a watched directory (spill files)
    cpu_s: float | None = None  # user + system CPU seconds of the measured command
    other_cpu_s: float | None = None  # CPU seconds the rest of the machine used meanwhile
    stderr_tail: str = ""
    # The report's stage times, where it ran with --debug ("helpers.report: cleaning: 5.53 s"),
    # and those of each insight and analysis ("helpers.report:   funnel: 0.74 s").
    stages: dict[str, float] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


class _TreeSampler(threading.Thread):
    """Samples the summed RSS of a process and its descendants, and a directory's size."""

    def __init__(self, pid: int, watch_dir: Path | None, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.watch_dir, self.interval = pid, watch_dir, interval
        self.peak_rss = 0
        self.peak_dir = 0
        self.stop = threading.Event()
        try:
            import psutil

            self._psutil = psutil
        except ImportError:  # pragma: no cover - psutil ships with ipykernel
            self._psutil = None

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(self.interval)

    def sample(self) -> None:
        if self._psutil is not None:
            try:
                root = self._psutil.Process(self.pid)
                procs = [root, *root.children(recursive=True)]
                if Path(TIME).name in root.name():  # the timer itself is not measured
                    procs = procs[1:]
                total = 0
                for proc in procs:
                    with contextlib.suppress(self._psutil.Error):
                        total += proc.memory_info().rss
                self.peak_rss = max(self.peak_rss, total // 1024)
            except self._psutil.Error:
                pass
        if self.watch_dir is not None and self.watch_dir.exists():
            self.peak_dir = max(self.peak_dir, _dir_bytes(self.watch_dir))


_RUSAGE_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "r = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "open(sys.argv[1], 'w').write(f'{r.ru_maxrss} {r.ru_utime} {r.ru_stime}')\n"
    "sys.exit(code)\n"
)


def _busy_cpu_s() -> float | None:
    """CPU seconds the whole machine has spent busy (not idle or waiting on I/O)."""
    try:
        import psutil
    except ImportError:  # pragma: no cover
        return None
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def wait_until_idle(max_wait: float, busy_cores: float = 0.3) -> float:
    """Wait (at most ``max_wait`` s) until other processes use under ``busy_cores`` cores.

    Returns the load last seen, in cores. Timings on a shared machine are only comparable
    when nothing else runs; the load during each run is recorded either way.
    """
    waited, load = 0.0, 0.0
    while True:
        before = _busy_cpu_s()
        if before is None:
            return 0.0
        time.sleep(1.0)
        load = (_busy_cpu_s() or before) - before
        if load < busy_cores or waited >= max_wait:
            if waited:
                log(f"  waited {waited:.0f} s for quiet (now {load:.2f} cores busy)")
            return load
        if waited % 30 == 0:
            log(f"  machine busy ({load:.2f} cores used by other processes); waiting")
        waited += 1.0


def measure(
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    watch_dir: Path | None = None,
    timeout: float | None = None,
    cwd: Path = ROOT,
) -> Run:
    """Run ``cmd`` once in a fresh process; wall time, peak RSS and the end of its stderr."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        rusage_file = Path(tmp) / "rusage"
        if Path(TIME).exists():
            full = [TIME, "-v", "-o", str(rusage_file), *cmd]
        else:  # a fresh wrapper process whose only child is the command
            full = [sys.executable, "-c", _RUSAGE_WRAPPER, str(rusage_file), *cmd]
        stderr_path = Path(tmp) / "stderr"
        with stderr_path.open("wb") as err:
            busy_before = _busy_cpu_s()
            start = time.perf_counter()
            proc = subprocess.Popen(
                full, cwd=cwd, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                stderr=err,
            )  # fmt: skip
            sampler = _TreeSampler(proc.pid, watch_dir)
            sampler.start()
            try:
                returncode = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()  # our own child, by its id
                returncode = proc.wait()
                log(f"  timed out after {timeout:.0f} s; killed")
            wall = time.perf_counter() - start
            busy_after = _busy_cpu_s()
            sampler.stop.set()
            sampler.join()
        max_rss, cpu = _rusage(rusage_file.read_text() if rusage_file.exists() else "")
        other = None
        if busy_before is not None and busy_after is not None and cpu is not None:
            # The sampler thread and the timer are this harness's own, and tiny.
            other = round(max(0.0, busy_after - busy_before - cpu), 2)
        lines = stderr_path.read_text(errors="replace").splitlines()
        return Run(
            wall_s=round(wall, 3),
            returncode=returncode,
            max_rss_kb=max_rss,
            tree_peak_rss_kb=sampler.peak_rss or None,
            peak_dir_bytes=sampler.peak_dir if watch_dir is not None else None,
            cpu_s=cpu,
            other_cpu_s=other,
            stderr_tail="\n".join(lines[-15:]),
            stages=stage_times(lines),
            parts=stage_times(lines, parts=True),
        )


_STAGE = re.compile(r"^helpers\.report: (?P<stage>[^: ][^:]*): (?P<s>\d+(?:\.\d+)?) s$")
_PART = re.compile(r"^helpers\.report:   (?P<stage>[^: ][^:]*): (?P<s>\d+(?:\.\d+)?) s$")


def stage_times(stderr_lines: list[str], *, parts: bool = False) -> dict[str, float]:
    """The top-level stage times ``--debug`` logs; with ``parts``, the indented ones instead
    (each insight and analysis)."""
    pattern = _PART if parts else _STAGE
    found = {}
    for line in stderr_lines:
        if m := pattern.match(line):
            found[m["stage"]] = float(m["s"])
    return found


def _rusage(text: str) -> tuple[int | None, float | None]:
    """Peak RSS (KiB) and user + system CPU seconds, from ``time -v`` or the wrapper."""
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    if rss:
        cpu = float(user.group(1)) + float(system.group(1)) if user and system else None
        return int(rss.group(1)), cpu and round(cpu, 2)
    parts = text.split()
    if len(parts) == 3:  # the getrusage wrapper
        return int(parts[0]), round(float(parts[1]) + float(parts[2]), 2)
    return None, None


# -- the benchmark ---------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    work: Path
    code: Path = ROOT  # the tree whose helpers/ and notebooks/ are measured
    results: dict[str, Any] = field(default_factory=dict)
    failures: int = 0

    # files ------------------------------------------------------------------------------

    def events_file(self, rows: int, fmt: str) -> Path:
        path = events_path(self.args.cache, rows, fmt, self.args.seed)
        log(f"events {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        info = {"rows": rows, "format": fmt, "path": str(path), "bytes": path.stat().st_size}
        self.results["files"][f"{size_label(rows)}/{fmt}"] = info
        _warm(path)
        return path

    # measurements -------------------------------------------------------------------------

    def repeat(
        self, kind: str, rows: int, fmt: str, cmd: list[str], *, repeat: int,
        memory_limit: str | None = None, **kw: Any,
    ) -> dict[str, Any]:  # fmt: skip
        runs: list[Run] = []
        env = {**kw.pop("env", {}), "PYTHONPATH": _pythonpath(self.code)}
        kw.setdefault("cwd", self.code)
        for i in range(repeat):
            log(f"{kind} {size_label(rows)} {fmt}: run {i + 1}/{repeat}")
            if self.args.wait_idle:
                wait_until_idle(self.args.wait_idle)
            run = measure(cmd, env=env, **kw)
            runs.append(run)
            status = "ok" if run.returncode == 0 else f"FAILED (exit {run.returncode})"
            others = (
                f", others used {run.other_cpu_s / run.wall_s:.2f} cores"
                if run.other_cpu_s is not None and run.wall_s else ""
            )  # fmt: skip
            log(
                f"  {run.wall_s:.2f} s (CPU {run.cpu_s} s{others}), peak RSS "
                f"{mb(run.max_rss_kb)} MB (tree {mb(run.tree_peak_rss_kb)} MB) {status}"
            )
            if run.returncode != 0:
                log("  stderr: " + run.stderr_tail.replace("\n", "\n  stderr: "))
                break
        ok = [r for r in runs if r.returncode == 0]
        record = {
            "kind": kind,
            "rows": rows,
            "size": size_label(rows),
            "format": fmt,
            "command": [_short(c) for c in cmd],
            "runs": [r.as_dict() for r in runs],
            "ok": len(ok) == len(runs),
            "median_wall_s": round(statistics.median(r.wall_s for r in ok), 3) if ok else None,
            "min_wall_s": min(r.wall_s for r in ok) if ok else None,
            "median_cpu_s": _median([r.cpu_s for r in ok]),
            # Mean cores other processes used during the busiest run (0 = quiet machine).
            "max_other_load_cores": _max_load(runs),
            "peak_rss_kb": max((r.max_rss_kb or 0 for r in runs), default=0) or None,
            "tree_peak_rss_kb": max((r.tree_peak_rss_kb or 0 for r in runs), default=0) or None,
        }
        record["code"] = self.results["meta"]["code"]["measured"]
        record["date"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        if not record["ok"]:
            self.failures += 1
        record["memory_limit"] = memory_limit
        key = (kind, rows, fmt, memory_limit)  # a new measurement replaces its older self
        self.results["measurements"] = [
            m for m in self.results["measurements"]
            if (m["kind"], m["rows"], m["format"], m.get("memory_limit")) != key
        ] + [record]  # fmt: skip
        self.summarise()
        return record

    def floor(self, rows: int, fmt: str, path: Path) -> dict[str, Any]:
        cmd = [sys.executable, str(BENCH / "floor.py"), str(path)]
        return self.repeat("floor", rows, fmt, cmd, repeat=self.args.repeat)

    def json_only(self, rows: int, fmt: str, path: Path) -> dict[str, Any]:
        out = self.work / f"json_{size_label(rows)}_{fmt}"
        cmd = [sys.executable, "-m", "helpers", "run", "--source", str(path), "--out", str(out),
               "--json-only"]  # fmt: skip
        return self.repeat("json_only", rows, fmt, cmd, repeat=self.args.repeat)

    def notebook(self, rows: int, fmt: str, path: Path) -> dict[str, Any]:
        out = self.work / f"notebook_{size_label(rows)}_{fmt}"
        cmd = [sys.executable, "-m", "helpers", "run", "--source", str(path), "--out", str(out)]
        return self.repeat("notebook", rows, fmt, cmd, repeat=self.args.repeat)

    def spill(self, rows: int, fmt: str, path: Path, limit: str) -> dict[str, Any]:
        spill_dir = self.work / f"spill_{size_label(rows)}_{fmt}_{limit}"
        out = self.work / f"spill_out_{size_label(rows)}_{fmt}_{limit}"
        if self.native_memory_limit():
            # The project's own parameter. The run happens in spill_dir with TMPDIR pointing
            # there, so spill_dir holds the spill files whether the code spills into .tmp/ of
            # the working directory (DuckDB's default) or into the system's temp directory.
            spill_dir.mkdir(parents=True, exist_ok=True)
            how = f"the project's parameter: --set memory_limit={limit}"
            env: dict[str, str] = {"TMPDIR": str(spill_dir)}
            cmd = [sys.executable, "-m", "helpers", "run", "--source", str(path), "--out",
                   str(out), "--json-only", "--set", f"memory_limit={limit}"]  # fmt: skip
            kw: dict[str, Any] = {"cwd": spill_dir, "watch_dir": spill_dir}
        else:
            how = "bench/duckdb_config.py (the project has no memory_limit parameter)"
            env = {
                "BENCH_DUCKDB_MEMORY_LIMIT": limit,
                "BENCH_DUCKDB_TEMP_DIRECTORY": str(spill_dir),
            }
            cmd = [sys.executable, str(BENCH / "duckdb_config.py"), "run", "--source", str(path),
                   "--out", str(out), "--json-only"]  # fmt: skip
            kw = {"watch_dir": spill_dir}
        log(f"memory limit {limit} through {how}")
        record = self.repeat(
            "memory_limit", rows, fmt, cmd, repeat=1, env=env, timeout=self.args.spill_timeout,
            memory_limit=limit, **kw,
        )  # fmt: skip
        record["how"] = how
        record["peak_spill_bytes"] = record["runs"][0]["peak_dir_bytes"]
        record["same_report_as_unlimited"] = _same_report(
            out, self.work / f"json_{size_label(rows)}_{fmt}"
        )
        shutil.rmtree(spill_dir, ignore_errors=True)
        self.summarise()
        return record

    def native_memory_limit(self) -> bool:
        """Whether the measured code has a ``memory_limit`` report parameter."""
        probe = subprocess.run(
            [sys.executable, "-c", "from helpers.params import ReportParams as P; "
             "print('memory_limit' in P.model_fields)"],
            cwd=self.code, env={**os.environ, "PYTHONPATH": _pythonpath(self.code)},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        return probe.stdout.strip() == "True"

    # the whole plan -------------------------------------------------------------------------

    def run(self) -> int:
        a = self.args
        self.results.update(
            meta=_meta(a, self.code), files={}, measurements=[],
            env_var_check=env_var_reaches_duckdb(),
        )  # fmt: skip
        log(f"measuring the code in {self.results['meta']['code']['measured']}")
        previous = Path(a.out).with_suffix(".json")
        if a.merge and previous.exists():
            old = json.loads(previous.read_text())
            self.results["files"] = old.get("files", {})
            self.results["measurements"] = old.get("measurements", [])
            self.results["meta"]["merged_with"] = [
                *old["meta"].get("merged_with", []),
                {k: old["meta"][k] for k in ("date", "command", "code")},
            ]
            log(f"merging with {len(self.results['measurements'])} measurements in {previous}")
        log(f"DuckDB env var check: {self.results['env_var_check']['conclusion']}")
        for rows in a.sizes:
            for fmt in a.formats:
                path = self.events_file(rows, fmt)
                self.floor(rows, fmt, path)
                self.json_only(rows, fmt, path)
        if not a.skip_notebook:
            rows, fmt = a.notebook_size, a.notebook_format
            self.notebook(rows, fmt, self.events_file(rows, fmt))
        if a.spill_size:
            for fmt in a.spill_formats:
                for limit in a.spill_limit.split(","):
                    self.spill(a.spill_size, fmt, self.events_file(a.spill_size, fmt), limit)
        self.summarise()
        log(f"wrote {a.out}.json and {a.out}.md")
        return 1 if self.failures else 0

    # results --------------------------------------------------------------------------------

    def find(self, kind: str, rows: int, fmt: str) -> dict[str, Any] | None:
        found = [
            m for m in self.results["measurements"]
            if (m["kind"], m["rows"], m["format"]) == (kind, rows, fmt)
        ]  # fmt: skip
        return found[-1] if found else None

    def _spill_summary(self, m: dict[str, Any]) -> dict[str, Any]:
        unlimited = self.find("json_only", m["rows"], m["format"]) or {}
        return {
            "size": m["size"],
            "format": m["format"],
            "memory_limit": m.get("memory_limit"),
            "how": m.get("how"),
            "completed": m["ok"],
            "wall_s": m["runs"][0]["wall_s"],
            "peak_rss_mb": mb(m["peak_rss_kb"]),
            "tree_peak_rss_mb": mb(m["tree_peak_rss_kb"]),
            "peak_spill_mb": m.get("peak_spill_bytes") and round(m["peak_spill_bytes"] / 1e6),
            "same_report_as_unlimited": m.get("same_report_as_unlimited"),
            "unlimited_json_only_s": unlimited.get("median_wall_s"),
            "unlimited_peak_rss_mb": mb(unlimited.get("peak_rss_kb")),
            "settings_applied": _settings_line(m["runs"][0]["stderr_tail"]),
            "stderr_tail": m["runs"][0]["stderr_tail"],
        }

    def summarise(self) -> None:
        rows_table = []
        measured = [m for m in self.results["measurements"] if m["kind"] in ("floor", "json_only")]
        for rows in sorted({m["rows"] for m in measured}):
            for fmt in [f for f in FORMATS if any(m["format"] == f for m in measured)]:
                floor, json_only = self.find("floor", rows, fmt), self.find("json_only", rows, fmt)
                if floor is None and json_only is None:
                    continue
                file = self.results["files"].get(f"{size_label(rows)}/{fmt}", {})
                a_s = floor and floor["median_wall_s"]
                b_s = json_only and json_only["median_wall_s"]
                rows_table.append({
                    "size": size_label(rows),
                    "rows": rows,
                    "format": fmt,
                    "file_mb": round(file.get("bytes", 0) / 1e6, 1),
                    "floor_s": a_s,
                    "floor_peak_rss_mb": mb(floor and floor["peak_rss_kb"]),
                    "json_only_s": b_s,
                    "json_only_peak_rss_mb": mb(json_only and json_only["peak_rss_kb"]),
                    "ratio_b_over_a": round(b_s / a_s, 1) if a_s and b_s else None,
                    "json_only_cpu_s": json_only and json_only["median_cpu_s"],
                    "max_other_load_cores": max(
                        (m["max_other_load_cores"] or 0 for m in (floor, json_only) if m),
                        default=None,
                    ),
                })  # fmt: skip
        self.results["table"] = rows_table
        slopes = {}
        for fmt in [f for f in FORMATS if any(r["format"] == f for r in rows_table)]:
            points = [(r["rows"] / 1e6, r["json_only_s"]) for r in rows_table
                      if r["format"] == fmt and r["json_only_s"] is not None]  # fmt: skip
            floor_points = [(r["rows"] / 1e6, r["floor_s"]) for r in rows_table
                            if r["format"] == fmt and r["floor_s"] is not None]  # fmt: skip
            slope = least_squares_slope(*map(list, zip(*points, strict=True))) if points else None
            floor_slope = (
                least_squares_slope(*map(list, zip(*floor_points, strict=True)))
                if floor_points else None
            )  # fmt: skip
            slopes[fmt] = {
                "json_only_s_per_million_rows": slope and round(slope, 2),
                "floor_s_per_million_rows": floor_slope and round(floor_slope, 2),
                "sizes": [size_label(int(x * 1e6)) for x, _ in points],
            }
        self.results["slopes"] = slopes
        nb = self.find("notebook", self.args.notebook_size, self.args.notebook_format)
        if nb is not None:
            base = self.find("json_only", self.args.notebook_size, self.args.notebook_format)
            extra = (
                round(nb["median_wall_s"] - base["median_wall_s"], 2)
                if base and base["median_wall_s"] and nb["median_wall_s"] else None
            )  # fmt: skip
            self.results["notebook"] = {
                "size": nb["size"],
                "format": nb["format"],
                "notebook_s": nb["median_wall_s"],
                "json_only_s": base and base["median_wall_s"],
                "extra_s": extra,
                "peak_rss_mb": mb(nb["peak_rss_kb"]),
                "tree_peak_rss_mb": mb(nb["tree_peak_rss_kb"]),
            }
        spills = [m for m in self.results["measurements"] if m["kind"] == "memory_limit"]
        self.results["memory_limit_runs"] = [self._spill_summary(m) for m in spills]
        self.results["targets"] = targets(self.results)
        out = Path(self.args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.with_suffix(".json").write_text(json.dumps(self.results, indent=2) + "\n")
        page = out.with_suffix(".md")
        page.write_text(markdown(self.results) + _kept_sections(page))


def _max_load(runs: list[Run]) -> float | None:
    loads = [r.other_cpu_s / r.wall_s for r in runs if r.other_cpu_s is not None and r.wall_s]
    return round(max(loads), 2) if loads else None


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 2) if present else None


def _pythonpath(code: Path) -> str:
    """``code`` first, so ``helpers`` (also in the notebook kernel) is imported from there."""
    return os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)


def export_tree(rev: str, dest: Path) -> Path:
    """The files of commit ``rev`` in ``dest`` (git archive): code nobody edits mid-run."""
    import io
    import tarfile

    tar = subprocess.run(["git", "archive", "--format=tar", rev], cwd=ROOT, capture_output=True,
                         check=True).stdout  # fmt: skip
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(dest, filter="data")
    return dest


def _git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return out.stdout.strip()


def _settings_line(stderr: str) -> str | None:
    prefix = "bench.duckdb_config: "
    found = [line[len(prefix) :] for line in stderr.splitlines() if line.startswith(prefix)]
    return found[0] if found else None


def _warm(path: Path) -> None:
    """Read the file once so every measured run finds it in the page cache."""
    with path.open("rb") as fh:
        while fh.read(1 << 24):
            pass


def _same_report(a: Path, b: Path) -> bool | None:
    """Whether two report.json files agree on everything but generated_at and memory_limit."""
    try:
        docs = [json.loads((d / "report.json").read_text()) for d in (a, b)]
    except (OSError, ValueError):
        return None
    for doc in docs:
        doc.pop("generated_at", None)
        doc.get("parameters", {}).pop("memory_limit", None)
    return docs[0] == docs[1]


def _short(arg: str) -> str:
    return arg.replace(str(ROOT) + os.sep, "").replace(sys.executable, "python")


def env_var_reaches_duckdb() -> dict[str, Any]:
    """Does DuckDB pick a memory limit up from the environment? (It does not.)"""
    code = (
        "import duckdb; print(duckdb.connect().execute("
        "\"SELECT current_setting('memory_limit')\").fetchone()[0])"
    )
    seen = {}
    for env in ({}, {"DUCKDB_MEMORY_LIMIT": "1GB", "memory_limit": "1GB"}):
        out = subprocess.run(
            [sys.executable, "-c", code], env={**os.environ, **env}, capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        seen["with_env" if env else "default"] = out.stdout.strip() or out.stderr.strip()[-200:]
    changed = seen["default"] != seen["with_env"]
    seen["conclusion"] = (
        "DUCKDB_MEMORY_LIMIT=1GB changes DuckDB's memory_limit"
        if changed
        else f"DuckDB ignores DUCKDB_MEMORY_LIMIT=1GB (memory_limit stays {seen['default']})"
    )
    return seen


def _meta(a: argparse.Namespace, code: Path) -> dict[str, Any]:
    import duckdb
    import ibis
    import pyarrow

    try:
        import psutil

        memory = psutil.virtual_memory().total
    except ImportError:  # pragma: no cover
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cpu = ""
    with contextlib.suppress(OSError):
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
        cpu = names[0] if names else ""
    rev = a.code_at or "HEAD"
    commit = _git("rev-parse", "--short", rev)
    if a.code_at:
        measured = f"git archive {a.code_at} (commit {commit})"
        dirty: list[str] = []
    else:
        dirty = _git("status", "--porcelain", "--", "helpers", "notebooks").splitlines()
        measured = f"the working tree at commit {commit}" + (
            f" with uncommitted changes to {len(dirty)} file(s) in helpers/ or notebooks/"
            if dirty else ""
        )  # fmt: skip
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.bench", *sys.argv[1:]]),
        "git_commit": commit or None,
        "code": {"measured": measured, "dir": str(code), "uncommitted": dirty},
        "machine": {
            "cores": os.cpu_count(),
            "memory_gib": round(memory / 2**30, 1),
            "cpu": cpu,
            "platform": platform.platform(),
        },
        "versions": {
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "pyarrow": pyarrow.__version__,
            "ibis": ibis.__version__,
        },
        "repeat": a.repeat,
        "seed": a.seed,
        "days": DAYS,
        "rss_source": "/usr/bin/time -v" if Path(TIME).exists() else "getrusage(RUSAGE_CHILDREN)",
    }


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured figure and whether it is met."""
    rows = {(row["size"], row["format"]): row for row in r.get("table", [])}
    found: list[dict[str, Any]] = []

    def add(target: str, measured: Any, met: bool | None) -> None:
        found.append({"target": target, "measured": measured, "met": met})

    for size, fmt in (("1m", "csv"), ("10m", "parquet")):
        row = rows.get((size, fmt))
        if row and row["ratio_b_over_a"] is not None:
            add(f"{size} {fmt}: (b) within 2x the floor (aim 1.5x)",
                f"{row['ratio_b_over_a']}x ({row['json_only_s']} s / {row['floor_s']} s)",
                row["ratio_b_over_a"] <= 2)  # fmt: skip
    row = rows.get(("10m", "parquet"))
    if row and row["json_only_peak_rss_mb"] is not None:
        add("10m parquet: peak RSS <= 3 GB (3072 MB), default settings",
            f"{row['json_only_peak_rss_mb']} MB", row["json_only_peak_rss_mb"] <= 3072)  # fmt: skip
    for spill in r.get("memory_limit_runs", []):
        if (spill["size"], spill["format"]) == ("10m", "parquet") and spill["completed"]:
            add(f"10m parquet with memory_limit={spill['memory_limit']}: peak RSS <= 3 GB",
                f"{spill['peak_rss_mb']} MB in {spill['wall_s']} s",
                spill["peak_rss_mb"] <= 3072)  # fmt: skip
    nb = r.get("notebook")
    if nb and nb.get("extra_s") is not None:
        add(f"{nb['size']}: the notebook adds <= 8 s to (b)", f"{nb['extra_s']} s",
            nb["extra_s"] <= 8)  # fmt: skip
    for fmt, slope in r.get("slopes", {}).items():
        add(f"{fmt}: cost linear in rows (slope stated)",
            f"{slope['json_only_s_per_million_rows']} s per million rows", None)  # fmt: skip
    for spill in r.get("memory_limit_runs", []):
        add(f"{spill['size']} {spill['format']}, memory_limit={spill['memory_limit']}: completes "
            "by spilling, same report", f"completed: {spill['completed']}, spilled "
            f"{spill['peak_spill_mb']} MB, same report: {spill['same_report_as_unlimited']}",
            bool(spill["completed"] and spill["same_report_as_unlimited"]))  # fmt: skip
    return found


#: Sections of results.md measured by other scripts (bench/spark_jobs.py, bench/versus.py): a
#: run of this one keeps them as they are.
_KEPT_SECTIONS = ("## Spark jobs per report", "## Against hand-written SQL")


def _kept_sections(page: Path) -> str:
    """The hand-kept part of ``page``: from the first of :data:`_KEPT_SECTIONS` to the end."""
    text = page.read_text() if page.exists() else ""
    starts = [text.find(heading) for heading in _KEPT_SECTIONS if heading in text]
    return "\n" + text[min(starts):] if starts else ""


def markdown(r: dict[str, Any]) -> str:
    m = r["meta"]
    v, mc = m["versions"], m["machine"]

    def cell(value: Any) -> str:
        return "–" if value is None else f"{value}"

    lines = [
        "# Benchmark results",
        "",
        f"- Date: {m['date']}",
        f"- Code measured: {m['code']['measured']}",
        *[
            f"- Merged with the measurements of an earlier run ({w['date']}, `{w['command']}`, "
            f"{w['code']['measured']}); each measurement in results.json has its date and code."
            for w in m.get("merged_with", [])
        ],
        f"- Machine: {mc['cores']} cores, {mc['memory_gib']} GiB RAM ({mc['cpu']}; "
        f"{mc['platform']})",
        f"- Versions: Python {v['python']}, duckdb {v['duckdb']}, pyarrow {v['pyarrow']}, "
        f"ibis {v['ibis']}",
        f"- Command: `{m['command']}`",
        f"- Events: synthetic, {m.get('days', 1)} day(s) of them, seed {m['seed']}.",
        f"- Wall time: median of {m['repeat']} runs, each a fresh process, warm page cache. "
        f"Peak RSS: largest single process, max over runs ({m['rss_source']}); the process "
        "tree figure is psutil sampling every 0.1 s (it can miss short peaks).",
        "- (a) floor = `bench/floor.py FILE`: pyarrow reads the file (CSV: all columns as strings, "
        "the project's options); (b) = `python -m helpers run --json-only`.",
        "- CPU s: median user + system CPU seconds of (b). Other load: the most cores that other "
        "processes on the machine used, on average, during any run of the row (0 = quiet; "
        "above ~0.2 the wall times are inflated by contention, CPU s much less so).",
        "",
    ]
    if r.get("targets"):
        lines += [
            "## Targets",
            "",
            "Missed targets: the profile and what would close the gap are in "
            "[PROFILE.md](PROFILE.md).",
            "",
            "| target | measured | met |",
            "|---|---|---|",
        ]
        met = {True: "yes", False: "**no**", None: "–"}
        lines += [f"| {t['target']} | {t['measured']} | {met[t['met']]} |" for t in r["targets"]]
        lines += ["", "## All measurements", ""]
    lines += [
        "| size | format | file MB | (a) floor s | (a) peak RSS MB | (b) json-only s "
        "| (b) peak RSS MB | (b)/(a) | (b) CPU s | other load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r.get("table", []):
        lines.append(
            f"| {row['size']} | {row['format']} | {row['file_mb']} | {cell(row['floor_s'])} | "
            f"{cell(row['floor_peak_rss_mb'])} | {cell(row['json_only_s'])} | "
            f"{cell(row['json_only_peak_rss_mb'])} | {cell(row['ratio_b_over_a'])} | "
            f"{cell(row['json_only_cpu_s'])} | {cell(row['max_other_load_cores'])} |"
        )
    lines += ["", "## Slope of (b) against rows (least squares)", ""]
    lines += ["| format | sizes | (b) s per million rows | (a) s per million rows |",
              "|---|---|---:|---:|"]  # fmt: skip
    for fmt, s in r.get("slopes", {}).items():
        lines.append(
            f"| {fmt} | {', '.join(s['sizes'])} | {cell(s['json_only_s_per_million_rows'])} | "
            f"{cell(s['floor_s_per_million_rows'])} |"
        )
    nb = r.get("notebook")
    lines += ["", "## (c) Full papermill report", ""]
    if nb:
        lines += [
            "| size | format | (c) notebook s | (b) json-only s | extra (c) − (b) s "
            "| (c) peak RSS MB (largest process) | (c) peak RSS MB (process tree, sampled) |",
            "|---|---|---:|---:|---:|---:|---:|",
            f"| {nb['size']} | {nb['format']} | {cell(nb['notebook_s'])} | "
            f"{cell(nb['json_only_s'])} | {cell(nb['extra_s'])} | {cell(nb['peak_rss_mb'])} | "
            f"{cell(nb['tree_peak_rss_mb'])} |",
        ]
    else:
        lines.append("Not run (`--skip-notebook`).")
    lines += ["", "## Memory limit: (b) with DuckDB's `memory_limit` (spilling to disk)", ""]
    check = r.get("env_var_check", {})
    lines.append(
        f"Environment: {check.get('conclusion')}. When the measured code has a `memory_limit` "
        "parameter the run sets it (`--set memory_limit=...`); otherwise "
        "`bench/duckdb_config.py` wraps `duckdb.connect` before the project runs and passes "
        "`memory_limit` and `temp_directory` (spill files) to it."
    )
    lines.append("")
    if r.get("memory_limit_runs"):
        lines += [
            "| size | format | memory_limit | completed | wall s | peak RSS MB | peak spill MB "
            "| same report.json as (b) | (b) s at the default limit "
            "| (b) peak RSS MB at the default limit |",
            "|---|---|---|---|---:|---:|---:|---|---:|---:|",
        ]
        for s in r["memory_limit_runs"]:
            lines.append(
                f"| {s['size']} | {s['format']} | {s['memory_limit']} | "
                f"{'yes' if s['completed'] else 'no'} | {s['wall_s']} | {cell(s['peak_rss_mb'])} | "
                f"{cell(s['peak_spill_mb'])} | {cell(s['same_report_as_unlimited'])} | "
                f"{cell(s['unlimited_json_only_s'])} | {cell(s['unlimited_peak_rss_mb'])} |"
            )
        for s in r["memory_limit_runs"]:
            applied = f"; DuckDB reported {s['settings_applied']}" if s["settings_applied"] else ""
            lines += ["", f"{s['size']} {s['format']}: limit set through {s['how']}{applied}."]
            if not s["completed"]:
                lines += ["", f"{s['size']} {s['format']} failed; end of stderr:", "", "```",
                          s["stderr_tail"], "```"]  # fmt: skip
    else:
        lines.append("Not run.")
    return "\n".join(lines) + "\n"


# -- command line ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.bench", description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="100k,1m,10m",
                   type=lambda s: [parse_size(x) for x in _csv_list(s)],
                   help="row counts, e.g. 10k,100k,1m,10m (default %(default)s)")  # fmt: skip
    p.add_argument("--formats", default="csv,parquet", type=lambda s: _csv_list(s, FORMATS),
                   help="csv and/or parquet (default %(default)s)")  # fmt: skip
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement (median)")
    p.add_argument("--skip-notebook", action="store_true", help="skip (c), the papermill run")
    p.add_argument("--notebook-size", type=parse_size, default="1m", help="rows for (c)")
    p.add_argument("--notebook-format", choices=FORMATS, default="csv", help="format for (c)")
    p.add_argument("--spill-size", default=None,
                   help="rows for the memory-limit run; 'none' to skip "
                        "(default: 10m when 10m is among --sizes)")  # fmt: skip
    p.add_argument("--spill-formats", default="parquet", type=lambda s: _csv_list(s, FORMATS),
                   help="formats for the memory-limit run (default %(default)s)")  # fmt: skip
    p.add_argument("--spill-limit", default="1GB,2GB",
                   help="DuckDB memory_limit of that run; comma-separated, a run each")  # fmt: skip
    p.add_argument("--spill-timeout", type=float, default=1800, help="seconds before giving up")
    p.add_argument("--code-at", metavar="REV", default=None,
                   help="measure the project as committed at REV (git archive into a temporary "
                        "directory) instead of the working tree")  # fmt: skip
    p.add_argument("--wait-idle", type=float, default=120, metavar="SECONDS",
                   help="before each run, wait up to this long for other processes to go "
                        "quiet (0: don't wait; default %(default)s)")  # fmt: skip
    p.add_argument("--merge", action="store_true",
                   help="keep the measurements already in OUT.json and replace only those "
                        "measured again (e.g. to redo one size after a noisy run)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    p.add_argument("--cache", type=Path, default=BENCH / "cache", help="generated events")
    p.add_argument("--out", default=str(BENCH / "results"),
                   help="writes OUT.json and OUT.md (default bench/results)")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.repeat < 1:
        raise SystemExit("--repeat must be at least 1")
    if args.spill_size is None:
        args.spill_size = 10_000_000 if 10_000_000 in args.sizes else None
    elif args.spill_size.lower() in ("none", "0", ""):
        args.spill_size = None
    else:
        args.spill_size = parse_size(args.spill_size)
    args.cache = args.cache.resolve()
    args.out = str(Path(args.out).resolve().with_suffix(""))
    sys.path.insert(0, str(ROOT))  # for `python bench/bench.py`
    work = Path(tempfile.mkdtemp(prefix="bench-work-"))
    try:
        code = export_tree(args.code_at, work / "code") if args.code_at else ROOT
        return Bench(args, work, code).run()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
