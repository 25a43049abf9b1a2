"""Sources: find the raw events and describe them as one all-text table, as the source holds them.

Every cell arrives as a string (typed Parquet columns are rendered as text) so that cleaning
has one set of rules whatever the source. Headers are normalised as the spec says (trimmed,
lower-cased, spaces to ``_``), and a column ``_row`` records the input order, so that events
with the same datetime break ties the same way on every backend.

CSV files and Google Sheets are parsed here, with pyarrow, into Arrow. Parquet files are only
checked here (schema, row counts); an engine that reads Parquet itself (DuckDB) scans them
where they are, which keeps a 10M-row export out of Python's memory. :attr:`RawEvents.table`
gives the same rows as Arrow for engines that need it.
"""

from __future__ import annotations

import csv
import glob
import gzip
import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from helpers.activity import normalise_header
from helpers.errors import SourceError
from helpers.params import is_google_sheet

#: The input-order column added at load time.
ROW = "_row"

_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass(frozen=True)
class ParquetFile:
    """One Parquet file of the events, checked but not read: what an engine needs to scan it."""

    path: Path
    header: tuple[str, ...]  # column names as written in the file
    names: tuple[str, ...]  # the same, normalised (what the report calls them)
    kinds: tuple[str, ...]  # per column, how it becomes text: see :func:`text_kind`
    first_row: int  # ``_row`` of its first event: the files of a set follow each other
    rows: int


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
        """Every row as Arrow text columns, plus ``_row`` (reads Parquet files now)."""
        if self.arrow is not None:
            return self.arrow
        tables = [
            _all_text(_read_parquet(f.path)).rename_columns(list(f.names)) for f in self.parquet
        ]
        try:
            table = pa.concat_tables(tables, promote_options="default")
        except pa.ArrowInvalid as exc:
            raise SourceError(f"the Parquet files do not fit together: {exc}.") from None
        return with_row_numbers(table)


def read_events(source: str, **sheet_options: Any) -> RawEvents:
    """Read a CSV (.csv, .csv.gz, .tsv) or Parquet (.parquet) events file, or a Google Sheet
    (a sheet URL or ``gsheet:KEY``; ``sheet_options`` go to :func:`read_google_sheet`)."""
    if is_google_sheet(source):
        from helpers.gsheets import read_google_sheet  # gspread only when a sheet is read

        sheet = read_google_sheet(source, **sheet_options)
        table = normalise_headers(sheet.table, origin=f"Google Sheet {sheet.info['name']!r}")
        return RawEvents(source=sheet.info, arrow=with_row_numbers(table))
    if Path(source).expanduser().is_dir() or glob.has_magic(source):
        return _read_parquet_set(source)
    path = Path(source).expanduser()
    kind = file_kind(path)
    if not path.exists():
        raise SourceError(f"The events file {path} does not exist. Check the --source path.")
    if kind == "parquet":
        source = {"kind": kind, "name": path.name, "sha256": _sha256(path)}
        return RawEvents(source=source, parquet=(_parquet_file(path, first_row=0),))
    # Hashing a CSV costs a fifth of parsing it; both release the GIL, so do them together.
    with ThreadPoolExecutor(max_workers=1) as pool:
        digest = pool.submit(_sha256, path)
        table = normalise_headers(_read_csv(path), origin=str(path))
        source = {"kind": kind, "name": path.name, "sha256": digest.result()}
    return RawEvents(source=source, arrow=with_row_numbers(table))


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


def _check_headers(found: list[str], names: list[str], *, origin: str) -> None:
    seen: dict[str, str] = {}
    for original, name in zip(found, names, strict=True):
        if name in seen:
            raise SourceError(
                f"{origin}: the headers {seen[name]!r} and {original!r} both mean the column "
                f"{name!r}. Rename or remove one of them."
            )
        seen[name] = original
    if ROW in seen:
        raise SourceError(
            f"{origin}: the header {seen[ROW]!r} means {ROW!r}, the name the report gives the "
            f"input order. Rename that column (any other extra column is kept and ignored)."
        )


def with_row_numbers(table: pa.Table) -> pa.Table:
    """Append ``_row`` (0-based input order) after casting every column to text."""
    text = _all_text(table)
    return text.append_column(ROW, pa.array(np.arange(text.num_rows, dtype=np.int64)))


def file_kind(path: Path | str) -> str:
    """``csv`` or ``parquet``, by the file's suffix (a path or a URI); refuses any other."""
    name = str(path).lower()
    if name.endswith(_CSV_SUFFIXES):
        return "csv"
    if name.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    raise SourceError(
        f"Cannot tell what kind of file {path} is. Use a CSV ({', '.join(_CSV_SUFFIXES)}) "
        f"or Parquet ({', '.join(_PARQUET_SUFFIXES)}) file."
    )


def _open_text_head(path: Path) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(1 << 16)
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path} could not be read: {exc}.") from None
    if b"\x00" in head:
        raise SourceError(f"{path} looks like a binary file, not CSV text. Export it as CSV.")
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        cut_at_the_end = len(head) == 1 << 16 and exc.start >= len(head) - 3
        if not cut_at_the_end:
            raise SourceError(
                f"{path} is not UTF-8 text (byte {exc.start}). Save it as CSV UTF-8."
            ) from None
        return head[: exc.start].decode("utf-8-sig")


def _read_csv(path: Path) -> pa.Table:
    head = _open_text_head(path)
    first_line = head.splitlines()[0] if head.strip() else ""
    if not first_line.strip():
        raise SourceError(f"{path} is empty: it has no header row.")
    delimiter = csv_delimiter(path, first_line)
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    try:
        return pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(
            f"{path} could not be parsed as CSV: {exc}. Check that it is a comma-separated "
            f"UTF-8 export with one header row."
        ) from None


def csv_delimiter(path: Path | str, first_line: str) -> str:
    """Tab for a .tsv file; else ';' when the header holds more of them than commas (spreadsheet
    exports in some locales), else ','."""
    if str(path).lower().endswith(".tsv"):
        return "\t"
    # The header has no JSON, so counting is safe.
    return ";" if first_line.count(";") > first_line.count(",") else ","


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
    return column.cast(pa.string())


#: How a column becomes text: kept (text), cast, or, for a timestamp without a time zone,
#: cast with " UTC" after it (a naive timestamp is UTC by the spec; said so, so it is never
#: re-read as local time); a column of nulls only stays null.
TEXT, CAST, NAIVE_TIMESTAMP, NO_VALUES = "text", "cast", "naive_timestamp", "no_values"


def text_kind(kind: pa.DataType, name: str) -> str:
    """How a column of this Arrow type is rendered as text; refuses types that cannot be."""
    if pa.types.is_string(kind):
        return TEXT
    if pa.types.is_timestamp(kind) and kind.tz is None:
        return NAIVE_TIMESTAMP
    if pa.types.is_null(kind):
        return NO_VALUES
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


def _read_parquet_set(source: str) -> RawEvents:
    """Every Parquet file of a directory (recursively) or of a glob, in name order, as one
    table: many days analysed at once without concatenating them by hand."""
    root = Path(source).expanduser()
    if root.is_dir():
        files = sorted(p for p in root.rglob("*") if p.name.lower().endswith(_PARQUET_SUFFIXES))
    else:
        files = sorted(Path(p) for p in glob.glob(os.path.expanduser(source), recursive=True))
    if not files:
        raise SourceError(
            f"no Parquet files in {source}. Give a directory holding .parquet files, a glob "
            f"such as 'events/2021-01-*.parquet', or one events file."
        )
    found, digest, first_row = [], hashlib.sha256(), 0
    for file in files:
        if file_kind(file) != "parquet":
            raise SourceError(f"{file} matched {source!r} but is not a Parquet file.")
        found.append(_parquet_file(file, first_row=first_row))
        first_row += found[-1].rows
        digest.update(_sha256(file).encode())
    return RawEvents(
        # One hash for the set: the SHA-256 of the files' SHA-256s, in name order.
        source={"kind": "parquet", "name": f"{source} ({len(files)} files)",
                "sha256": digest.hexdigest()},
        parquet=tuple(found),
    )


def _parquet_file(path: Path, *, first_row: int) -> ParquetFile:
    """Check one Parquet file's columns without reading its rows."""
    try:
        metadata = pq.ParquetFile(path).metadata
        schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowInvalid, OSError) as exc:
        raise SourceError(f"{path} could not be read as Parquet: {exc}.") from None
    names = tuple(normalised_names(schema.names, origin=str(path)))
    kinds = tuple(text_kind(f.type, f.name) for f in schema)
    return ParquetFile(
        path, tuple(schema.names), names, kinds, first_row=first_row, rows=metadata.num_rows
    )


def _all_text(table: pa.Table) -> pa.Table:
    columns = [_as_text(table.column(i), name) for i, name in enumerate(table.column_names)]
    return pa.table(columns, names=table.column_names)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
