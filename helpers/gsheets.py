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
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import random
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote

import gspread
import pyarrow as pa
import requests
import tenacity
from google.auth import exceptions as google_auth_exceptions
from google.auth.transport.requests import AuthorizedSession
from google.auth.transport.requests import Request as GoogleAuthRequest
from google.oauth2 import service_account
from gspread.utils import Dimension, ValueRenderOption, rowcol_to_a1
from tqdm import tqdm

from helpers.errors import SourceError
from helpers.params import SHEET_SCHEME_RE, SHEET_URL_RE

__all__ = ["SheetTable", "read_google_sheet"]

_log = logging.getLogger(__name__)

_T = TypeVar("_T")

# Backoff between attempts: the n-th retry waits a random time in
# [b/2, b] with b = min(_WAIT_MAX, _WAIT_INITIAL * 2**(n-1)) seconds.
# Module-level so that tests can make the backoff fast.
_WAIT_INITIAL = 1.0
_WAIT_MAX = 32.0

_READONLY_SCOPES = (
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.readonly",
)
_EXPORT_URL = "https://docs.google.com/spreadsheets/d/{key}/export"
_ENV_VAR = "GOOGLE_APPLICATION_CREDENTIALS"

_GID_RE = re.compile(r"[?&#]gid=(\d+)")

# Google answers these with a short "try later"; they are worth retrying.
_RETRY_STATUSES = frozenset({408, 429})
# Drive reports its rate limits as 403 with one of these reasons.
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"})
_TRANSIENT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.JSONDecodeError,  # a cut or garbled 200 answer
    google_auth_exceptions.TransportError,  # the token request could not be sent
)

_API_DISABLED_HINTS = (
    "has not been used",
    "is disabled",
    "service_disabled",
    "accessnotconfigured",
)

_SETUP_ADVICE = (
    "To read it, either share the sheet as 'Anyone with the link: Viewer' (Share > General "
    "access), or create a service account in the Google Cloud console (IAM & Admin > Service "
    "accounts > Keys > Add key > JSON), enable the Google Sheets API for its project, share the "
    "sheet with the account's client_email, and pass the key file with credentials=PATH or the "
    f"{_ENV_VAR} environment variable."
)


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


# --------------------------------------------------------------------------- sources


def _parse_source(source: str) -> tuple[str, int | None]:
    """Return (key, gid from the URL or None)."""
    text = source.strip() if isinstance(source, str) else ""
    match = SHEET_SCHEME_RE.match(text)
    if match:
        return match.group("key"), None
    match = SHEET_URL_RE.match(text)
    if not match:
        raise SourceError(
            f"{source!r} is not a Google Sheet: give the sheet's address as it appears in the "
            "browser (https://docs.google.com/spreadsheets/d/KEY/edit#gid=N) or 'gsheet:KEY'."
        )
    key, rest = match.group("key"), match.group("rest") or ""
    if key == "e" and rest.startswith("/"):
        raise SourceError(
            "This is a 'Publish to the web' link (/spreadsheets/d/e/...), which cannot be read "
            "as a spreadsheet. Open the sheet itself and use the address from the browser's "
            "address bar (https://docs.google.com/spreadsheets/d/KEY/edit#gid=N)."
        )
    gids = _GID_RE.findall(unquote(rest))
    # The fragment (#gid=N) is what the browser shows for the open tab: it comes last.
    return key, (int(gids[-1]) if gids else None)


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class _Found:
    path: Path | None
    origin: str  # how the path was chosen, for messages
    looked: tuple[str, ...]  # where we looked, for the no-credentials message


class _ServiceAccount:
    """A loaded service-account key; its repr never shows the key."""

    def __init__(self, path: Path, client_email: str, credentials: Any, secrets: list[str]):
        self.path = path
        self.client_email = client_email
        self.credentials = credentials
        self.secrets = secrets

    def __repr__(self) -> str:
        return f"<service account {self.client_email} from {self.path}>"


def _default_key_path() -> Path:
    # Computed at call time (gspread's own constant is fixed when it is imported).
    return gspread.auth.get_config_dir() / "service_account.json"


def _find_credentials(credentials: str | os.PathLike | None) -> _Found:
    if credentials is not None and str(credentials).strip():
        path = _key_file(
            str(credentials),
            named="The credentials parameter",
            fix="Pass the path of a service-account key file (JSON, from the Google Cloud "
            "console: IAM & Admin > Service accounts > Keys > Add key > JSON).",
        )
        return _Found(path, f"the credentials file {path}", ())
    env = os.environ.get(_ENV_VAR, "").strip()
    if env:
        path = _key_file(
            env,
            named=f"${_ENV_VAR}",
            fix=f"Point ${_ENV_VAR} at a service-account key file (JSON), or unset it.",
        )
        return _Found(path, f"the credentials file {path} (from ${_ENV_VAR})", ())
    default = _default_key_path()
    looked = (
        "the credentials argument (not given)",
        f"${_ENV_VAR} (not set)",
        f"{default} (no such file)",
    )
    if default.is_file():
        return _Found(default, f"the credentials file {default} (gspread's default location)", ())
    return _Found(None, "", looked)


def _key_file(value: str, *, named: str, fix: str) -> Path:
    """The key file a credentials setting names. A setting holding the key itself (its JSON,
    a common mistake with environment variables) is refused without repeating it."""
    if value.lstrip().startswith("{") or "\n" in value or len(value) > 1024:
        raise SourceError(
            f"{named} holds what looks like the key's contents, not the path of a key file "
            f"(not shown here: it is a secret). {fix}"
        )
    path = Path(value).expanduser()
    try:
        is_file = path.is_file()
    except OSError:  # e.g. a name too long for the file system
        is_file = False
    if not is_file:
        raise SourceError(
            f"{named} names the file {path}, which does not exist (or is not a file). {fix}"
        )
    return path


def _load_service_account(found: _Found) -> _ServiceAccount:
    path = found.path
    assert path is not None
    not_a_key = (
        f"{found.origin[0].upper()}{found.origin[1:]} is not a service-account key file"
    )
    how = (
        "Download one in the Google Cloud console (IAM & Admin > Service accounts > Keys > Add "
        "key > JSON) and use that file as it was downloaded."
    )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(
            f"Could not read {found.origin} ({type(exc).__name__}). Check that the file is "
            f"readable. {how}"
        ) from None
    try:
        info = json.loads(text)
    except ValueError:
        raise SourceError(f"{not_a_key}: it is not valid JSON. {how}") from None
    if not isinstance(info, dict):
        raise SourceError(f"{not_a_key}: it holds no JSON object. {how}")
    kind = info.get("type")
    if kind != "service_account":
        if kind == "authorized_user" or "installed" in info or "web" in info:
            what = "an OAuth client or user credential, not a service-account key"
        else:
            what = f"its type is {kind!r}, not 'service_account'" if kind else "it has no type"
        raise SourceError(f"{not_a_key}: {what}. {how}")
    missing = [
        name for name in ("client_email", "private_key", "token_uri")
        if not isinstance(info.get(name), str) or not info.get(name)
    ]
    if missing:
        raise SourceError(f"{not_a_key}: it lacks {', '.join(missing)}. {how}")
    email = info["client_email"]
    secrets = _secret_values(info)
    try:
        creds = service_account.Credentials.from_service_account_info(
            info, scopes=list(_READONLY_SCOPES)
        )
    except Exception:  # any failure here means a damaged key; never echo its text
        raise SourceError(
            f"The private key in {found.origin} (service account {email}) cannot be used: the "
            f"file looks damaged or edited. {how}"
        ) from None
    return _ServiceAccount(path, email, creds, secrets)


def _secret_values(info: dict) -> list[str]:
    """Every string from a key file that must never be shown, longest first."""
    out: set[str] = set()
    for name in ("private_key", "private_key_id", "client_id"):
        value = info.get(name)
        if isinstance(value, str) and value.strip():
            out.add(value.strip())
    key = info.get("private_key")
    if isinstance(key, str):
        for line in key.replace("\\n", "\n").splitlines():
            line = line.strip()
            if len(line) >= 8 and not line.startswith("-----"):
                out.add(line)
    return sorted(out, key=len, reverse=True)


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    return text


# --------------------------------------------------------------------------- retries


class _HTTPStatusError(Exception):
    """A non-2xx answer outside gspread (the public export)."""

    def __init__(self, status: int, detail: str = ""):
        super().__init__(f"HTTP {status}{': ' + detail if detail else ''}")
        self.status = status
        self.detail = detail


def _api_error(exc: BaseException) -> gspread.exceptions.APIError | None:
    """The gspread APIError behind exc (open_by_key wraps 403 in a bare PermissionError)."""
    seen = 0
    while exc is not None and seen < 4:
        if isinstance(exc, gspread.exceptions.APIError):
            return exc
        exc = exc.__cause__
        seen += 1
    return None


def _status(exc: BaseException) -> int | None:
    api = _api_error(exc)
    if api is not None:
        return api.response.status_code
    if isinstance(exc, _HTTPStatusError):
        return exc.status
    if isinstance(exc, gspread.exceptions.SpreadsheetNotFound):
        return 404
    return None


def _google_error(exc: BaseException) -> dict:
    api = _api_error(exc)
    error = getattr(api, "error", None)
    return error if isinstance(error, dict) else {}


def _reasons(error: dict) -> set[str]:
    reasons = {e.get("reason", "") for e in error.get("errors", []) if isinstance(e, dict)}
    for detail in error.get("details", []) or []:
        if isinstance(detail, dict) and detail.get("reason"):
            reasons.add(detail["reason"])
    return reasons


def _is_transient(exc: BaseException) -> bool:
    status = _status(exc)
    if status is not None:
        if status in _RETRY_STATUSES or status >= 500:
            return True
        return status == 403 and bool(_reasons(_google_error(exc)) & _RATE_LIMIT_REASONS)
    if isinstance(exc, _TRANSIENT_ERRORS):
        return True
    if isinstance(exc, google_auth_exceptions.RefreshError):
        return bool(getattr(exc, "retryable", False))
    return False


def _one_line(text: Any, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(exc: BaseException) -> str:
    status = _status(exc)
    if status is not None:
        message = _google_error(exc).get("message") or getattr(exc, "detail", "")
        if isinstance(exc, gspread.exceptions.SpreadsheetNotFound):
            message = "not found"
        return f"HTTP {status}" + (f" ({_one_line(message, 160)})" if message else "")
    if isinstance(exc, requests.Timeout):
        return f"timed out ({type(exc).__name__})"
    if isinstance(exc, requests.ConnectionError):
        return f"connection failed ({type(exc).__name__})"
    if isinstance(exc, google_auth_exceptions.TransportError):
        return f"could not reach Google's sign-in service ({type(exc).__name__})"
    if isinstance(exc, google_auth_exceptions.RefreshError):
        return f"Google's sign-in service failed ({type(exc).__name__})"
    return type(exc).__name__


def _likely_cause(exc: BaseException) -> str:
    status = _status(exc)
    if status == 429 or status == 403:
        return "The read quota is probably used up for now"
    if status is not None:
        return "Google is probably having trouble"
    return "Google could not be reached: check the network connection (and any proxy)"


class _Policy:
    """Retry policy of one read: every request gets at most max_attempts attempts, and the
    attempts and waits of one request end within deadline_seconds of its first attempt."""

    def __init__(self, max_attempts: int, deadline_seconds: float, timeout_seconds: float):
        self.max_attempts = max_attempts
        self.deadline = deadline_seconds
        self.timeout = timeout_seconds

    def call(self, fn: Callable[[float], _T], what: str) -> _T:
        """Run fn(timeout) with retries; transient failures past the limits become SourceError.

        fn gets the timeout for its attempt: timeout_seconds, or less when the deadline is
        nearer.  Failures that are not transient are re-raised unchanged (no retry) for the
        caller to explain.
        """
        start = time.monotonic()
        waits: dict[int, float] = {}

        def wait_after(attempt: int) -> float:
            # One jittered backoff per attempt, shared by stop() and wait() below.
            if attempt not in waits:
                base = min(_WAIT_MAX, _WAIT_INITIAL * 2 ** (attempt - 1))
                waits[attempt] = random.uniform(base / 2, base)
            return waits[attempt]

        def stop(state: tenacity.RetryCallState) -> bool:
            # Do not start a wait that would end at or past the deadline.
            n = state.attempt_number
            late = time.monotonic() - start + wait_after(n) >= self.deadline
            return n >= self.max_attempts or late

        def wait(state: tenacity.RetryCallState) -> float:
            return wait_after(state.attempt_number)

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            _log.warning(
                "Google Sheets: %s failed (%s, attempt %d of %d); retrying in %.2f s",
                what, _describe(exc) if exc else "?", state.attempt_number,
                self.max_attempts, wait_after(state.attempt_number),
            )

        retrying = tenacity.Retrying(
            stop=stop,
            wait=wait,
            retry=tenacity.retry_if_exception(_is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    remaining = self.deadline - (time.monotonic() - start)
                    return fn(max(0.01, min(self.timeout, remaining)))
        except Exception as exc:
            if not _is_transient(exc):
                raise
            elapsed = time.monotonic() - start
            raise SourceError(
                f"Google kept failing while {what} ({_describe(exc)}): gave up after {attempts} "
                f"attempt{'s' if attempts != 1 else ''} in {elapsed:.1f} s. "
                f"{_likely_cause(exc)}; try again later, or raise max_attempts (now "
                f"{self.max_attempts}) or deadline_seconds (now {self.deadline:g})."
            ) from None  # the error holds the request, and its bearer token
        raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- table building


def _build_table(header: list, rows: list[list]) -> pa.Table:
    width = max([len(header)] + [len(row) for row in rows])
    if width > len(header):
        _log.warning(
            "Google Sheets: some rows have cells to the right of the last header cell; "
            "those %d column(s) get blank names", width - len(header),
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


# --------------------------------------------------------------------------- public entry point


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


# --------------------------------------------------------------------------- the Sheets API path


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


def _explain(exc: BaseException, key: str, account: _ServiceAccount) -> str:
    """One paragraph for a request that failed at once (no retry)."""
    email, where = account.client_email, account.path
    status = _status(exc)
    error = _google_error(exc)
    message = _one_line(error.get("message", ""), 240)
    if status == 403:
        text = f"{message} {' '.join(sorted(_reasons(error)))} {error.get('status', '')}".lower()
        if any(s in text for s in _API_DISABLED_HINTS):
            return (
                f"The Google Sheets API is not enabled for the Google Cloud project of the "
                f"service account {email} (HTTP 403: {message}). Enable it in the Google Cloud "
                "console (APIs & Services > Library > Google Sheets API), wait a few minutes and "
                "try again."
            )
        return (
            f"The service account {email} (key file {where}) may not read spreadsheet {key} "
            f"(HTTP 403): the sheet is not shared with it. Share the sheet with {email} (Share "
            "button, Viewer is enough) and try again."
        )
    if status == 404:
        return (
            f"Spreadsheet {key} was not found (HTTP 404). Check the key/URL: copy the address from "
            "the browser's address bar while the sheet is open (and check that it was not deleted)."
        )
    if status == 401:
        return (
            f"Google rejected the credentials of service account {email} from {where} (HTTP 401: "
            f"{message or 'unauthenticated'}). The key may have been deleted or disabled: create a "
            "new JSON key for the service account and use that file."
        )
    if status == 400:
        return (
            f"Google could not read spreadsheet {key} (HTTP 400: {message or 'bad request'}). "
            "If the file is an Excel file stored in Drive, open it and use File > Save as Google "
            "Sheets, then use the new sheet's address."
        )
    if status is not None:
        detail = message or "no detail"
        return f"Google refused to read spreadsheet {key} (HTTP {status}: {detail})."
    if isinstance(exc, google_auth_exceptions.RefreshError):
        reason = _one_line(exc.args[0] if exc.args else "", 160)
        return (
            f"Google refused to sign in service account {email} with the key in {where}"
            f"{' (' + reason + ')' if reason else ''}. The key may have been deleted or disabled, "
            "or this machine's clock may be wrong: create a new JSON key for the service account, "
            "or fix the clock, and try again."
        )
    return f"Reading spreadsheet {key} failed: {_describe(exc)}."


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


def _read_values(
    tab, policy: _Policy, timed, batch_rows: int, quiet: bool | None, title: str
):
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
        total=max(n_rows - 1, 0), unit="row", desc=f"Reading {tab.title}",
        disable=quiet, file=sys.stderr, leave=False,
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
                    tab.title, next_row,
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


# --------------------------------------------------------------------------- the public export path


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
