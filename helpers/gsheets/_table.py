"""The table a read gives: one string column per header cell, cells as the sheet shows them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

# One logger for the whole package, under the name it had as a single module.
_log = logging.getLogger(__package__)


@dataclass(frozen=True)
class SheetTable:
    """One tab of a Google Sheet.

    ``table``: one column per header cell, named exactly as written (a blank
    header cell gives the name ``''``); every cell a ``pa.string()``, ``''`` for
    blank.  ``info``: ``{"kind": "gsheet", "name": spreadsheet title (None when
    read through the public export and Google did not name the file), "key":
    spreadsheet key, "worksheet": tab title ("gid=N" or None through the public
    export, where titles are not available), "revision_time": ISO time of the
    last change from Drive, or None}``.  Never holds a secret.
    """

    table: pa.Table
    info: dict


def _build_table(header: list, rows: list[list]) -> pa.Table:
    width = max([len(header)] + [len(row) for row in rows])
    if width > len(header):
        _log.warning(
            "Google Sheets: some rows have cells to the right of the last header cell; "
            "those %d column(s) get blank names",
            width - len(header),
        )
    names = [_cell(v) for v in header] + [""] * (width - len(header))
    columns: list[list[str]] = [[] for _ in range(width)]
    for row in rows:
        n = len(row)
        for j in range(width):
            columns[j].append(_cell(row[j]) if j < n else "")
    arrays = [pa.array(col, type=pa.string()) for col in columns]
    return pa.Table.from_arrays(arrays, names=names)


def _cell(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else str(value)


def _strip_trailing_blank_rows(rows: list[list]) -> list[list]:
    end = len(rows)
    while end and not any(_cell(v) for v in rows[end - 1]):
        end -= 1
    return rows[:end]
