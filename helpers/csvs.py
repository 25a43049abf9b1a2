"""CSV files (``.csv``, ``.csv.gz``, ``.tsv``) parsed with pyarrow into all-text Arrow, with
each row's line number as a text editor or a spreadsheet shows it (the header is line 1).

pyarrow gives no line numbers, and a row is not always one line: a quoted value may hold
line breaks, and pyarrow skips empty lines. The file's line breaks are counted while pyarrow
parses it: when there is one per row (and the header's), row i is line i + 2. Otherwise a
row's line is counted from the rows before it (one line each, plus the line breaks inside
their values), and the file's count checks that: when it is more (the file has empty lines),
the lines are counted again exactly, by Python's csv reader, which reports the line it is at.

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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from helpers.errors import SourceError

_HEAD = 1 << 16
_BLOCK = 1 << 22


def read_csv(path: Path) -> tuple[pa.Table, np.ndarray]:
    """The file's rows as text columns named by its header (as written), and each row's line."""
    head = _open_text_head(path)
    leading, first_line = _header_line(head)
    if not first_line.strip():
        raise SourceError(
            f"{path} is empty: it has no header row (only blank lines, if any). Export it "
            f"again with its header on the first line."
        )
    delimiter = csv_delimiter(path, first_line)
    header = next(csv.reader(io.StringIO(first_line), delimiter=delimiter))
    # Counting the file's line breaks while pyarrow parses it: both release the GIL.
    with ThreadPoolExecutor(max_workers=1) as pool:
        breaks = pool.submit(_line_breaks, path)
        table = _parsed(path, header, delimiter, skip=leading + 1)
        return table, _lines(path, table, delimiter, breaks.result(), leading=leading)


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


def _parsed(path: Path, header: list[str], delimiter: str, *, skip: int) -> pa.Table:
    # pyarrow reads in blocks and needs every row inside one: a row longer than a block (a
    # 50 MB params cell) is read again with blocks big enough, up to the documented limit.
    block = None
    while True:
        try:
            return _parsed_in_blocks(path, header, delimiter, skip=skip, block=block)
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


def _parsed_in_blocks(
    path: Path, header: list[str], delimiter: str, *, skip: int, block: int | None
) -> pa.Table:
    read_options = pacsv.ReadOptions(column_names=header, skip_rows=skip)
    if block is not None:
        read_options.block_size = block
    return pacsv.read_csv(
        path,
        read_options=read_options,
        parse_options=pacsv.ParseOptions(
            delimiter=delimiter, newlines_in_values=True, invalid_row_handler=_skip_blank
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


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


def _lines(
    path: Path, table: pa.Table, delimiter: str, file_breaks: int, *, leading: int
) -> np.ndarray:
    first = 2 + leading  # the header's line is the one after the leading blank ones
    file_breaks -= leading
    if file_breaks in (table.num_rows, table.num_rows + 1):  # the header, then one line a row
        return np.arange(first, table.num_rows + first, dtype=np.int64)
    inside = np.zeros(table.num_rows, dtype=np.int64)  # line breaks inside each row's values
    for column in table.columns:
        # Plain substring searches: a regular expression over every cell costs half a read.
        if any(pc.any(pc.match_substring(column, s)).as_py() for s in ("\n", "\r")):
            inside += _breaks(column)
    lines = first + np.arange(table.num_rows, dtype=np.int64) + np.cumsum(inside) - inside
    expected = 1 + table.num_rows + int(inside.sum())  # every line ended by a break...
    if file_breaks in (expected, expected - 1):  # ...but perhaps the last
        return lines
    return _counted_lines(path, delimiter, table.num_rows, fallback=lines)


def _breaks(column: pa.ChunkedArray) -> np.ndarray:
    # \n, \r\n and a lone \r each end a line, for pyarrow, Python and editors alike.
    count = [pc.count_substring(column, s).to_numpy().astype(np.int64) for s in ("\n", "\r")]
    return count[0] + count[1] - pc.count_substring(column, "\r\n").to_numpy()


def _line_breaks(path: Path) -> int:
    """The file's line breaks (``\\n``, ``\\r\\n``, ``\\r``), read in blocks."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    total, ended_in_cr = 0, False
    with opener(path, "rb") as fh:
        while block := fh.read(_BLOCK):
            refuse_nul(path, block, total, what="CSV")
            total += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            if ended_in_cr and block.startswith(b"\n"):
                total -= 1  # a \r\n cut between two blocks
            ended_in_cr = block.endswith(b"\r")
    return total


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
