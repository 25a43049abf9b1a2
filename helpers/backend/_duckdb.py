"""DuckDB: Parquet scanned where it lies (unless a column's name is one DuckDB's scan uses),
spill files out of the working directory, and the JSON functions called by name."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from helpers.backend._common import _literal, _quoted
from helpers.leftovers import fresh_directory
from helpers.sources import CAST, FILE, FLAG, LINE, NAIVE_TIMESTAMP, NO_VALUES, ROW, ParquetFile


def _scan(files: tuple[ParquetFile, ...]) -> str:
    """DuckDB SQL reading Parquet files as all-text events with the hidden columns (``_row``,
    ``_line``, ``_file`` for a set): each file's columns renamed as the spec normalises them,
    typed ones rendered as text as :mod:`helpers.sources` renders them for Arrow, and the
    files stacked by column name.

    Files alike (the same columns of the same types, the same folder columns) are read by one
    ``read_parquet`` of them all, each row's place taken from its ``file_index``: a stack of
    one read per file made DuckDB keep a scan's buffers for every file at once, and 217
    files of 100M events ran out of memory at a 2.5 GB limit on the stack alone."""
    alike: dict[tuple, list[ParquetFile]] = {}
    for file in files:
        key = (file.header, file.kinds, file.types, tuple(n for n, _ in file.partitions),
               file.line_column)  # fmt: skip
        alike.setdefault(key, []).append(file)
    return " UNION ALL BY NAME ".join(_scan_alike(group) for group in alike.values())


def _scan_alike(files: list[ParquetFile]) -> str:
    first = files[0]
    columns = [
        f"{_text(_quoted(original), kind)} AS {_quoted(name)}"
        for original, name, kind in zip(first.header, first.names, first.kinds, strict=True)
    ]

    def of_file(values: list[str]) -> str:
        # The value of each row's file: a list indexed by DuckDB's file_index (from 0).
        if len(values) == 1:
            return values[0]
        return f"[{', '.join(values)}][file_index::BIGINT + 1]"

    for i, (name, _) in enumerate(first.partitions):
        values = [_text_literal(f.partitions[i][1]) for f in files]
        columns.append(f"{of_file(values)} AS {_quoted(name)}")
    columns.append(
        f"file_row_number + {of_file([str(f.first_row) for f in files])} AS {_quoted(ROW)}"
    )
    line = _quoted(first.line_column) if first.line_column else "file_row_number + 2"
    columns.append(f"{line} AS {_quoted(LINE)}")
    if first.label is not None:
        labels = [_text_literal(f.label) for f in files]
        columns.append(f"{of_file(labels)} AS {_quoted(FILE)}")
    paths = ", ".join(_literal(_glob_escaped(str(f.path))) for f in files)
    # Not DuckDB's own Hive partitioning: it would put a folder's env over the file's cells,
    # and type dt=2021-01-23 as a date (helpers.sources.partition_columns).
    return (
        f"SELECT {', '.join(columns)} FROM read_parquet([{paths}], "
        f"file_row_number = true, hive_partitioning = false)"
    )


def _text_literal(value: str | None) -> str:
    return "NULL::VARCHAR" if value is None else f"{_literal(value)}::VARCHAR"


def _glob_escaped(path: str) -> str:
    """``path`` as DuckDB's file readers take it literally: they expand ``*``, ``?`` and
    ``[...]`` as a glob, so ``events[1].parquet`` would read ``events1.parquet``; a character
    class of one character is that character."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in path)


def _scannable(files: tuple[ParquetFile, ...]) -> bool:
    """Whether :func:`_scan` can read these files: DuckDB numbers a file's rows and files in
    columns named ``file_row_number`` and ``file_index`` (any case), which a file's own
    column of that name would meet."""
    return not any(c.lower() in _VIRTUAL for f in files for c in f.header)


_VIRTUAL = ("file_row_number", "file_index")


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
    ``.tmp/`` in the working directory, would litter (or fail in) wherever a run starts.
    Named after this process, so that a run killed outright (SIGKILL, or a notebook's kernel
    stopped by its manager) leaves one that the next run removes; a live run's stays."""
    return str(fresh_directory(_SPILL))


_SPILL = "customer-activity-spill-"


def default_memory_limit() -> str:
    """DuckDB's memory limit when the parameters set none: a tenth of the machine's memory
    (of its cgroup's limit where that is smaller), at least 1 GB.

    DuckDB's own default, 80%, suits a database that has the machine to itself; a report runs
    beside a notebook kernel, a browser and other people's jobs, and DuckDB keeps what it is
    allowed to hold. Beyond the limit it spills to disk, so a smaller limit costs time only on
    data that needs the memory: 10M events peak at 2.8 GB instead of 4.0 GB for 10% more time
    on 24 GB (bench/PROFILE.md), and 1M events never reach it.

    >>> default_memory_limit().endswith("MB")
    True
    """
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for cgroup in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        with contextlib.suppress(OSError, ValueError):  # absent, or "max": no limit
            total = min(total, int(Path(cgroup).read_text()))
    return f"{max(total // 10, 10**9) // 10**6}MB"


def memory_limit_bytes(con: Any) -> int | None:
    """The connection's memory limit in bytes, as DuckDB tells it (to a tenth of its unit:
    ``2.2 GiB``, ``953.6 MiB``); None for none.

    >>> import duckdb
    >>> memory_limit_bytes(duckdb.connect(config={"memory_limit": "1GiB"}))
    1073741824
    """
    text = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    found = re.fullmatch(r"([\d.]+)\s*([KMGTP]?)(i?)B", str(text).strip())
    if found is None:
        return None
    number, prefix, binary = found.groups()
    return round(float(number) * (1024 if binary else 1000) ** "_KMGTP".index(prefix or "_"))


@ibis.udf.scalar.builtin(name="json_type")
def _json_type(doc: dt.JSON, path: str) -> str: ...


@ibis.udf.scalar.builtin(name="json_extract")
def _json_extract_paths(doc: dt.JSON, paths: dt.Array(dt.string)) -> dt.Array(dt.JSON): ...


@ibis.udf.scalar.builtin(name="json_extract_string")
def _json_extract_string(doc: dt.JSON, path: str) -> str: ...


# -- JSON: a key given twice, the last value wins -------------------------------------------------
#
# DuckDB's JSON functions take the FIRST of two values of one key ({"price": 1200, "price":
# 1300} is 1200) and a cast to a MAP fails the query ("Map keys must be unique"), where
# JSON.parse, Python's json, PostgreSQL and Spark (as configured) take the last. These macros,
# created in the connection's temp schema on first use, read the last. Walking a path that way
# costs twice the one extraction of every path, so a document takes it only when one of the
# paths' keys, quoted, is twice in its text (or it holds a \u escape, which may spell a key):
# a cheap search that no repeated key on a path escapes.
_MACROS = r"""
CREATE OR REPLACE TEMP MACRO car_json_last(node, k) AS (
  CASE WHEN json_type(node) = 'OBJECT' THEN
    list_extract(json_extract(node, '$.*'),
                 len(json_keys(node)) + 1 - list_position(list_reverse(json_keys(node)), k))
  END);
CREATE OR REPLACE TEMP MACRO car_json_object(node) AS (
  CASE WHEN json_type(node) = 'OBJECT' THEN map_from_entries(list_transform(
    list_filter(range(1, len(json_keys(node)) + 1),
                lambda i: list_position(json_keys(node), json_keys(node)[i]) = i),
    lambda i: {'key': json_keys(node)[i], 'value': car_json_last(node, json_keys(node)[i])}))
  END);
"""


def _create_json_macros(con: Any) -> None:
    """The macros above in ``con`` (an Ibis DuckDB connection); idempotent, so any connection
    (ours, a ``duckdb://`` URL's, a test's) gets them when a query first needs them."""
    if not getattr(con, "_car_json_macros", False):
        con.raw_sql(_MACROS)
        con._car_json_macros = True


def _json_last_columns(
    table: ir.Table, column: str, paths: list[str]
) -> tuple[ir.Table, list[str]]:
    """``table`` with the node (DuckDB JSON) at each ``$``/``$.a.b`` path of the JSON text in
    ``column``, a key given twice read as its last value, each in a column of its own (their
    names second).

    Two selects, each reading the one before by name, which Ibis keeps apart and DuckDB
    evaluates once per row: first the test for the slow way and one walk of all paths, then
    the nodes. DuckDB shares no work inside a CASE, and a node is one (``_json_node``):
    written as one expression, the test and the walk ran again in every branch of every
    reader (1M rows: 2.1 s of the cleaning's 6.6 CPU s)."""
    _create_json_macros(table._find_backend())
    doc = table[column]
    walked = table.mutate(
        _json_slow=_json_slow(doc, paths),
        _json_walk=_json_extract_paths(doc.try_cast("json"), paths),
    )
    names = [f"_json_node_{i}" for i in range(len(paths))]
    nodes = {
        name: _json_node(walked[column], path, walked._json_walk[i], walked._json_slow)
        for i, (name, path) in enumerate(zip(names, paths, strict=True))
    }
    return walked.mutate(**nodes).drop("_json_slow", "_json_walk"), names


def _json_slow(doc: ir.StringValue, paths: list[str]) -> ir.BooleanValue:
    """Whether ``doc`` goes the slow way: a key of a path, quoted, found twice in its text (or
    a \\u escape, which may spell a key). Searching the text is cheap; a key that repeats
    elsewhere in the document only costs time, never a wrong value."""
    names = sorted({key for path in paths for key in path.split(".")[1:]})
    if not names:
        return doc.contains("\\u")
    # One regular expression for every key: a quoted key cannot overlap itself in JSON text,
    # so a match is two of its occurrences; (?s) lets them be lines apart. One pass of RE2's
    # automaton: 0.26 s per million documents, where counting each key's occurrences with
    # replace() copied every document once per key (0.68 s for five keys).
    twice = "|".join(f'"{re.escape(key)}".*"{re.escape(key)}"' for key in names)
    return doc.contains("\\u") | doc.re_search(f"(?s){twice}")


def _json_node(
    doc: ir.StringValue, path: str, extracted: ir.Value, slow: ir.BooleanValue
) -> ir.Value:
    """The node at ``path``: DuckDB's (``extracted``, the first value of a key given twice),
    or on the slow way the last value of each key, one step at a time."""
    keys = path.split(".")[1:]
    if not keys:
        return extracted
    last = doc.try_cast("json")
    for key in keys:
        last = _json_last(last, key)
    return ibis.ifelse(slow, last, extracted)


@ibis.udf.scalar.builtin(name="car_json_last")
def _json_last(value: dt.JSON, key: str) -> dt.JSON: ...


@ibis.udf.scalar.builtin(name="car_json_object")
def _json_object(value: dt.JSON) -> dt.Map(dt.string, dt.JSON): ...
