"""Which spreadsheet, and which tab, a sheet address names."""

from __future__ import annotations

import re
from urllib.parse import unquote

from helpers.errors import SourceError
from helpers.params import SHEET_SCHEME_RE, SHEET_URL_RE

_GID_RE = re.compile(r"[?&#]gid=(\d+)")


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
