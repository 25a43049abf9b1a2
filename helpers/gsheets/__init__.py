"""Read the raw events table straight from a Google Sheet.

The analysts keep the events in a Google Sheet: a header row, then one row per
event.  :func:`read_google_sheet` reads one tab of such a sheet with the real
gspread 6 client and returns it as a :class:`SheetTable`: a ``pyarrow.Table`` of
strings, cells exactly as the sheet shows them (``00123`` and ``1,5`` stay as
written, blank cells are ``''``), plus a small ``info`` dict describing the
source.  It never returns or logs a secret.

How it reads
    * Authentication: a service-account key file, given by ``credentials`` or
      else by ``$GOOGLE_APPLICATION_CREDENTIALS`` or else gspread's default
      location (``~/.config/gspread/service_account.json``), with read-only
      scopes.  With no key file anywhere, a sheet shared as "anyone with the
      link" is read through its public CSV export instead.
    * Values: the spreadsheet metadata gives the tab's grid size; the header row
      and the data rows are then read in ranged ``values:batchGet`` requests of
      ``batch_rows`` rows (the header travels with the first batch), as
      FORMATTED_VALUE, until the end of the data.
    * Faults: HTTP 408, 429 and 5xx, connection errors and timeouts are retried
      with exponential backoff and jitter (tenacity).  Each request, with all
      its retries and waits, is bounded by ``max_attempts`` attempts and by
      ``deadline_seconds``: no attempt starts, and no attempt's timeout reaches,
      past the deadline.  400, 401, 403 and 404 fail at once.  Every problem a
      user can fix is raised as :class:`~helpers.errors.SourceError` with a
      one-paragraph message that says what to do.

The package, one concern a module: ``_urls`` (which sheet and tab an address
names), ``_credentials`` (finding and loading the key, scrubbing its secrets),
``_faults`` (what a failure was, and whether it is worth retrying), ``_retry``
(the policy, on tenacity), ``_messages`` (what to tell the user), ``_table``
(the result), ``_api`` and ``_export`` (the two ways of reading).
"""

from __future__ import annotations

import requests

from helpers.errors import SourceError
from helpers.gsheets._api import _read_with_api
from helpers.gsheets._credentials import _find_credentials, _load_service_account, _scrub
from helpers.gsheets._export import _read_public_export
from helpers.gsheets._retry import _Policy
from helpers.gsheets._table import SheetTable
from helpers.gsheets._urls import _parse_source

__all__ = ["SheetTable", "read_google_sheet"]


def read_google_sheet(
    source: str,
    *,
    worksheet: str | int | None = None,
    credentials: str | None = None,
    timeout_seconds: float = 30.0,
    max_attempts: int = 6,
    deadline_seconds: float = 120.0,
    batch_rows: int = 20_000,
    session: requests.Session | None = None,
    progress: bool | None = None,
) -> SheetTable:
    """Read one tab of a Google Sheet into a table of strings.

    ``source``: a sheet URL or ``gsheet:KEY``.  ``worksheet``: a tab title (str)
    or 0-based index (int); default the tab of the URL's gid, else the first.
    ``credentials``: path of a service-account key file (see the module doc for
    the fallbacks).  ``timeout_seconds``: timeout of each HTTP request.
    ``max_attempts`` / ``deadline_seconds``: bounds on the attempts of one
    request and on the time spent on them, waits included.  ``batch_rows``:
    rows per values request.  ``session``: a ``requests.Session`` whose
    transport (adapters, proxies, TLS settings) carries every request, token
    requests included; by default a new one.  ``progress``: show a progress
    bar (None: only when stderr is a terminal).

    Raises SourceError for every problem a user can fix.
    """
    key, gid = _parse_source(source)
    _check_settings(worksheet, timeout_seconds, max_attempts, deadline_seconds, batch_rows)
    policy = _Policy(int(max_attempts), float(deadline_seconds), float(timeout_seconds))
    # None: tqdm shows the bar only when stderr is a terminal.
    quiet = None if progress is None else not progress
    secrets: list[str] = []
    owned = session is None
    transport = requests.Session() if session is None else session
    try:
        found = _find_credentials(credentials)
        if found.path is None:
            return _read_public_export(key, gid, worksheet, found, transport, policy)
        account = _load_service_account(found)
        secrets.extend(account.secrets)
        try:
            return _read_with_api(
                key, gid, worksheet, account, transport, owned, policy, batch_rows, quiet
            )
        finally:
            token = getattr(account.credentials, "token", None)
            if isinstance(token, str) and token:
                secrets.append(token)
    except SourceError as exc:
        clean = _scrub(str(exc), secrets)
        if clean != str(exc):
            raise SourceError(clean) from None
        raise
    finally:
        if owned:
            transport.close()


def _check_settings(worksheet, timeout_seconds, max_attempts, deadline_seconds, batch_rows) -> None:
    problems = []
    if worksheet is not None and (
        isinstance(worksheet, bool) or not isinstance(worksheet, (str, int))
    ):
        problems.append(
            f"worksheet must be a tab title (text) or a 0-based index, not {worksheet!r}"
        )
    for name, value in (
        ("timeout_seconds", timeout_seconds),
        ("deadline_seconds", deadline_seconds),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            problems.append(f"{name} must be a positive number of seconds, not {value!r}")
    for name, value in (("max_attempts", max_attempts), ("batch_rows", batch_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{name} must be a whole number of at least 1, not {value!r}")
    if problems:
        raise SourceError("Cannot read the Google Sheet: " + "; ".join(problems) + ".")
