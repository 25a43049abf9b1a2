"""CSV files (``.csv``, ``.csv.gz``, ``.tsv``) parsed with pyarrow into all-text Arrow, with
each row's line number as a text editor or a spreadsheet shows it (the header is line 1):
:func:`read_csv` into memory, or :func:`csv_to_parquet` streamed into a Parquet file, for a
file too big to hold (the same parser, so the same cells and the same errors).

pyarrow gives no line numbers, and a row is not always one line: a quoted value may hold
line breaks, and pyarrow skips empty lines. The file's line breaks are counted while pyarrow
parses it. A row's line is counted from the rows before it (one line each, plus the line
breaks inside their values), and the file's count checks that: when it is more (the file has
empty lines), the lines are counted again exactly, by Python's csv reader, which reports the
line it is at.

Blank lines are not rows: empty ones and ones of spaces and tabs only, before the header
(which is the first line with text) or among the rows; they still count in the line numbers.
A NUL byte anywhere refuses the file, naming its line (no text export holds one). A row
may be up to :data:`LONGEST_ROW` long (a very large params cell).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from helpers.errors import SourceError

_HEAD = 1 << 16
_BLOCK = 1 << 22
_T = TypeVar("_T")


class CsvHeader(NamedTuple):
    """What a CSV file's first lines say: its header as written, its delimiter, and how many
    blank lines come before the header."""

    names: list[str]
    delimiter: str
    leading: int


def csv_header(path: Path) -> CsvHeader:
    """The file's header (refusing an empty file, a binary one and one that is not UTF-8)."""
    head = _open_text_head(path)
    leading, first_line = _header_line(head)
    if not first_line.strip():
        raise SourceError(
            f"{path} is empty: it has no header row (only blank lines, if any). Export it "
            f"again with its header on the first line."
        )
    delimiter = csv_delimiter(path, first_line)
    names = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    return CsvHeader(names, delimiter, leading)


def read_csv(path: Path) -> tuple[pa.Table, np.ndarray]:
    """The file's rows as text columns named by its header (as written), and each row's line."""
    header = csv_header(path)
    # Counting the file's line breaks while pyarrow parses it: both release the GIL.
    with ThreadPoolExecutor(max_workers=1) as pool:
        breaks = pool.submit(_line_breaks, path)
        table = _in_blocks(path, lambda block: _parsed_in_blocks(path, header, block))
        return table, _lines(path, table, header, breaks.result())


def csv_to_parquet(path: Path, target: Path) -> int | None:
    """Stream the file's rows into the Parquet file ``target``, a block at a time: text
    columns ``c0``, ``c1``... in the header's order, then :data:`LINE_COLUMN`, each row's
    line. The number of rows written, or None when the lines cannot be known without the
    whole file (it has blank lines among its rows): then read it with :func:`read_csv`."""
    header = csv_header(path)
    with ThreadPoolExecutor(max_workers=1) as pool:
        breaks = pool.submit(_line_breaks, path)
        rows, inside = _in_blocks(path, lambda block: _streamed(path, header, block, target))
        file_breaks = breaks.result()
    return rows if _lines_agree(file_breaks, header, rows, inside) else None


#: The column of :func:`csv_to_parquet`'s file that holds each row's line.
LINE_COLUMN = "line"


def parsed_size(path: Path) -> int:
    """About the memory :func:`read_csv` takes for the file: 1.5 times its text (a 211 MB file
    of 1M events takes 305 MiB, bench/PROFILE.md), a gzip file's text taken as 5 times the
    file."""
    size = path.stat().st_size
    return int(size * 1.5 * (5 if path.name.lower().endswith(".gz") else 1))


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _header_line(head: str) -> tuple[int, str]:
    """How many blank lines come before the header, and the header's line ("" if none)."""
    for i, line in enumerate(_LINE_BREAK.split(head)):
        if line.strip(_BLANK):
            return i, line
    return 0, ""


#: What a blank line may hold: an export's stray spaces and tabs (not a value of a row).
_BLANK = " \t"


def _skip_blank(row: pacsv.InvalidRow) -> str:
    # pyarrow skips empty lines itself; one of spaces only is a row of one value to it.
    return "skip" if row.actual_columns == 1 and not row.text.strip(_BLANK) else "error"


def _in_blocks(path: Path, read: Callable[[int | None], _T]) -> _T:
    # pyarrow reads in blocks and needs every row inside one: a row longer than a block (a
    # 50 MB params cell) is read again with blocks big enough, up to the documented limit.
    block = None
    while True:
        try:
            return read(block)
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise _not_csv(path, exc) from None
            block = (block or _BLOCK) * 4
            if block > LONGEST_ROW:
                raise SourceError(
                    f"{path} has a row longer than {LONGEST_ROW >> 20} MiB (a params cell that "
                    f"size?), more than the report reads in one row. Shorten or drop that "
                    f"cell, or check that the file's quotes are balanced."
                ) from None
        except OSError as exc:
            raise _not_csv(path, exc) from None


#: The longest row a CSV file may have (the quoted values of one row, line breaks and all).
LONGEST_ROW = 1 << 30


def _parsed_in_blocks(path: Path, header: CsvHeader, block: int | None) -> pa.Table:
    return pacsv.read_csv(path, **_options(header, block))


def _options(header: CsvHeader, block: int | None) -> dict:
    read_options = pacsv.ReadOptions(column_names=header.names, skip_rows=header.leading + 1)
    if block is not None:
        read_options.block_size = block
    return {
        "read_options": read_options,
        "parse_options": pacsv.ParseOptions(
            delimiter=header.delimiter, newlines_in_values=True, invalid_row_handler=_skip_blank
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header.names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    }


def _streamed(path: Path, header: CsvHeader, block: int | None, target: Path) -> tuple[int, int]:
    """Write :func:`csv_to_parquet`'s file; the rows written and the line breaks inside
    their values."""
    names = [f"c{i}" for i in range(len(header.names))]
    schema = pa.schema([*(pa.field(n, pa.string()) for n in names), (LINE_COLUMN, pa.int64())])
    rows = inside_so_far = 0
    with _parquet_writer(target, schema) as write:
        for batch in pacsv.open_csv(path, **_options(header, block)):
            inside = np.zeros(batch.num_rows, dtype=np.int64)
            for column in batch.columns:
                inside += _breaks_inside(column)
            lines = (
                2 + header.leading + rows + inside_so_far
                + np.arange(batch.num_rows, dtype=np.int64) + np.cumsum(inside) - inside
            )  # fmt: skip
            write(pa.record_batch([*batch.columns, pa.array(lines)], schema=schema))
            rows += batch.num_rows
            inside_so_far += int(inside.sum())
    return rows, inside_so_far


@contextmanager
def _parquet_writer(target: Path, schema: pa.Schema) -> Iterator[Callable[[pa.RecordBatch], None]]:
    """A function writing batches to ``target``; a failure to write (a full disk) says where
    and what to do, not that the CSV is bad."""

    def refused(exc: OSError) -> SourceError:
        return SourceError(
            f"could not write {target}, the temporary Parquet copy of a CSV too big to read "
            f"into memory ({exc}). Give TMPDIR a disk with room (about an eighth of the CSV's "
            f"size), or raise memory_limit to read the CSV into memory."
        )

    try:
        writer = pq.ParquetWriter(target, schema)
    except OSError as exc:
        raise refused(exc) from None

    def write(batch: pa.RecordBatch) -> None:
        try:
            writer.write_batch(batch)
        except OSError as exc:
            raise refused(exc) from None

    try:
        yield write
    finally:
        try:
            writer.close()
        except OSError as exc:
            raise refused(exc) from None  # a full disk may show only with the last pages


def _not_csv(path: Path, exc: Exception) -> SourceError:
    return SourceError(
        f"{path} could not be parsed as CSV: {exc}. Check that it is a comma-separated "
        f"UTF-8 export with one header row."
    )


def csv_delimiter(path: Path | str, first_line: str) -> str:
    """Tab for a .tsv file; else ';' when the header holds more of them than commas (spreadsheet
    exports in some locales), else ','."""
    if str(path).lower().endswith(".tsv"):
        return "\t"
    # The header has no JSON, so counting is safe.
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _lines(path: Path, table: pa.Table, header: CsvHeader, file_breaks: _FileBreaks) -> np.ndarray:
    first = 2 + header.leading  # the header's line is the one after the leading blank ones
    if _lines_agree(file_breaks, header, table.num_rows, 0):  # one line a row: no search
        return np.arange(first, table.num_rows + first, dtype=np.int64)
    inside = np.zeros(table.num_rows, dtype=np.int64)  # line breaks inside each row's values
    for column in table.columns:
        inside += _breaks_inside(column)
    lines = first + np.arange(table.num_rows, dtype=np.int64) + np.cumsum(inside) - inside
    if _lines_agree(file_breaks, header, table.num_rows, int(inside.sum())):
        return lines
    return _counted_lines(path, header.delimiter, table.num_rows, fallback=lines)


def _lines_agree(file_breaks: _FileBreaks, header: CsvHeader, rows: int, inside: int) -> bool:
    """Whether the file has exactly the line breaks of its header, rows and values (and of
    the blank lines before the header): then no blank line sits among the rows, and each
    row's line is counted from the rows before it."""
    ends = header.leading + 1 + rows + inside  # lines, each ended by a break...
    return file_breaks.count == ends - (0 if file_breaks.last_ended else 1)  # ...but the last?


def _breaks_inside(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Per cell, its line breaks (``\\n``, ``\\r\\n`` and a lone ``\\r`` each end a line, for
    pyarrow, Python and editors alike); zeros, after two plain substring searches, for the
    usual column without any (a regular expression over every cell costs half a read)."""
    if not any(pc.any(pc.match_substring(column, s)).as_py() for s in ("\n", "\r")):
        return np.zeros(len(column), dtype=np.int64)
    count = [pc.count_substring(column, s).to_numpy().astype(np.int64) for s in ("\n", "\r")]
    return count[0] + count[1] - pc.count_substring(column, "\r\n").to_numpy()


class _FileBreaks(NamedTuple):
    count: int  # the file's line breaks
    last_ended: bool  # whether its last line ends with one


def _line_breaks(path: Path) -> _FileBreaks:
    """The file's line breaks (``\\n``, ``\\r\\n``, ``\\r``), read in blocks."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    total, last = 0, b""
    with opener(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            refuse_nul(path, block, total, what="CSV")
            total += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            if last == b"\r" and block.startswith(b"\n"):
                total -= 1  # a \r\n cut between two blocks
            last = block[-1:]
    return _FileBreaks(total, last in (b"\n", b"\r"))


def _counted_lines(path: Path, delimiter: str, rows: int, *, fallback: np.ndarray) -> np.ndarray:
    """Each row's first line, counted by Python's csv reader (blank lines skipped, as
    :func:`_parsed` skips them); ``fallback`` if the two readers do not agree on the rows."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    lines: list[int] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)  # a params cell may be long; pyarrow read it already
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh, delimiter=delimiter)
            header, last = False, 0
            for row in reader:
                if row and not (len(row) == 1 and not row[0].strip(_BLANK)):
                    if header:
                        lines.append(last + 1)
                    header = True
                last = reader.line_num
    except (csv.Error, UnicodeDecodeError, OSError):
        return fallback
    finally:
        csv.field_size_limit(limit)
    return np.asarray(lines, dtype=np.int64) if len(lines) == rows else fallback


def _open_text_head(path: Path) -> str:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(_HEAD)
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path} could not be read: {exc}.") from None
    refuse_nul(path, head, 0, what="CSV")
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        cut_at_the_end = len(head) == _HEAD and exc.start >= len(head) - 3
        if not cut_at_the_end:
            raise SourceError(
                f"{path} is not UTF-8 text (byte {exc.start}). Save it as CSV UTF-8."
            ) from None
        return head[: exc.start].decode("utf-8-sig")


def refuse_nul(path: Path, block: bytes, lines_before: int, *, what: str) -> None:
    """Refuse a file whose ``block`` (after ``lines_before`` line breaks) holds a NUL byte,
    naming its line: text never holds one, so the file is binary (UTF-16, a workbook, an
    archive) or damaged, wherever the byte is (the first line or the 1,501st)."""
    at = block.find(b"\x00")
    if at < 0:
        return
    before = block[:at]
    line = lines_before + before.count(b"\n") + before.count(b"\r") - before.count(b"\r\n") + 1
    raise SourceError(
        f"{path} holds a NUL byte on line {line}, which {what} text never holds: it looks like "
        f"a binary file (UTF-16, a workbook, an archive) or a damaged export. Export it again "
        f"as {what} in UTF-8, or remove the NUL bytes."
    )
