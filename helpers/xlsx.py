"""Excel workbooks (``.xlsx``, e.g. Google Sheets' Download > Microsoft Excel): one sheet read
as text cells, as the sheet shows them.

- The first sheet, or the one the ``worksheet`` parameter names (its title, or its 0-based
  index). Row 1 is the header; every later row is an event, and its line is the sheet's row
  number. Rows with no value at all are not events (as blank lines of a file).
- Text stays text. A number is written as Excel shows it in its General format, without
  binary noise: at most 15 significant digits (``0.1 + 0.2`` is ``0.3``), an integer without
  ``.0``, large and tiny ones with an exponent (``1E+16``). ``TRUE``/``FALSE`` for booleans. A
  date is ``YYYY-MM-DD``, a date and time ``YYYY-MM-DD HH:MM:SS`` with the fraction when there
  is one (to the millisecond, as Excel keeps it; a date cell that openpyxl reads as a
  date-time is at 00:00:00), a time ``HH:MM:SS``. A formula is its last
  computed value (what the file stores; Google Sheets stores them all).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from helpers.errors import SourceError


def read_xlsx(
    path: Path, worksheet: str | int | None = None
) -> tuple[list[str], pa.Table, np.ndarray]:
    """The sheet's header, its rows as text columns named by position, and each row's line."""
    try:
        import openpyxl
    except ImportError:  # a dependency, but a trimmed environment may lack it
        raise SourceError("reading .xlsx needs openpyxl: run `pip install openpyxl`.") from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise SourceError(
            f"{path} could not be read as an Excel workbook ({type(exc).__name__}: {exc}). "
            f"Download the sheet again as Microsoft Excel (.xlsx)."
        ) from None
    try:
        sheet = _sheet(book, worksheet, path)
        rows = sheet.iter_rows(values_only=True)
        header = [_text(v) for v in next(rows, ())]
        while header and header[-1] == "":  # cells formatted but empty, after the last
            header.pop()
        if not header:
            raise SourceError(f"{path}: the sheet {sheet.title!r} is empty: it has no header row.")
        columns: list[list[str]] = [[] for _ in header]
        lines: list[int] = []
        for number, values in enumerate(rows, start=2):
            cells = [_text(v) for v in values[: len(header)]]
            if not any(cells):
                continue
            cells.extend([""] * (len(header) - len(cells)))
            for column, cell in zip(columns, cells, strict=True):
                column.append(cell)
            lines.append(number)
    finally:
        book.close()
    table = pa.table({f"c{i}": pa.array(c, pa.string()) for i, c in enumerate(columns)})
    return header, table, np.asarray(lines, dtype=np.int64)


def _sheet(book: Any, worksheet: str | int | None, path: Path) -> Any:
    names = book.sheetnames
    if worksheet is None:
        return book[names[0]]
    if isinstance(worksheet, int) and 0 <= worksheet < len(names):
        return book[names[worksheet]]
    if isinstance(worksheet, str) and worksheet in names:
        return book[worksheet]
    raise SourceError(
        f"{path} has no sheet {worksheet!r}. Its sheets: {', '.join(map(repr, names))}. "
        f"Set worksheet to a title or a 0-based index."
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value)


def _number(value: float) -> str:
    # Excel keeps 15 significant digits: beyond them is the binary double's noise.
    text = f"{value:.15G}"
    if "E" in text:
        mantissa, exponent = text.split("E")
        return f"{mantissa}E{exponent[0]}{int(exponent[1:]):02d}"
    return text


def _datetime(value: dt.datetime) -> str:
    # A day fraction is rarely a whole microsecond in binary: Excel itself keeps milliseconds.
    rounded = dt.timedelta(milliseconds=round(value.microsecond / 1000))
    moment = value.replace(microsecond=0) + rounded
    fraction = f".{moment.microsecond // 1000:03d}" if moment.microsecond else ""
    return f"{moment:%Y-%m-%d %H:%M:%S}{fraction}"
