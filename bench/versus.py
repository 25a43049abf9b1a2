"""The report against the SQL an analyst would write by hand (:mod:`bench.baseline`).

Run from the repository root with the project's virtualenv (``make bench`` runs it after
:mod:`bench.bench`)::

    .venv/bin/python -m bench.versus        # 1m csv and parquet, 10m csv and parquet, 100m parquet
    .venv/bin/python -m bench.versus --cases 1m/csv,10m/parquet --repeat 1

For each case, in one run and alternating, A B A B A B: (A) ``python bench/baseline.py FILE``
and (B) ``python -m helpers run --source FILE --json-only --debug`` (the default report:
objectives, insights, the default analyses; ``--debug`` only logs each stage's time), each a
fresh process on a warm page cache: ``--repeat`` pairs (3), and ``--repeat-big`` (1) for a
case of 50M rows or more (a 100M pair takes some 25 minutes). Records the median wall time,
CPU seconds and peak RSS of each, (B)'s stage times (and each insight's and analysis's), the
ratio B/A, and whether both give the same eight objectives; also the startup of (B) on a
10-row file. The events are four weeks of synthetic data
(:func:`helpers.synthetic.synthetic_events`), generated once under ``bench/cache/``; the
100m case is a directory of Parquet files.

Writes ``bench/versus.json`` and the section "Against hand-written SQL" of
``bench/results.md`` (which :mod:`bench.bench` keeps as it is).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bench import (
    BENCH,
    BIG,
    ROOT,
    _dir_bytes,
    _git,
    _warm,
    events_path,
    least_squares_slope,
    log,
    mb,
    measure,
    parse_size,
    size_label,
)  # fmt: skip

SECTION = "## Against hand-written SQL"
#: Issue 14's four sizes, whose times give the slope; 10m/csv shows a CSV too big to parse
#: into memory (streamed into Parquet).
_SIZES = ("1m/csv", "1m/parquet", "10m/parquet", "100m/parquet")
_DEFAULT_CASES = "1m/csv,1m/parquet,10m/csv,10m/parquet,100m/parquet"
def _code() -> str:
    """The commit measured, marked when the working tree differs from it."""
    dirty = " (with uncommitted changes)" if _git("status", "--porcelain", "--", "helpers") else ""
    return _git("rev-parse", "--short", "HEAD") + dirty


def _size_on_disk(path: Path) -> int:
    return _dir_bytes(path) if path.is_dir() else path.stat().st_size


def _summary(runs: list[Any]) -> dict[str, Any]:
    ok = [r for r in runs if r.returncode == 0]
    return {
        "ok": len(ok) == len(runs),
        "median_wall_s": round(statistics.median(r.wall_s for r in ok), 3) if ok else None,
        "median_cpu_s": round(statistics.median(r.cpu_s for r in ok if r.cpu_s), 2) if ok else None,
        "peak_rss_mb": mb(max((r.max_rss_kb or 0 for r in runs), default=0) or None),
        "walls_s": [r.wall_s for r in runs],
        # The report's --debug stage times: median per stage over the runs that logged it.
        "stages_s": {
            stage: round(statistics.median(r.stages[stage] for r in ok if stage in r.stages), 3)
            for stage in dict.fromkeys(stage for r in ok for stage in r.stages)
        },
        "parts_s": {
            part: round(statistics.median(r.parts[part] for r in ok if part in r.parts), 3)
            for part in dict.fromkeys(part for r in ok for part in r.parts)
        },
        "stderr_tail": next((r.stderr_tail for r in runs if r.returncode != 0), ""),
    }


def versus(path: Path, repeat: int, work: Path) -> dict[str, Any]:
    """A B A B ...: the baseline and the report, alternating, and their objectives."""
    for file in [path] if path.is_file() else sorted(path.glob("*.parquet")):
        _warm(file)
    baseline_json, out = work / "baseline.json", work / "report"
    commands = {
        "baseline": [sys.executable, str(BENCH / "baseline.py"), str(path), str(baseline_json)],
        "report": [sys.executable, "-m", "helpers", "run", "--source", str(path), "--out",
                   str(out), "--json-only", "--debug"],
    }  # fmt: skip
    runs: dict[str, list[Any]] = {kind: [] for kind in commands}
    for i in range(repeat):
        for kind, cmd in commands.items():
            run = measure(cmd, cwd=ROOT)
            runs[kind].append(run)
            log(f"  {kind} {i + 1}/{repeat}: {run.wall_s:.2f} s, CPU {run.cpu_s} s, "
                f"peak RSS {mb(run.max_rss_kb)} MB, exit {run.returncode}")  # fmt: skip
    a, b = _summary(runs["baseline"]), _summary(runs["report"])
    report = next(out.rglob("report.json"), None)
    same = None
    if baseline_json.exists() and report is not None:
        same = json.loads(baseline_json.read_text()) == json.loads(report.read_text())["objectives"]
    return {
        "baseline": a,
        "report": b,
        "ratio": round(b["median_wall_s"] / a["median_wall_s"], 2)
        if a["median_wall_s"] and b["median_wall_s"] else None,
        "same_objectives": same,
    }


def startup(work: Path, repeat: int) -> float | None:
    """Median wall time of (B) on a 10-row CSV: what a user waits for on a tiny file."""
    from helpers.synthetic import write_synthetic_events

    tiny = write_synthetic_events(work / "ten.csv", rows=10, seed=1)
    cmd = [sys.executable, "-m", "helpers", "run", "--source", str(tiny), "--out",
           str(work / "ten"), "--json-only"]  # fmt: skip
    walls = [measure(cmd, cwd=ROOT).wall_s for _ in range(repeat)]
    return round(statistics.median(walls), 3)


def targets(cases: dict[str, dict[str, Any]], start_s: float | None) -> list[tuple[str, str, Any]]:
    """Issue 14's targets: (target, measured, met)."""
    found = []
    for key in ("1m/csv", "1m/parquet", "10m/parquet"):
        case = cases.get(key)
        if case and case["ratio"] is not None:
            a, b = case["baseline"], case["report"]
            found.append((f"{key}: report within 1.0x the baseline's wall time (aim 0.7x)",
                          f"{case['ratio']}x ({b['median_wall_s']} s / {a['median_wall_s']} s)",
                          case["ratio"] <= 1.0))  # fmt: skip
            limit = a["peak_rss_mb"] * 1.2
            found.append((f"{key}: peak RSS at most the baseline's + 20%",
                          f"{b['peak_rss_mb']} MB (baseline {a['peak_rss_mb']} MB)",
                          b["peak_rss_mb"] <= limit))  # fmt: skip
    big = cases.get("10m/parquet")
    analyses_s = big and big["report"].get("stages_s", {}).get("analyses")
    if analyses_s is not None:
        rest = big["report"]["median_wall_s"] - analyses_s
        share = analyses_s / rest
        found.append(("10m/parquet: the default analyses add at most 30% to --json-only",
                      f"{share:.1%} ({analyses_s} s on top of {rest:.1f} s)", share <= 0.3))
    if big:
        rss = big["report"]["peak_rss_mb"]
        found.append(("10m/parquet: peak RSS within 3 GB at default settings", f"{rss} MB",
                      rss is not None and rss <= 3072))  # fmt: skip
    huge = cases.get("100m/parquet")
    if huge:
        r = huge["report"]
        if r["ok"]:
            measured = f"{r['median_wall_s']} s, peak RSS {r['peak_rss_mb']} MB"
        else:  # the run's own last words: what a user would read
            said = r["stderr_tail"].strip().splitlines()[-1]
            measured = (f"failed after {max(r['walls_s'])} s at peak RSS {r['peak_rss_mb']} MB: "
                        f"\"{said[:110]}…\"")  # fmt: skip
        found.append(("100m/parquet: completes at default settings",
                      f"{measured} ({huge['disk_mb']} MB on disk)", r["ok"]))  # fmt: skip
    sized = [key for key in cases if key in _SIZES] or list(cases)  # a test's own sizes
    points = [(cases[k]["rows"] / 1e6, cases[k]["report"]["median_wall_s"]) for k in sized
              if cases[k]["report"]["median_wall_s"] is not None]  # fmt: skip
    slope = least_squares_slope(*map(list, zip(*points, strict=True))) if points else None
    if slope is not None:
        found.append(("slope of the report's time per million rows (the four sizes)",
                      f"{slope:.2f} s", None))  # fmt: skip
    if start_s is not None:
        found.append(("startup: a 10-row file under 1.5 s", f"{start_s} s", start_s < 1.5))
    return found


def markdown(result: dict[str, Any]) -> str:
    met = {True: "yes", False: "**no**", None: "–"}
    runs = {(c.get("date", result["date"]), c.get("code", result["code"]))
            for c in result["cases"].values()}  # fmt: skip
    lines = [
        SECTION, "",
        f"- Date: {result['date']}; code: {result['code']}; command: `{result['command']}`",
        *(["- Cases merged from earlier runs: " + "; ".join(
            f"{', '.join(k for k, c in result['cases'].items() if c.get('date') == d)} on "
            f"{d} (code {code})" for d, code in sorted(runs))]
          if len(runs) > 1 else []),
        "- (A) = `python bench/baseline.py FILE`, the eight objectives in one DuckDB SQL script "
        "as an analyst writes it; (B) = `python -m helpers run --json-only --debug` "
        "(objectives, insights and the default analyses). Alternating A B A B, medians of "
        "the runs the table gives; four weeks of synthetic events.",
        "", "| target | measured | met |", "|---|---|---|",
        *[f"| {t} | {m} | {met[ok]} |" for t, m, ok in result["targets"]],
        "", "| case | on disk MB | (A) s | (A) CPU s | (A) peak RSS MB | (B) s | (B) CPU s "
        "| (B) peak RSS MB | B/A | same objectives | runs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]  # fmt: skip
    for key, c in result["cases"].items():
        a, b = c["baseline"], c["report"]
        lines.append(
            f"| {key} | {c['disk_mb']} | {a['median_wall_s']} | {a['median_cpu_s']} | "
            f"{a['peak_rss_mb']} | {b['median_wall_s']} | {b['median_cpu_s']} | "
            f"{b['peak_rss_mb']} | {c['ratio']} | {c['same_objectives']} | "
            f"{c.get('repeat', result['repeat'])} |"
        )
    lines += _times_table(result, "stages_s", "(B)'s stages (`--debug`, medians, seconds):")
    lines += _times_table(
        result, "parts_s", "Each insight and analysis of (B) (`--debug`, medians, seconds):"
    )
    return "\n".join(lines) + "\n"


def _times_table(result: dict[str, Any], field: str, title: str) -> list[str]:
    """A table of (B)'s times of ``field`` (``stages_s``, ``parts_s``), a row per case."""
    names = list(dict.fromkeys(name for c in result["cases"].values()
                               for name in c["report"].get(field, {})))  # fmt: skip
    if not names:
        return []
    lines = ["", title, "", "| case | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for key, c in result["cases"].items():
        got = c["report"].get(field, {})
        lines.append(f"| {key} | " + " | ".join(str(got.get(n, "")) for n in names) + " |")
    return lines


def write_section(page: Path, section: str) -> None:
    """Replace this module's section of ``page`` (up to the next ``## ``), or append it."""
    text = page.read_text() if page.exists() else ""
    start = text.find(SECTION)
    if start < 0:
        page.write_text(text.rstrip("\n") + "\n\n" + section)
        return
    end = text.find("\n## ", start + len(SECTION))
    rest = text[end + 1:] if end >= 0 else ""
    page.write_text(text[:start] + section + ("\n" + rest if rest else ""))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.versus", description=__doc__.split("\n")[0])
    p.add_argument("--cases", default=_DEFAULT_CASES, help="SIZE/FORMAT,... (%(default)s)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each, alternating")
    p.add_argument("--repeat-big", type=int, default=1,
                   help=f"runs of each for a case of {BIG:,} rows or more")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=BENCH / "cache")
    p.add_argument("--merge", action="store_true", help="keep the cases measured before")
    p.add_argument("--out", type=Path, default=BENCH / "results",
                   help="writes its section of OUT.md, and versus.json beside it")  # fmt: skip
    args = p.parse_args(argv)
    store = args.out.parent / "versus.json"
    result: dict[str, Any] = {"cases": {}}
    if args.merge and store.exists():
        result = json.loads(store.read_text())
    result.update(
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), repeat=args.repeat,
        code=_code(), command="python -m bench.versus " + " ".join(argv or sys.argv[1:]),
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-versus-") as tmp:
        for case in args.cases.split(","):
            size, fmt = case.strip().split("/")
            rows = parse_size(size)
            path = events_path(args.cache.resolve(), rows, fmt, args.seed)
            log(f"{case}: {path}")
            work = Path(tmp) / case.replace("/", "_")
            work.mkdir()
            repeat = args.repeat_big if rows >= BIG else args.repeat
            measured = versus(path, repeat, work)
            measured.update(rows=rows, disk_mb=round(_size_on_disk(path) / 1e6, 1),
                            date=result["date"], code=result["code"], repeat=repeat)  # fmt: skip
            result["cases"][f"{size_label(rows)}/{fmt}"] = measured
        start_s = startup(Path(tmp), args.repeat)
    result["startup_s"] = start_s
    result["targets"] = targets(result["cases"], start_s)
    store.write_text(json.dumps(result, indent=2) + "\n")
    write_section(args.out.with_suffix(".md"), markdown(result))
    log(f"wrote {store} and the section {SECTION!r} of bench/results.md")
    cases = result["cases"].values()
    return 0 if all(c["baseline"]["ok"] and c["report"]["ok"] for c in cases) else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
