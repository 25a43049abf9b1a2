"""Sources: find the raw events and describe them as one all-text table, as the source holds them.

Every cell arrives as a string (typed Parquet columns are rendered as text) so that cleaning
has one set of rules whatever the source. Headers are normalised as the spec says (trimmed,
lower-cased, spaces to ``_``). Hidden columns, which are not data, come after the data's,
under names with a space (``"_ row"``), which no normalised header has:

- ``_row``: the input order (0-based, over the whole data set), so that events with the same
  datetime break ties the same way on every backend;
- ``_line``: the row's line in its file as an editor or a spreadsheet shows it (a CSV's
  header is line 1, so its first row is line 2; a JSON Lines file's first line is 1; a
  Parquet file's first row is 2, as in the CSV it was exported from), what rejected_rows.csv
  calls ``source_row``; absent for a table or a Google Sheet, whose row is ``_row + 2``;
- ``_file``: when the data set has several files, which one (see :func:`helpers.files.labels`);
- ``_invalid_line``: JSON Lines only, the text of a line that is not a JSON object.

CSV and JSON Lines files, workbooks and Google Sheets are parsed here into Arrow
(:mod:`helpers.csvs`, :mod:`helpers.jsonl`, :mod:`helpers.xlsx`). Parquet files are only
checked here (schema, row counts, the columns its folders name: ``env=development/``);
an engine that reads Parquet itself (DuckDB) scans them
where they are, which keeps a 10M-row export out of Python's memory. So does a CSV too big
to parse into memory: it is streamed into a temporary Parquet file, a block at a time, and
scanned as one (:func:`read_events`' ``csv_memory``). :attr:`RawEvents.table`
gives the same rows as Arrow for engines that need it. Which files a source names, and how
several are one data set, is :mod:`helpers.files`.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers import files as found_files
from helpers.activity import normalise_header
from helpers.csvs import LINE_COLUMN, csv_header, csv_to_parquet, parsed_size, read_csv
from helpers.errors import SourceError
from helpers.jsonl import INVALID, read_jsonl, stack_blank_filled
from helpers.leftovers import fresh_directory
from helpers.params import is_google_sheet

#: The hidden columns (see the module's docstring): never data, never a header. Each name
#: holds a space, which a normalised header never does (spaces become ``_``), so no column
#: of the data can take one: a file may have columns called ``_row`` or ``_line``.
ROW, LINE, FILE = "_ row", "_ line", "_ file"
HIDDEN = (ROW, LINE, FILE, INVALID)


@dataclass(frozen=True)
class ParquetFile:
    """One Parquet file of the events, checked but not read: what an engine needs to scan it."""

    path: Path
    header: tuple[str, ...]  # column names as written in the file
    names: tuple[str, ...]  # the same, normalised (what the report calls them)
    kinds: tuple[str, ...]  # per column, how it becomes text: see :func:`text_kind`
    types: tuple[str, ...]  # per column, its Arrow type as written (files alike are read as one)
    first_row: int  # ``_row`` of its first event: the files of a set follow each other
    rows: int
    label: str | None = None  # its ``_file``, when the set has several files
    # Text columns from its folders' names (``env=development/``) that the file lacks: see
    # :func:`partition_columns`.
    partitions: tuple[tuple[str, str | None], ...] = ()
    # The column holding each row's ``_line`` (a CSV streamed into Parquet, whose rows may
    # span lines); without one, a row's line is its place + 2.
    line_column: str | None = None


@dataclass(frozen=True)
class RawEvents:
    """The events as found: all-string columns with normalised names, plus ``_row``.

    Either ``arrow`` (a parsed CSV or sheet) or ``parquet`` (files to scan) is given.
    """

    source: dict[str, Any]  # report.json's "source" block: kind, name, sha256 -- never a secret
    arrow: pa.Table | None = None
    parquet: tuple[ParquetFile, ...] = field(default=())

    @cached_property
    def table(self) -> pa.Table:
        """Every row as Arrow text columns, plus the hidden ones (reads Parquet files now)."""
        if self.arrow is not None:
            return self.arrow
        tables = []
        for f in self.parquet:
            table = _read_parquet(f.path)
            lines = np.arange(2, table.num_rows + 2)
            if f.line_column is not None:
                lines = table.column(f.line_column).to_numpy()
                table = table.drop_columns([f.line_column])
            table = _all_text(table).rename_columns(list(f.names))
            for name, value in f.partitions:
                table = table.append_column(name, pa.array([value] * table.num_rows, pa.string()))
            tables.append(_located(table, lines, f.label))
        try:
            table = pa.concat_tables(tables, promote_options="default")
        except pa.ArrowInvalid as exc:
            raise SourceError(f"the Parquet files do not fit together: {exc}.") from None
        return _numbered(table)


def read_events(
    source: str | Sequence[str], *, csv_memory: int | None = None, **sheet_options: Any
) -> RawEvents:
    """Read a Google Sheet (a sheet URL or ``gsheet:KEY``; ``sheet_options`` go to
    :func:`read_google_sheet`), or events files: a CSV (.csv, .csv.gz, .tsv), JSON Lines
    (.jsonl, .ndjson, .gz), Parquet (.parquet) or Excel (.xlsx, the sheet ``worksheet``
    names) file, a directory or glob of them, or a list of those (see :mod:`helpers.files`).

    ``csv_memory``: the memory CSV files may take parsed (bytes; see
    :func:`~helpers.csvs.parsed_size`). Files that would take more are streamed into
    temporary Parquet files instead, for an engine that scans Parquet (see
    :func:`streamed_csv`); None parses every CSV into memory."""
    if isinstance(source, str) and is_google_sheet(source):
        from helpers.gsheets import read_google_sheet  # gspread only when a sheet is read

        sheet = read_google_sheet(source, **sheet_options)
        table = normalise_headers(sheet.table, origin=f"Google Sheet {sheet.info['name']!r}")
        return RawEvents(source=sheet.info, arrow=with_row_numbers(table))
    data = found_files.find(source)
    labels = data.labels or [None] * len(data.files)
    # Hashing costs a fifth of parsing; both release the GIL, so they run together.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(found_files.sha256, data.files)
        if data.kind == "parquet":
            parquet, first_row = [], 0
            for path, label in zip(data.files, labels, strict=True):
                parquet.append(_parquet_file(path, first_row=first_row, label=label))
                first_row += parquet[-1].rows
            block = {"kind": data.kind, "name": data.name, "sha256": digest.result()}
            return RawEvents(source=block, parquet=tuple(parquet))
        csv_too_big = (
            data.kind == "csv" and csv_memory is not None
            and sum(map(parsed_size, data.files)) > csv_memory
        )  # fmt: skip
        streamed = streamed_csv(data.files, labels) if csv_too_big else None
        if streamed is not None:
            block = {"kind": data.kind, "name": data.name, "sha256": digest.result()}
            return RawEvents(source=block, parquet=streamed)
        worksheet = sheet_options.get("worksheet")
        tables = [
            _read_file(path, data.kind, label, worksheet)
            for path, label in zip(data.files, labels, strict=True)
        ]
        block = {"kind": data.kind, "name": data.name, "sha256": digest.result()}
    # Several files are one table: columns by name, in order of first appearance, blank
    # ("") where a file lacks one, as a cell left empty is.
    table = tables[0] if len(tables) == 1 else stack_blank_filled(tables)
    return RawEvents(source=block, arrow=_numbered(table))


def _read_file(path: Path, kind: str, label: str | None, worksheet: Any) -> pa.Table:
    """One CSV, JSON Lines or Excel file: its data columns (normalised), :data:`INVALID` for
    JSON Lines, then ``_line`` and, with a label, ``_file``."""
    if kind == "csv":
        table, lines = read_csv(path)
        table = normalise_headers(table, origin=str(path))
    else:
        if kind == "jsonl":
            keys, table, lines = read_jsonl(path)
        else:
            from helpers.xlsx import read_xlsx  # openpyxl only when a workbook is read

            keys, table, lines = read_xlsx(path, worksheet)
        # A file of a set with no key at all (empty, or only invalid lines) adds no column:
        # a day without events is not a file without the required columns.
        checked = keys or label is None
        names = normalised_names(keys, origin=str(path)) if checked else []
        table = table.rename_columns([*names, *table.column_names[len(names):]])
    return _located(table, lines, label)


def streamed_csv(
    files: Sequence[Path], labels: Sequence[str | None]
) -> tuple[ParquetFile, ...] | None:
    """CSV files streamed into Parquet files of a temporary directory (removed when the
    process ends): the same rows, cells and lines as :func:`read_csv` gives, without holding
    them in memory. None when a file's lines need the whole file (blank lines among its rows)
    or the files have different columns (stacked in memory, blank where a file lacks one)."""
    headers = [normalised_names(csv_header(f).names, origin=str(f)) for f in files]
    if any(h != headers[0] for h in headers):
        return None
    names = tuple(headers[0])
    columns = tuple(f"c{i}" for i in range(len(names)))  # as csv_to_parquet names them
    directory = fresh_directory(_SCRATCH)  # removed when the process ends
    found, first_row = [], 0
    for i, (path, label) in enumerate(zip(files, labels, strict=True)):
        target = directory / f"{i:05d}.parquet"
        rows = csv_to_parquet(path, target)
        if rows is None:
            shutil.rmtree(directory, ignore_errors=True)
            return None
        found.append(
            ParquetFile(
                target, columns, names, (TEXT,) * len(names), ("string",) * len(names),
                first_row=first_row, rows=rows, label=label, line_column=LINE_COLUMN,
            )
        )  # fmt: skip
        first_row += rows
    return tuple(found)


_SCRATCH = "customer-activity-csv-"


def _numbered(table: pa.Table) -> pa.Table:
    """Data columns as text, then the hidden ones: :data:`INVALID`, ``_row``, ``_line``,
    ``_file`` (those the table has)."""
    hidden = [c for c in (INVALID, LINE, FILE) if c in table.column_names]
    numbered = with_row_numbers(table.select([c for c in table.column_names if c not in hidden]))
    if INVALID in hidden:
        numbered = numbered.add_column(numbered.num_columns - 1, INVALID, table.column(INVALID))
    for name in hidden[1:] if INVALID in hidden else hidden:
        numbered = numbered.append_column(name, table.column(name))
    return numbered


def _located(table: pa.Table, lines: np.ndarray, label: str | None) -> pa.Table:
    table = table.append_column(LINE, pa.array(lines, pa.int64()))
    if label is not None:
        table = table.append_column(FILE, pa.array([label] * table.num_rows, pa.string()))
    return table


def table_events(table: ir.Table, *, origin: str, order_column: str | None = None) -> ir.Table:
    """A warehouse table as raw events: normalised headers, every column as text, and ``_row``.

    A table has no input order: ``_row`` numbers the rows by ``order_column`` (its own type's
    order: ingestion id 10 after 9), when given, then by all columns, which keeps ties
    deterministic. ``order_column`` (by its name in the table or normalised) stays among the
    columns, as text, under its normalised name: see :func:`order_column_name`.
    """
    names = [normalise_header(c) for c in table.columns]
    _check_headers(list(table.columns), names, origin=origin)
    keys = [table[c].cast("string") for c in table.columns]
    if order_column is not None:
        keys.insert(0, table[_find_order_column(table, names, order_column, origin)])
    numbered = table.mutate(**{ROW: ibis.row_number().over(order_by=keys)})
    return numbered.select(
        *[numbered[c].cast("string").name(n) for c, n in zip(table.columns, names, strict=True)],
        numbered[ROW],
    )


def order_column_name(order_column: str | None) -> str | None:
    """The name :func:`table_events` gives the order column among the raw columns."""
    return None if order_column is None else normalise_header(order_column)


def _find_order_column(table: ir.Table, names: list[str], wanted: str, origin: str) -> str:
    for column, name in zip(table.columns, names, strict=True):
        if wanted in (column, name):
            return column
    raise SourceError(
        f"order_column is {wanted!r} but the table {origin} has no such column (columns: "
        f"{', '.join(table.columns)}). Name the column that gives input order, such as an "
        f"ingestion id, or leave order_column out to break ties by the row's values."
    )


def normalise_headers(table: pa.Table, *, origin: str) -> pa.Table:
    """Rename columns as the spec says and refuse duplicates (which columns a log needs is
    :mod:`helpers.activity`'s concern, checked after ``columns`` is applied)."""
    return table.rename_columns(normalised_names(table.column_names, origin=origin))


def normalised_names(headers: list[str], *, origin: str) -> list[str]:
    """The spec's names for a file's headers (a blank header becomes ``unnamed_N``); refuses
    duplicates."""
    found = [str(n) for n in headers]
    names = [
        normalise_header(n.lstrip("\ufeff")) or f"unnamed_{i + 1}" for i, n in enumerate(found)
    ]
    _check_headers(found, names, origin=origin)
    return names


#: The most columns a source may have. Every column takes part in the duplicate check and
#: may be named by a condition or a breakdown, and the queries grow with the columns: 500
#: columns cost some 30 s even for six rows, 1,000 two minutes, 2,000 four minutes or more.
MAX_COLUMNS = 1_000


def _check_headers(found: list[str], names: list[str], *, origin: str) -> None:
    if len(found) > MAX_COLUMNS:
        raise SourceError(
            f"{origin} has {len(found):,} columns, more than the {MAX_COLUMNS:,} the report "
            f"reads. Export only the columns the report needs (datetime, the user column, and "
            f"those that conditions or breakdowns name) and read that file instead."
        )
    seen: dict[str, str] = {}
    for original, name in zip(found, names, strict=True):
        if name in seen:
            raise SourceError(
                f"{origin}: the headers {seen[name]!r} and {original!r} both mean the column "
                f"{name!r}. Rename or remove one of them."
            )
        seen[name] = original


def with_row_numbers(table: pa.Table) -> pa.Table:
    """Append ``_row`` (0-based input order) after casting every column to text."""
    text = _all_text(table)
    return text.append_column(ROW, pa.array(np.arange(text.num_rows, dtype=np.int64)))


def _read_parquet(path: Path) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path} could not be read as Parquet: {exc}.") from None


def _as_text(column: pa.ChunkedArray, name: str) -> pa.ChunkedArray:
    kind = text_kind(column.type, name)
    if kind == TEXT:
        return column
    if kind == NAIVE_TIMESTAMP:
        return pc.binary_join_element_wise(column.cast(pa.string()), " UTC", "")
    if kind == NO_VALUES:
        return pa.chunked_array([pa.nulls(len(column), pa.string())])
    if kind == FLAG:
        text = pc.if_else(pc.equal(column, 0), "false", column.cast(pa.string()))
        return pc.if_else(pc.equal(column, 1), "true", text)
    return column.cast(pa.string())


#: How a column becomes text: kept (text), cast, or, for a timestamp without a time zone,
#: cast with " UTC" after it (a naive timestamp is UTC by the spec; said so, so it is never
#: re-read as local time); a column of nulls only stays null.
TEXT, CAST, NAIVE_TIMESTAMP, NO_VALUES = "text", "cast", "naive_timestamp", "no_values"
#: A numeric is_internal_ip column (pandas writes 0/1 with NaN as floats) is read by its
#: value: 1 is "true", 0 is "false", any other number its text (not true).
FLAG = "flag"


def text_kind(kind: pa.DataType, name: str) -> str:
    """How a column of this Arrow type is rendered as text; refuses types that cannot be."""
    if pa.types.is_string(kind):
        return TEXT
    if pa.types.is_timestamp(kind) and kind.tz is None:
        return NAIVE_TIMESTAMP
    if pa.types.is_null(kind):
        return NO_VALUES
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    if numeric and normalise_header(name) == "is_internal_ip":
        return FLAG
    if (
        pa.types.is_large_string(kind)
        or pa.types.is_dictionary(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_floating(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_date(kind)
        or pa.types.is_decimal(kind)
    ):
        return CAST
    raise SourceError(
        f"column {name!r} has type {kind}, which cannot be read as text. "
        f"Export it as a string (for params, the JSON text)."
    )


def _parquet_file(path: Path, *, first_row: int, label: str | None = None) -> ParquetFile:
    """Check one Parquet file's columns without reading its rows."""
    try:
        metadata = pq.ParquetFile(path).metadata
        schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path} could not be read as Parquet: {exc}.") from None
    names = tuple(normalised_names(schema.names, origin=str(path)))
    kinds = tuple(text_kind(f.type, f.name) for f in schema)
    return ParquetFile(
        path, tuple(schema.names), names, kinds, tuple(str(f.type) for f in schema),
        first_row=first_row, rows=metadata.num_rows,
        label=label, partitions=partition_columns(path, names),
    )


def partition_columns(path: Path, names: tuple[str, ...]) -> tuple[tuple[str, str | None], ...]:
    """The Hive-style folders of a Parquet file's path (``env=development/``,
    ``dt=2021-01-23/``) as (column, text) pairs, for the columns the file itself lacks: the
    file's own cells win. Every such column is text, as every other column is (an engine's
    guess, a date for ``dt=2021-01-23``, would be the only typed column); names are
    normalised, values URL-decoded as Hive writes them, a deeper folder wins over a higher
    one, and Hive's ``__HIVE_DEFAULT_PARTITION__`` is null."""
    found: dict[str, str | None] = {}
    for part in path.parent.parts:
        key, equals, value = part.partition("=")
        name = normalise_header(unquote(key))
        if not equals or not name or name in names or name in HIDDEN:
            continue
        found[name] = None if value == "__HIVE_DEFAULT_PARTITION__" else unquote(value)
    return tuple(found.items())


def _all_text(table: pa.Table) -> pa.Table:
    columns = [_as_text(table.column(i), name) for i, name in enumerate(table.column_names)]
    return pa.table(columns, names=table.column_names)
