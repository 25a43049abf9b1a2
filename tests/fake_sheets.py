"""A local fake of the Google APIs that gspread talks to, for offline tests.

:class:`FakeGoogle` is an ``http.server.ThreadingHTTPServer`` on 127.0.0.1 (a free
port, in a thread; a context manager) that speaks the real REST shapes:

* ``POST /token``: the OAuth token endpoint.  It checks the service-account JWT
  signature against the public keys of the key files written by
  :meth:`FakeGoogle.write_service_account_key` and issues a bearer token.
* ``GET /v4/spreadsheets/{key}``: spreadsheet metadata (properties.title,
  sheets[].properties with sheetId, title, index, sheetType, gridProperties).
* ``GET /v4/spreadsheets/{key}/values/{range}`` and
  ``GET /v4/spreadsheets/{key}/values:batchGet?ranges=...``: value ranges with
  ``range``, ``majorDimension`` and ``values``; trailing blank cells and rows are
  trimmed as Google does, ``values`` is left out when there are none, and ranges
  past the grid are refused with HTTP 400 as Google does.
* ``GET /drive/v3/files/{key}``: Drive metadata (modifiedTime).
* ``GET /spreadsheets/d/{key}/export?format=csv&gid=N``: the public CSV export.
  A public sheet answers with a 307 to the file (as Google does); any other
  sheet answers with a 302 to a sign-in page (200, text/html).

The API endpoints want a bearer token from ``/token`` (401 otherwise) and answer
403 to an account the spreadsheet is not shared with.  Every request is recorded
(:attr:`FakeGoogle.requests`); :meth:`FakeGoogle.inject` makes requests whose
path matches a pattern fail with a status (or hang) for the next N requests or
forever.

:meth:`FakeGoogle.session` returns a ``requests.Session`` whose adapter sends
``https://sheets.googleapis.com``, ``https://www.googleapis.com``,
``https://docs.google.com``, ``https://oauth2.googleapis.com`` and
``https://accounts.google.com`` to this server, so that the real gspread and
google-auth code runs unchanged on top of it.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

GOOGLE_HOSTS = frozenset(
    {
        "sheets.googleapis.com",
        "www.googleapis.com",
        "docs.google.com",
        "oauth2.googleapis.com",
        "accounts.google.com",
    }
)
ORIGINAL_HOST_HEADER = "X-Fake-Original-Host"

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_STATUS_MESSAGES = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    408: "Request timed out.",
    429: "Quota exceeded for quota metric 'Read requests' and limit 'Read requests per minute "
    "per user' of service 'sheets.googleapis.com'.",
    500: "Internal error encountered.",
    502: "Bad gateway.",
    503: "The service is currently unavailable.",
    504: "The request timed out.",
}


# --------------------------------------------------------------------------- data model


@dataclass
class FakeTab:
    """One tab: rows of strings (ragged rows allowed, '' is a blank cell)."""

    title: str
    rows: list[list[str]]
    sheet_id: int = 0
    row_count: int | None = None  # grid size; default as Google: at least 1000 x 26
    col_count: int | None = None
    sheet_type: str = "GRID"

    @property
    def grid_rows(self) -> int:
        return self.row_count if self.row_count is not None else max(len(self.rows), 1000)

    @property
    def grid_cols(self) -> int:
        if self.col_count is not None:
            return self.col_count
        return max([len(r) for r in self.rows] + [26])


@dataclass
class FakeSpreadsheet:
    key: str
    title: str
    tabs: list[FakeTab]
    shared_with: set[str] | None = None  # None: every signed-in account may read it
    public: bool = False  # "anyone with the link can view": the CSV export works
    modified_time: str = "2024-05-01T10:00:00.000Z"

    def tab_by_title(self, title: str) -> FakeTab | None:
        return next((t for t in self.tabs if t.title == title), None)

    def tab_by_gid(self, gid: int) -> FakeTab | None:
        return next((t for t in self.tabs if t.sheet_id == gid), None)


@dataclass
class Recorded:
    method: str
    path: str  # percent-decoded
    query: dict[str, list[str]]
    host: str  # the Google host the client meant (before rewriting), else the real one
    status: int = 0


@dataclass
class Fault:
    pattern: re.Pattern
    status: int
    remaining: int | None  # None: forever
    delay: float = 0.0
    message: str | None = None
    reason: str | None = None
    method: str | None = None
    hits: int = 0


# --------------------------------------------------------------------------- A1 ranges


_CELLS_RE = re.compile(r"^([A-Za-z]{0,3})(\d*)(?::([A-Za-z]{0,3})(\d*))?$")


def col_number(letters: str) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + (ord(ch) - 64)
    return n


def col_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out


def parse_a1(text: str) -> tuple[str | None, str]:
    """Split "'Tab name'!A2:J20001" into (sheet title or None, cell part or '')."""
    if text.startswith("'"):
        i, title = 1, []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    title.append("'")
                    i += 2
                    continue
                break
            title.append(text[i])
            i += 1
        else:
            raise ValueError(f"unterminated quote in {text!r}")
        rest = text[i + 1 :]
        if rest and not rest.startswith("!"):
            raise ValueError(f"junk after the sheet name in {text!r}")
        return "".join(title), rest[1:]
    if "!" in text:
        title, cells = text.rsplit("!", 1)
        return title, cells
    if _CELLS_RE.match(text) and text:
        return None, text
    return text, ""


def parse_cells(cells: str) -> tuple[int | None, int | None, int | None, int | None]:
    """(first row, first col, last row, last col), 1-based; None where the range is open."""
    match = _CELLS_RE.match(cells)
    if not match or not cells:
        raise ValueError(f"bad cell range {cells!r}")
    c1, r1, c2, r2 = match.groups()
    if c2 is None and r2 is None:  # a single cell: "B3"
        c2, r2 = c1, r1
    return (
        int(r1) if r1 else None,
        col_number(c1) if c1 else None,
        int(r2) if r2 else None,
        col_number(c2) if c2 else None,
    )


def quote_title(title: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_]+", title):
        return title
    return "'" + title.replace("'", "''") + "'"


# --------------------------------------------------------------------------- the server


class FakeGoogle:
    """The fake server; use as ``with FakeGoogle() as fake: ...``."""

    def __init__(self) -> None:
        self.spreadsheets: dict[str, FakeSpreadsheet] = {}
        self.requests: list[Recorded] = []
        self.faults: list[Fault] = []
        self.tokens: dict[str, str] = {}  # access token -> client_email
        self.token_scopes: list[str] = []  # the scope claim of each token request
        self.sent: list[tuple[str, str, Any]] = []  # (method, url, timeout) seen by session()s
        self.public_keys: dict[str, str] = {}  # client_email -> public key PEM
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> FakeGoogle:
        handler = type("Handler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGoogle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None, "start() the server first"
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- content

    def add_spreadsheet(
        self,
        key: str,
        title: str,
        tabs: dict[str, list[list[str]]] | list[FakeTab],
        *,
        shared_with: set[str] | None = None,
        public: bool = False,
        modified_time: str = "2024-05-01T10:00:00.000Z",
    ) -> FakeSpreadsheet:
        """Add a spreadsheet; tabs given as {title: rows} get sheet ids 0, 1001, 1002, ..."""
        if isinstance(tabs, dict):
            tabs = [
                FakeTab(title=t, rows=rows, sheet_id=0 if i == 0 else 1000 + i)
                for i, (t, rows) in enumerate(tabs.items())
            ]
        sheet = FakeSpreadsheet(key, title, list(tabs), shared_with, public, modified_time)
        self.spreadsheets[key] = sheet
        return sheet

    # -- faults and the request log

    def inject(
        self,
        pattern: str,
        status: int,
        *,
        times: int | None = None,
        delay: float = 0.0,
        message: str | None = None,
        reason: str | None = None,
        method: str | None = None,
    ) -> Fault:
        """Answer `status` (after sleeping `delay` s) to the next `times` requests (None:
        all) whose percent-decoded path matches the regex `pattern`.  status 0 with a delay
        just delays the normal answer (to provoke client timeouts)."""
        fault = Fault(re.compile(pattern), status, times, delay, message, reason, method)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def requests_matching(self, pattern: str, method: str | None = None) -> list[Recorded]:
        rx = re.compile(pattern)
        with self._lock:
            return [
                r for r in self.requests
                if rx.search(r.path) and (method is None or r.method == method)
            ]

    def count(self, pattern: str, method: str | None = None) -> int:
        return len(self.requests_matching(pattern, method))

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method is not None and fault.method != method:
                    continue
                if fault.remaining is not None and fault.remaining <= 0:
                    continue
                if fault.pattern.search(path):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    fault.hits += 1
                    return fault
        return None

    # -- client side helpers

    def session(self) -> requests.Session:
        """A requests.Session that sends Google's hosts to this server."""
        session = requests.Session()
        adapter = RewriteAdapter(GOOGLE_HOSTS, f"127.0.0.1:{self.port}", sent=self.sent)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def write_service_account_key(
        self,
        path: Path,
        client_email: str = "events-reader@fake-project.iam.gserviceaccount.com",
    ) -> dict[str, Any]:
        """Write a throwaway service-account key file shaped like Google's; return its dict.

        The token_uri is Google's real one: the session from session() sends it here.
        """
        private_pem, public_pem = _rsa_key_pair()
        info = {
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": secrets.token_hex(20),
            "private_key": private_pem,
            "client_email": client_email,
            "client_id": str(10**20 + secrets.randbelow(10**20)),
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + quote(client_email),
            "universe_domain": "googleapis.com",
        }
        self.public_keys[client_email] = public_pem
        Path(path).write_text(json.dumps(info, indent=2), encoding="utf-8")
        return info


_KEY_CACHE: list[tuple[str, str]] = []


def _rsa_key_pair() -> tuple[str, str]:
    """A throwaway 2048-bit RSA key pair (PEM), made once per test session."""
    if not _KEY_CACHE:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        _KEY_CACHE.append((private_pem, public_pem))
    return _KEY_CACHE[0]


class RewriteAdapter(HTTPAdapter):
    """Sends requests for the given hosts to ``http://target`` (path and query kept)."""

    def __init__(
        self, hosts: frozenset[str], target: str, sent: list | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.hosts = hosts
        self.target = target
        self.sent = sent if sent is not None else []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent.append((request.method, request.url, kwargs.get("timeout")))
        parts = urlsplit(request.url or "")
        if parts.hostname in self.hosts:
            request.headers[ORIGINAL_HOST_HEADER] = parts.hostname
            request.url = urlunsplit(("http", self.target, parts.path, parts.query, ""))
        return super().send(request, **kwargs)


# --------------------------------------------------------------------------- request handling


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, message: str | None = None, reason: str | None = None) -> _Reply:
    error: dict[str, Any] = {
        "code": status,
        "message": message or _STATUS_MESSAGES.get(status, "Error."),
        "status": _STATUS_NAMES.get(status, "UNKNOWN"),
    }
    if reason:
        error["errors"] = [{"domain": "global", "reason": reason, "message": error["message"]}]
    return _Reply(status, {"error": error})


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGoogle
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        raw = urlsplit(self.path)
        segments = [unquote(s) for s in raw.path.split("/")]
        path = "/".join(segments)
        query = parse_qs(raw.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get(ORIGINAL_HOST_HEADER) or (self.headers.get("Host") or "")
        record = Recorded(method, path, query, host)
        fake = self.fake
        with fake._lock:
            fake.requests.append(record)
        try:
            fault = fake._take_fault(method, path)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status:
                    raise _error(fault.status, fault.message, fault.reason)
            self._route(method, segments, query, body)
            raise _error(404, "Not Found")  # no such endpoint
        except _Reply as reply:
            record.status = reply.status
            self._send(reply)

    def _send(self, reply: _Reply) -> None:
        body = reply.body
        headers = dict(reply.headers)
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json; charset=UTF-8")
        elif isinstance(body, str):
            data = body.encode("utf-8")
            headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        else:
            data = body or b""
        try:
            self.send_response(reply.status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): fine

    # -- routes

    def _route(self, method: str, seg: list[str], query: dict[str, list[str]], body: bytes) -> None:
        # seg[0] is '' (the path starts with '/')
        if method == "POST" and seg[1:] == ["token"]:
            self._token(body)
        if method != "GET":
            return
        if seg[1:3] == ["v4", "spreadsheets"] and len(seg) >= 4:
            email = self._caller()
            sheet = self._spreadsheet(seg[3], email)
            if len(seg) == 4:
                raise _Reply(200, _metadata(sheet))
            if len(seg) == 5 and seg[4] == "values:batchGet":
                ranges = query.get("ranges", [])
                value_ranges = [_value_range(sheet, r, query) for r in ranges]
                raise _Reply(200, {"spreadsheetId": sheet.key, "valueRanges": value_ranges})
            if len(seg) == 6 and seg[4] == "values":
                raise _Reply(200, _value_range(sheet, seg[5], query))
        if seg[1:4] == ["drive", "v3", "files"] and len(seg) == 5:
            email = self._caller()
            sheet = self._spreadsheet(seg[4], email)
            raise _Reply(200, {
                "id": sheet.key,
                "name": sheet.title,
                "createdTime": "2024-01-01T09:00:00.000Z",
                "modifiedTime": sheet.modified_time,
            })
        if seg[1:3] == ["spreadsheets", "d"] and len(seg) == 5 and seg[4] == "export":
            self._export(seg[3], query)
        if seg[1] == "export-data" and len(seg) == 3:
            self._export_data(seg[2], query)
        if seg[1] == "ServiceLogin":
            raise _Reply(200, "<!DOCTYPE html><html><head><title>Sign in - Google Accounts"
                         "</title></head><body>Sign in</body></html>",
                         {"Content-Type": "text/html; charset=utf-8"})

    def _token(self, body: bytes) -> None:
        from google.auth import jwt

        form = parse_qs(body.decode())
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            raise _Reply(400, {"error": "unsupported_grant_type"})
        assertion = (form.get("assertion") or [""])[0]
        try:
            payload = assertion.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            email = claims["iss"]
            jwt.decode(assertion, certs=self.fake.public_keys[email], verify=True)
        except Exception:  # any bad assertion: refuse it as Google does
            raise _Reply(400, {"error": "invalid_grant",
                               "error_description": "Invalid JWT Signature."}) from None
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.fake._lock:
            self.fake.tokens[token] = email
            self.fake.token_scopes.append(claims.get("scope", ""))
        raise _Reply(200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    def _caller(self) -> str:
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        email = self.fake.tokens.get(token)
        if email is None:
            raise _error(401, "Request is missing required authentication credential. Expected "
                         "OAuth 2 access token, login cookie or other valid authentication "
                         "credential.")
        return email

    def _spreadsheet(self, key: str, email: str) -> FakeSpreadsheet:
        sheet = self.fake.spreadsheets.get(key)
        if sheet is None:
            raise _error(404)
        if sheet.shared_with is not None and email not in sheet.shared_with:
            raise _error(403)
        return sheet

    def _export(self, key: str, query: dict[str, list[str]]) -> None:
        sheet = self.fake.spreadsheets.get(key)
        if sheet is None or not sheet.public:
            login = "/ServiceLogin?continue=" + quote(self.path, safe="")
            raise _Reply(302, "", {"Location": login})
        if query.get("format") != ["csv"]:
            raise _Reply(400, "<html>Bad Request</html>", {"Content-Type": "text/html"})
        gid = (query.get("gid") or [""])[0]
        location = f"/export-data/{key}" + (f"?gid={gid}" if gid else "")
        raise _Reply(307, "", {"Location": location})

    def _export_data(self, key: str, query: dict[str, list[str]]) -> None:
        sheet = self.fake.spreadsheets[key]
        gid = (query.get("gid") or [""])[0]
        tab = sheet.tab_by_gid(int(gid)) if gid else sheet.tabs[0]
        if tab is None:
            raise _Reply(400, "<html>Bad Request</html>", {"Content-Type": "text/html"})
        rows = _trim(tab.rows)
        width = max([len(r) for r in rows] + [0])
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for row in rows:
            writer.writerow(list(row) + [""] * (width - len(row)))
        filename = f"{sheet.title} - {tab.title}.csv"
        disposition = (
            f'attachment; filename="{filename.encode("ascii", "replace").decode()}"; '
            f"filename*=UTF-8''{quote(filename)}"
        )
        raise _Reply(200, out.getvalue().encode("utf-8"),
                     {"Content-Type": "text/csv", "Content-Disposition": disposition})


# --------------------------------------------------------------------------- Sheets shapes


def _metadata(sheet: FakeSpreadsheet) -> dict[str, Any]:
    sheets = []
    for index, tab in enumerate(sheet.tabs):
        props: dict[str, Any] = {
            "sheetId": tab.sheet_id,
            "title": tab.title,
            "index": index,
            "sheetType": tab.sheet_type,
        }
        if tab.sheet_type == "GRID":
            props["gridProperties"] = {"rowCount": tab.grid_rows, "columnCount": tab.grid_cols}
        sheets.append({"properties": props})
    return {
        "spreadsheetId": sheet.key,
        "properties": {
            "title": sheet.title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Europe/Paris",
        },
        "sheets": sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{sheet.key}/edit",
    }


def _trim(rows: list[list[str]]) -> list[list[str]]:
    """Google's view of a block of cells: trailing blank cells and rows left out."""
    out = []
    for row in rows:
        row = list(row)
        while row and row[-1] == "":
            row.pop()
        out.append(row)
    while out and not out[-1]:
        out.pop()
    return out


def _value_range(sheet: FakeSpreadsheet, a1: str, query: dict[str, list[str]]) -> dict[str, Any]:
    if query.get("majorDimension", ["ROWS"]) != ["ROWS"]:
        raise _error(400, "Only majorDimension=ROWS is faked.")
    render = query.get("valueRenderOption", ["FORMATTED_VALUE"])
    if render != ["FORMATTED_VALUE"]:
        raise _error(400, f"Only FORMATTED_VALUE is faked, not {render}.")
    try:
        title, cells = parse_a1(a1)
        if title is None and sheet.tab_by_title(cells) is not None:
            title, cells = cells, ""  # "Tab1": a tab's name wins over a cell name, as in Google
        tab = sheet.tabs[0] if title is None else sheet.tab_by_title(title)
        if tab is None:
            raise ValueError(a1)
        if tab.sheet_type != "GRID":
            raise ValueError(a1)
        r1, c1, r2, c2 = parse_cells(cells) if cells else (None, None, None, None)
    except ValueError:
        raise _error(400, f"Unable to parse range: {a1}") from None
    r1, c1 = r1 or 1, c1 or 1
    r2 = tab.grid_rows if r2 is None else r2
    c2 = tab.grid_cols if c2 is None else c2
    if r2 > tab.grid_rows or c2 > tab.grid_cols:
        raise _error(
            400,
            f"Range ({quote_title(tab.title)}!{col_letters(c1)}{r1}:{col_letters(c2)}{r2}) exceeds "
            f"grid limits. Max rows: {tab.grid_rows}, max columns: {tab.grid_cols}",
        )
    block = [list(row[c1 - 1 : c2]) for row in tab.rows[r1 - 1 : r2]]
    values = _trim(block)
    answer: dict[str, Any] = {
        "range": f"{quote_title(tab.title)}!{col_letters(c1)}{r1}:{col_letters(c2)}{r2}",
        "majorDimension": "ROWS",
    }
    if values:
        answer["values"] = values
    return answer

