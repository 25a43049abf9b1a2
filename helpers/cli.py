"""The command line: ``python -m helpers run ...`` and ``python -m helpers synth ...``.

Exit codes: 0 success; 2 a problem the user can fix (the message says what and how); 1 a
notebook cell failed or an unexpected error (a bug: rerun with --debug for the traceback).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from helpers.errors import ReportError
from helpers.params import load_params
from helpers.run import NOTEBOOK, NotebookError, run_report

EXIT_OK, EXIT_FAILED, EXIT_USER_ERROR = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if getattr(args, "debug", False):
        # Stage timings and retries, on stderr; the report logs no secrets at any level.
        logging.basicConfig(format="%(name)s: %(message)s")
        logging.getLogger("helpers").setLevel(logging.DEBUG)
    # A batch scheduler stops a run with SIGTERM: clean up as for Ctrl-C (staging, spill).
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return args.command(args)
    except _Terminated:
        _fail(args, "terminated: no output was replaced.")
        return 143
    except ReportError as exc:
        _fail(args, f"error: {exc}")
        return EXIT_USER_ERROR
    except NotebookError as exc:
        _fail(args, f"error: {exc}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        _fail(args, "interrupted: no output was replaced.")
        return 130
    except Exception as exc:
        _fail(
            args,
            f"internal error ({type(exc).__name__}: {exc}). This is a bug in the report, not "
            f"in your data or parameters; rerun with --debug for the traceback and report it.",
        )
        return EXIT_FAILED


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the run is, so that every ``finally`` cleans up."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def _run(args: argparse.Namespace) -> int:
    overrides = _quoted(list(args.set or []))
    if args.source:
        # Several --source options are one data set, in the order given: a list.
        quoted = [_yaml_string(s) for s in args.source]
        value = quoted[0] if len(quoted) == 1 else f"[{', '.join(quoted)}]"
        overrides.append(f"source={value}")
    files: list[str | None] = list(args.params or []) or [None]
    status = EXIT_OK
    names = batch_names([f for f in files if f]) if len(files) > 1 else {}
    previous: Path | None = None  # a batch's previous run, compared when it is earlier
    runs = []
    for file in files:
        out = Path(args.out)
        if len(files) > 1:  # a batch: one directory per parameter set
            out = out / names[file]
        try:
            params = load_params([file] if file else [], overrides)
            written = run_report(
                params, out, json_only=args.json_only, notebook=args.notebook,
                compare_to=args.compare_to or previous,
                compare_when_earlier=not args.compare_to,
            )  # fmt: skip
        except ReportError as exc:
            if len(files) == 1:
                raise
            _fail(args, f"error in {file}: {exc}")
            status = max(status, EXIT_USER_ERROR)
            continue
        previous = written["report"]
        runs.append(out)
        for path in written.values():
            print(path)
    if len(files) > 1 and runs:
        from helpers.batch import write_index

        for path in write_index(Path(args.out), runs):
            print(path)
    return status


def batch_names(files: list[str]) -> dict[str, str]:
    """The output directory of each parameter file of a batch: its name without the suffix,
    or, where two files share a name (``a/day.yaml``, ``b/day.yaml``), its path from their
    common folder with ``-`` for ``/`` (``a-day``, ``b-day``), so no report replaces another."""
    stems = [Path(f).stem for f in files]
    names = {}
    for file, stem in zip(files, stems, strict=True):
        if stems.count(stem) == 1:
            names[file] = stem
            continue
        twins = [Path(f).resolve() for f, s in zip(files, stems, strict=True) if s == stem]
        common = Path(os.path.commonpath(twins))
        relative = Path(file).resolve().relative_to(common).with_suffix("")
        names[file] = "-".join(relative.parts) or stem
    if len(set(names.values())) < len(names):  # the same file twice
        raise ReportError(
            f"the batch names one parameter file more than once ({', '.join(files)}): "
            f"give each once."
        )
    return names


def _docs(args: argparse.Namespace) -> int:
    from helpers.docs import write_definitions

    print(write_definitions())
    return EXIT_OK


def _html(args: argparse.Namespace) -> int:
    from helpers.run import html_of

    notebook = Path(args.notebook)
    if not notebook.is_file():
        raise ReportError(f"{notebook} does not exist: give the notebook papermill wrote.")
    target = Path(args.out) if args.out else notebook.with_suffix(".html")
    target.write_text(html_of(notebook), encoding="utf-8")
    print(target)
    return EXIT_OK


def _synth(args: argparse.Namespace) -> int:
    from helpers.synthetic import write_synthetic_events

    try:
        print(write_synthetic_events(args.out, rows=args.rows, seed=args.seed, days=args.days))
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    return EXIT_OK


def _schemas(args: argparse.Namespace) -> int:
    from helpers.contract import write_schemas

    for path in write_schemas():
        print(path)
    return EXIT_OK


def _quoted(overrides: list[str]) -> list[str]:
    # A source is a path, not YAML: quoted so that "2021-01-23.csv" or "yes.csv" stay strings;
    # a YAML list ("[a.csv, b.csv]") is a list of paths.
    return [
        f"source={_yaml_string(o.partition('=')[2])}"
        if o.startswith("source=") and not o.partition("=")[2].lstrip().startswith("[")
        else o
        for o in overrides
    ]


def _yaml_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fail(args: argparse.Namespace, message: str) -> None:
    if getattr(args, "debug", False):
        import traceback

        traceback.print_exc()
    print(message, file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers", description="Customer activity report."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="compute the report (report.json, HTML, notebook)")
    run.add_argument(
        "--source",
        action="append",
        help="events: a .csv, .csv.gz, .tsv, .jsonl, .ndjson, .parquet or .xlsx file, a "
        "directory or a glob of them; repeat it for several (one data set, in the order "
        "given); default: the sample",
    )
    run.add_argument("--out", default="outputs/report", help="output directory")
    run.add_argument(
        "--params",
        action="append",
        metavar="FILE",
        help="YAML parameter set; give several for a batch (one directory each)",
    )
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override one parameter (VALUE read as YAML), e.g. --set price_threshold=1500",
    )
    run.add_argument(
        "--json-only", action="store_true", help="write report.json without the notebook"
    )
    run.add_argument(
        "--compare-to",
        metavar="REPORT_JSON",
        help="an earlier report.json: its KPIs beside this report's, with the change and, for "
        "rates, whether it is more than noise (a batch compares each run with the one before "
        "it when their periods follow each other)",
    )
    run.add_argument(
        "--notebook", default=NOTEBOOK, help="notebook to execute (default: the master notebook)"
    )
    run.add_argument(
        "--debug", action="store_true", help="show tracebacks on errors, and each stage's time"
    )
    run.set_defaults(command=_run)

    synth = commands.add_parser("synth", help="write deterministic synthetic events")
    synth.add_argument("--rows", type=int, required=True, help="number of events")
    synth.add_argument("--seed", type=int, default=0, help="random seed")
    synth.add_argument(
        "--days",
        type=int,
        default=1,
        help="days of events (default 1: one day, 2021-01-23); several days run from Monday "
        "2021-01-04 with returning visitors, a weekly pattern and a planted drop in book-now "
        "clicks from the middle day on",
    )
    synth.add_argument("out", help="output file: .csv, .csv.gz or .parquet")
    synth.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    synth.set_defaults(command=_synth)

    page = commands.add_parser(
        "html", help="write the self-contained HTML of an executed notebook (papermill's)"
    )
    page.add_argument("notebook", help="executed notebook, e.g. papermill's out.ipynb")
    page.add_argument("--out", help="HTML file to write; default: the notebook's, as .html")
    page.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    page.set_defaults(command=_html)

    docs = commands.add_parser(
        "docs", help="regenerate docs/definitions.md from the code that computes each number"
    )
    docs.set_defaults(command=_docs)

    schemas = commands.add_parser(
        "schemas", help="regenerate the shipped JSON Schema files from the report's models"
    )
    schemas.set_defaults(command=_schemas)
    return parser
