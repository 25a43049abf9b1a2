"""Reading a tab through the Sheets API with gspread, signed in as a service account."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from typing import TypeVar

import gspread
import requests
from google.auth import exceptions as google_auth_exceptions
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as GoogleAuthRequest
from gspread.utils import Dimension, ValueRenderOption, rowcol_to_a1
from tqdm import tqdm

from helpers.errors import SourceError
from helpers.gsheets._credentials import _ServiceAccount
from helpers.gsheets._messages import _describe, _explain
from helpers.gsheets._retry import _Policy
from helpers.gsheets._table import SheetTable, _build_table, _cell

# One logger for the whole package, under the name it had as a single module.
_log = logging.getLogger(__package__)

_T = TypeVar("_T")


def _share_session(transport: requests.Session, target: requests.Session) -> None:
    """Make target send its requests the way transport does (adapters, proxies, TLS)."""
    for prefix, adapter in transport.adapters.items():
        target.mount(prefix, adapter)
    target.proxies = dict(transport.proxies)
    target.verify = transport.verify
    target.cert = transport.cert
    target.trust_env = transport.trust_env
    target.max_redirects = transport.max_redirects


def _read_with_api(
    key: str,
    gid: int | None,
    worksheet: str | int | None,
    account: _ServiceAccount,
    transport: requests.Session,
    owned: bool,
    policy: _Policy,
    batch_rows: int,
    quiet: bool | None,
) -> SheetTable:
    token_session = requests.Session()
    _share_session(transport, token_session)
    authed = AuthorizedSession(account.credentials, auth_request=GoogleAuthRequest(token_session))
    _share_session(transport, authed)
    client = gspread.authorize(account.credentials, session=authed)

    def timed(fn: Callable[[], _T]) -> Callable[[float], _T]:
        def run(timeout: float) -> _T:
            client.set_timeout(timeout)
            return fn()

        return run

    try:
        spreadsheet = policy.call(timed(lambda: client.open_by_key(key)), "opening the spreadsheet")
        tabs = policy.call(timed(spreadsheet.worksheets), "listing the tabs")
        tab = _pick_tab(tabs, worksheet, gid, spreadsheet.title, key)
        revision_time = _revision_time(client, key, policy)
        header, rows = _read_values(tab, policy, timed, batch_rows, quiet, spreadsheet.title)
    except SourceError:
        raise
    except (
        gspread.exceptions.GSpreadException,
        PermissionError,  # gspread's open_by_key turns HTTP 403 into a bare PermissionError
        google_auth_exceptions.GoogleAuthError,
        requests.RequestException,
    ) as exc:
        raise SourceError(_explain(exc, key, account)) from None  # holds the bearer token
    finally:
        if owned:
            authed.close()
            token_session.close()
    info = {
        "kind": "gsheet",
        "name": spreadsheet.title,
        "key": key,
        "worksheet": tab.title,
        "revision_time": revision_time,
    }
    return SheetTable(_build_table(header, rows), info)


def _pick_tab(tabs: list, worksheet: str | int | None, gid: int | None, title: str, key: str):
    names = ", ".join(f'"{t.title}"' for t in tabs) or "(none)"
    if isinstance(worksheet, str):
        for tab in tabs:
            if tab.title == worksheet:
                return tab
        raise SourceError(
            f'There is no tab "{worksheet}" in spreadsheet "{title}" ({key}). Its tabs are: '
            f"{names}. Check the spelling (case and spaces count), or give the tab's 0-based index."
        )
    if isinstance(worksheet, int):
        if 0 <= worksheet < len(tabs):
            return tabs[worksheet]
        raise SourceError(
            f'Spreadsheet "{title}" ({key}) has {len(tabs)} tab(s), so there is no tab at index '
            f"{worksheet} (indexes start at 0). Its tabs are: {names}."
        )
    if gid is not None:
        for tab in tabs:
            if tab.id == gid:
                return tab
        listing = ", ".join(f'"{t.title}" (gid={t.id})' for t in tabs) or "(none)"
        raise SourceError(
            f'The address names tab gid={gid}, but spreadsheet "{title}" ({key}) has no such tab '
            f"(was it deleted?). Its tabs are: {listing}. Open the tab in the browser and copy the "
            "address again, or choose the tab by title."
        )
    if not tabs:
        raise SourceError(f'Spreadsheet "{title}" ({key}) has no tabs.')
    return tabs[0]


def _revision_time(client: gspread.Client, key: str, policy: _Policy) -> str | None:
    """The sheet's last-modified time from Drive; best effort (Drive may be off for the project)."""
    try:
        client.set_timeout(policy.timeout)
        meta = client.get_file_drive_metadata(key)
    except Exception as exc:  # optional information only: never fail the read for it
        _log.info("Google Sheets: no revision time for the spreadsheet (%s)", _describe(exc))
        return None
    value = meta.get("modifiedTime") if isinstance(meta, dict) else None
    return value if isinstance(value, str) and value else None


def _read_values(tab, policy: _Policy, timed, batch_rows: int, quiet: bool | None, title: str):
    try:
        n_rows, n_cols = int(tab.row_count), int(tab.col_count)
    except (KeyError, TypeError, ValueError):
        raise SourceError(
            f'Tab "{tab.title}" of spreadsheet "{title}" is not a grid of cells (a chart sheet?). '
            "Choose the tab that holds the events."
        ) from None
    if n_rows < 1 or n_cols < 1:
        raise _empty(tab.title, title)
    last_col = re.sub(r"\d+$", "", rowcol_to_a1(1, n_cols))

    def span(first: int, last: int) -> str:
        return f"A{first}:{last_col}{last}"

    def fetch(ranges: list[str], what: str) -> list[list[list]]:
        def get() -> list:
            return tab.batch_get(
                ranges,
                major_dimension=Dimension.rows,
                value_render_option=ValueRenderOption.formatted,
            )

        return [list(v) for v in policy.call(timed(get), what)]

    bar = tqdm(
        total=max(n_rows - 1, 0),
        unit="row",
        desc=f"Reading {tab.title}",
        disable=quiet,
        file=sys.stderr,
        leave=False,
    )
    try:
        first_last = min(n_rows, 1 + batch_rows)
        ranges = [span(1, 1)] + ([span(2, first_last)] if n_rows >= 2 else [])
        got = fetch(ranges, f"reading rows 1-{first_last}")
        header = list(got[0][0]) if got and got[0] else []
        rows: list[list] = got[1] if len(got) > 1 else []
        bar.update(first_last - 1)
        short = len(rows) < first_last - 1
        next_row = first_last + 1
        while not short and next_row <= n_rows:
            last = min(n_rows, next_row + batch_rows - 1)
            batch = fetch([span(next_row, last)], f"reading rows {next_row}-{last}")[0]
            rows.extend(batch)
            bar.update(last - next_row + 1)
            short = len(batch) < last - next_row + 1
            next_row = last + 1
        if short and next_row <= n_rows:
            # The data seemed to end inside the last batch; make sure nothing follows a blank gap.
            tail = fetch([span(next_row, n_rows)], f"checking rows {next_row}-{n_rows}")[0]
            if tail:
                _log.warning(
                    "Google Sheets: tab %r has blank rows before row %d; kept as blank rows",
                    tab.title,
                    next_row,
                )
                rows.extend([] for _ in range(next_row - 2 - len(rows)))
                rows.extend(tail)
            bar.update(n_rows - next_row + 1)
    finally:
        bar.close()
    if not header:
        if any(any(_cell(v) for v in row) for row in rows):
            raise SourceError(
                f'Row 1 of tab "{tab.title}" in spreadsheet "{title}" is blank, but the column '
                "names must be in row 1. Put the header row at the top of the tab."
            )
        raise _empty(tab.title, title)
    return header, rows


def _empty(tab_title: str, title: str) -> SourceError:
    return SourceError(
        f'Tab "{tab_title}" of spreadsheet "{title}" is empty: there is not even a header row. '
        "Check that you chose the right tab, or put the events there (header row first)."
    )
