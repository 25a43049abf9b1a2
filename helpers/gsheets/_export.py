"""Reading a tab without credentials, through the sheet's public CSV export."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import unquote

import requests

from helpers.errors import SourceError
from helpers.gsheets._credentials import _Found
from helpers.gsheets._faults import _HTTPStatusError
from helpers.gsheets._messages import _SETUP_ADVICE, _describe
from helpers.gsheets._retry import _Policy
from helpers.gsheets._table import SheetTable, _build_table, _strip_trailing_blank_rows

_EXPORT_URL = "https://docs.google.com/spreadsheets/d/{key}/export"


def _read_public_export(
    key: str,
    gid: int | None,
    worksheet: str | int | None,
    found: _Found,
    transport: requests.Session,
    policy: _Policy,
) -> SheetTable:
    looked = "; ".join(found.looked)
    if worksheet is not None and worksheet != 0:
        by = "title" if isinstance(worksheet, str) else "index"
        raise SourceError(
            f"No Google credentials were found (looked at: {looked}), and without them a tab can "
            f"only be chosen by the gid in the sheet's address, not by {by} "
            f"({worksheet!r}). Open the tab in the browser and pass that address (it ends in "
            f"#gid=N), or set up credentials. {_SETUP_ADVICE}"
        )
    if worksheet == 0:
        gid = None  # the export's default is the first tab
    params = {"format": "csv"}
    if gid is not None:
        params["gid"] = str(gid)
    url = _EXPORT_URL.format(key=key)

    def get(timeout: float) -> requests.Response:
        response = transport.get(url, params=params, timeout=timeout, allow_redirects=True)
        if response.status_code >= 400:
            raise _HTTPStatusError(response.status_code, response.reason or "")
        return response

    try:
        response = policy.call(get, "downloading the sheet's public CSV export")
    except _HTTPStatusError as exc:
        raise SourceError(
            f"No Google credentials were found (looked at: {looked}), and spreadsheet {key} cannot "
            f"be read through its public link either (HTTP {exc.status}; the sheet is not shared "
            f"publicly, or the key/gid is wrong). {_SETUP_ADVICE}"
        ) from None
    except requests.RequestException as exc:
        raise SourceError(
            f"No Google credentials were found (looked at: {looked}), and downloading the public "
            f"export of spreadsheet {key} failed ({_describe(exc)}). {_SETUP_ADVICE}"
        ) from None
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type:
        raise SourceError(
            f"No Google credentials were found (looked at: {looked}), and spreadsheet {key} cannot "
            "be read through its public link either (Google answered with a sign-in page: the "
            f"sheet is not shared publicly). {_SETUP_ADVICE}"
        )
    text = response.content.decode("utf-8-sig", errors="replace")
    rows = _strip_trailing_blank_rows(list(csv.reader(io.StringIO(text, newline=""))))
    title = _export_name(response.headers.get("Content-Disposition", ""))
    tab = f"gid={gid}" if gid is not None else None
    if not rows or not any(rows[0]):
        if rows:
            raise SourceError(
                f"Row 1 of the exported tab of spreadsheet {key} is blank, but the column names "
                "must be in row 1. Put the header row at the top of the tab."
            )
        raise SourceError(
            f"The exported tab{' ' + tab if tab else ''} of spreadsheet {key} is empty: there is "
            "not even a header row. Check the address (gid) or put the events there."
        )
    header = list(rows[0])
    while header and header[-1] == "":
        header.pop()  # as the Sheets API does; _build_table pads it back to the data's width
    info = {"kind": "gsheet", "name": title, "key": key, "worksheet": tab, "revision_time": None}
    return SheetTable(_build_table(header, rows[1:]), info)


def _export_name(disposition: str) -> str | None:
    """The file name Google gives the export ("<title> - <tab>"), without .csv."""
    match = re.search(r"filename\*=UTF-8''([^;]+)", disposition, re.IGNORECASE)
    name = unquote(match.group(1)) if match else None
    if name is None:
        match = re.search(r'filename="([^"]*)"', disposition)
        name = match.group(1) if match else None
    if not name:
        return None
    return name[:-4] if name.lower().endswith(".csv") else name
