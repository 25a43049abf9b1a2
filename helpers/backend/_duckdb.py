"""DuckDB: Parquet scanned where it lies (unless a column's name is one DuckDB's scan uses),
spill files out of the working directory, and the JSON functions called by name."""

from __future__ import annotations

import atexit
import shutil
import tempfile

import ibis
import ibis.expr.datatypes as dt

from helpers.backend._common import _literal, _quoted
from helpers.sources import CAST, FILE, FLAG, LINE, NAIVE_TIMESTAMP, NO_VALUES, ROW, ParquetFile


def _scan(files: tuple[ParquetFile, ...]) -> str:
    """DuckDB SQL reading Parquet files as all-text events with the hidden columns (``_row``,
    ``_line``, ``_file`` for a set): each file's columns renamed as the spec normalises them,
    typed ones rendered as text as :mod:`helpers.sources` renders them for Arrow, and the
    files stacked by column name."""
    selects = []
    for file in files:
        columns = [
            f"{_text(_quoted(original), kind)} AS {_quoted(name)}"
            for original, name, kind in zip(file.header, file.names, file.kinds, strict=True)
        ]
        columns += [
            f"{'NULL' if value is None else _literal(value)}::VARCHAR AS {_quoted(name)}"
            for name, value in file.partitions
        ]
        located = f"file_row_number + {file.first_row} AS {ROW}, file_row_number + 2 AS {LINE}"
        if file.label is not None:
            located += f", {_literal(file.label)} AS {FILE}"
        # Not DuckDB's own Hive partitioning: it would put a folder's env over the file's
        # cells, and type dt=2021-01-23 as a date (helpers.sources.partition_columns).
        selects.append(
            f"SELECT {', '.join(columns)}, {located} FROM read_parquet("
            f"{_literal(str(file.path))}, file_row_number = true, hive_partitioning = false)"
        )
    return " UNION ALL BY NAME ".join(selects)


def _scannable(files: tuple[ParquetFile, ...]) -> bool:
    """Whether :func:`_scan` can read these files: DuckDB numbers a file's rows in a column
    named ``file_row_number`` (any case), which a file's own column of that name would meet."""
    return not any(_ROW_NUMBER in (c.lower() for c in f.header) for f in files)


_ROW_NUMBER = "file_row_number"


def _text(column: str, kind: str) -> str:
    if kind == CAST:
        return f"CAST({column} AS VARCHAR)"
    if kind == NAIVE_TIMESTAMP:
        return f"CAST({column} AS VARCHAR) || ' UTC'"
    if kind == NO_VALUES:
        return "CAST(NULL AS VARCHAR)"
    if kind == FLAG:
        return (f"CASE WHEN {column} = 1 THEN 'true' WHEN {column} = 0 THEN 'false' "
                f"ELSE CAST({column} AS VARCHAR) END")  # fmt: skip
    return column


def _spill_directory() -> str:
    """A fresh directory for DuckDB's spill files, under the system's temporary directory
    (``TMPDIR`` chooses the disk), removed when the process ends. DuckDB's own default,
    ``.tmp/`` in the working directory, would litter (or fail in) wherever a run starts."""
    path = tempfile.mkdtemp(prefix="customer-activity-spill-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@ibis.udf.scalar.builtin(name="json_type")
def _json_type(doc: dt.JSON, path: str) -> str: ...


@ibis.udf.scalar.builtin(name="json_extract")
def _json_extract_paths(doc: dt.JSON, paths: dt.Array(dt.string)) -> dt.Array(dt.JSON): ...


@ibis.udf.scalar.builtin(name="json_extract_string")
def _json_extract_string(doc: dt.JSON, path: str) -> str: ...
