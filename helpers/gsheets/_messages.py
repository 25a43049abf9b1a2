"""What to tell the user about a failed request: a short cause, and what to do about it."""

from __future__ import annotations

from typing import Any

import gspread
import requests
from google.auth import exceptions as google_auth_exceptions

from helpers.gsheets._credentials import _ENV_VAR, _ServiceAccount
from helpers.gsheets._faults import _google_error, _reasons, _status

# Google words "the API is off for this project" in several ways; any of these in a 403 means it.
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
