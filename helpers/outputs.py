"""Outputs: write a computed report's files atomically.

report.json and the rejected rows are written to temporary files first and renamed only when
both are complete, so a reader never sees half a file and a failure never leaves a new
report.json beside an old rejected_rows.csv.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

if TYPE_CHECKING:
    from helpers.report import Report

REPORT_FILE = "report.json"
REJECTED_FILE = "rejected_rows.csv"

# Cells a spreadsheet would run as a formula (OWASP's list); prefixed with ' when written out.
_FORMULA_START = r"^[=+\-@\t\r]"


def write_outputs(report: Report, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write report.json and rejected_rows.csv into ``out_dir``; return their paths.

    Both are written to temporary files first and renamed only when both are complete, so a
    failure never leaves a new report.json beside an old rejected_rows.csv.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / REPORT_FILE, "rejected": out / REJECTED_FILE}
    with _staged(paths["report"], "w") as (fh, commit_report):
        json.dump(report.data, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
        fh.close()
        with _staged(paths["rejected"], "wb") as (csv_fh, commit_rejected):
            pacsv.write_csv(_neutralised(report.rejected), csv_fh)
            csv_fh.close()
            commit_report()
            commit_rejected()
    return paths


@contextmanager
def _staged(path: Path, mode: str) -> Iterator[tuple[IO[Any], Any]]:
    """A temporary file beside ``path`` and a function that renames it over ``path``; the
    temporary file is removed if the block fails before that."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")

    def commit() -> None:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp, path)

    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as fh:
            yield fh, commit
    finally:
        Path(tmp).unlink(missing_ok=True)


def _neutralised(table: pa.Table) -> pa.Table:
    """Prefix cells a spreadsheet would treat as formulas with ``'`` (CSV injection)."""
    columns = []
    for column in table.columns:
        if pa.types.is_string(column.type):
            risky = pc.match_substring_regex(column, _FORMULA_START)
            column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
