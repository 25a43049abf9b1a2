"""What a failed request was: its HTTP status, Google's reasons, and whether to retry it."""

from __future__ import annotations

import gspread
import requests
from google.auth import exceptions as google_auth_exceptions

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
