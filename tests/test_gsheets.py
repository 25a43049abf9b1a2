"""Tests of helpers.gsheets against a local fake of Google's APIs (tests/fake_sheets.py).

Everything runs offline: the real gspread and google-auth code sends real HTTP
requests, which the session from FakeGoogle.session() carries to 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path

import pyarrow as pa
import pytest
from fake_sheets import FakeGoogle, FakeTab, parse_a1, parse_cells

from helpers import gsheets
from helpers.errors import SourceError
from helpers.gsheets import SheetTable, read_google_sheet
from helpers.params import is_google_sheet

KEY = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd"
URL = f"https://docs.google.com/spreadsheets/d/{KEY}/edit"
METADATA = rf"^/v4/spreadsheets/{KEY}$"
VALUES = rf"^/v4/spreadsheets/{KEY}/values"
EXPORT = rf"^/spreadsheets/d/{KEY}/export$"

HEADER = ["event_id", "customer id", "amount", "", "note"]
EVENT_ROWS = [
    ["00123", "C-001", "1,5", "x", "first"],
    ["00124", "", "2"],  # Google trims trailing blanks: a ragged row
    ["", "", "", "", "only a note"],
    [],  # a blank row inside the data
    ["00125", "C-003", "-0,75", "", 'é ünïcode, "quoted", a\nnewline'],
    ["00126"],
]
EXPECTED_ROWS = [
    ["00123", "C-001", "1,5", "x", "first"],
    ["00124", "", "2", "", ""],
    ["", "", "", "", "only a note"],
    ["", "", "", "", ""],
    ["00125", "C-003", "-0,75", "", 'é ünïcode, "quoted", a\nnewline'],
    ["00126", "", "", "", ""],
]


def rows_of(table: pa.Table) -> list[list[str]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [list(row) for row in zip(*columns, strict=True)]


def secrets_in(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s and s in text]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real credentials, a private HOME, and fast backoff."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(gsheets._retry, "_WAIT_INITIAL", 0.01)
    monkeypatch.setattr(gsheets._retry, "_WAIT_MAX", 0.05)
    return home


@pytest.fixture
def fake():
    with FakeGoogle() as server:
        yield server


@pytest.fixture
def key_info(fake: FakeGoogle, tmp_path: Path) -> dict:
    info = fake.write_service_account_key(tmp_path / "service-account.json")
    info["path"] = str(tmp_path / "service-account.json")
    return info


@pytest.fixture
def events(fake: FakeGoogle):
    return fake.add_spreadsheet(
        KEY,
        "Events 2024",
        [
            FakeTab("Summary", [["what"], ["a summary"]], sheet_id=0),
            FakeTab("Raw events", [HEADER, *EVENT_ROWS], sheet_id=1001),
            FakeTab("Old events", [["event_id"], ["1"]], sheet_id=1002),
        ],
    )


def read(fake: FakeGoogle, key_info: dict, source: str = f"gsheet:{KEY}", **kwargs) -> SheetTable:
    return read_google_sheet(
        source, credentials=key_info["path"], session=fake.session(), **kwargs
    )


# --------------------------------------------------------------------------- reading


def test_reads_cells_exactly_as_written(fake, key_info, events):
    result = read(fake, key_info, worksheet="Raw events")
    assert result.table.column_names == HEADER
    assert all(field.type == pa.string() for field in result.table.schema)
    assert rows_of(result.table) == EXPECTED_ROWS
    assert result.info == {
        "kind": "gsheet",
        "name": "Events 2024",
        "key": KEY,
        "worksheet": "Raw events",
        "revision_time": "2024-05-01T10:00:00.000Z",
    }
    # It signed in through the token endpoint and asked for the cells as the sheet shows them.
    assert fake.count(r"^/token$", "POST") == 1
    values = fake.requests_matching(VALUES)
    assert values and all(r.query["valueRenderOption"] == ["FORMATTED_VALUE"] for r in values)
    assert {r.host for r in fake.requests} >= {"oauth2.googleapis.com", "sheets.googleapis.com"}
    assert fake.token_scopes == [
        "https://www.googleapis.com/auth/spreadsheets.readonly "
        "https://www.googleapis.com/auth/drive.readonly"
    ]


def test_every_request_has_the_timeout(fake, key_info, events):
    read(fake, key_info, worksheet="Raw events", timeout_seconds=7.5)
    assert len(fake.sent) == len(fake.requests) == 5  # token, 2 x metadata, Drive, values
    assert [timeout for _, _, timeout in fake.sent] == [7.5] * 5
    events.public = True
    fake.sent.clear()
    read_google_sheet(URL, session=fake.session(), timeout_seconds=4.0)
    assert len(fake.sent) == 2  # the export, then Google's redirect to the file
    assert [timeout for _, _, timeout in fake.sent] == [4.0, 4.0]


@pytest.mark.parametrize(
    ("source", "worksheet", "expected_tab"),
    [
        (f"gsheet:{KEY}", None, "Summary"),  # default: the first tab
        (URL, None, "Summary"),
        (f"gsheet:{KEY}", "Raw events", "Raw events"),  # by title
        (f"gsheet:{KEY}", 1, "Raw events"),  # by 0-based index
        (f"gsheet:{KEY}", 2, "Old events"),
        (f"{URL}#gid=1001", None, "Raw events"),  # by the URL's gid
        (f"{URL}?gid=1002#gid=1002", None, "Old events"),
        (f"https://docs.google.com/spreadsheets/u/1/d/{KEY}/edit?usp=sharing#gid=1002", None,
         "Old events"),
        (f"{URL}#gid=1002", "Raw events", "Raw events"),  # an explicit worksheet wins
        (f"{URL}#gid=1002", 0, "Summary"),
    ],
)
def test_tab_choice(fake, key_info, events, source, worksheet, expected_tab):
    result = read(fake, key_info, source, worksheet=worksheet)
    assert result.info["worksheet"] == expected_tab
    expected = {"Summary": ["what"], "Raw events": HEADER, "Old events": ["event_id"]}
    assert result.table.column_names == expected[expected_tab]


def test_tab_names_that_need_quoting(fake, key_info):
    title = "Events 'raw' / 2024!"
    fake.add_spreadsheet(KEY, "Quoted", {title: [["a", "b"], ["1", "2"]]})
    result = read(fake, key_info, worksheet=title)
    assert rows_of(result.table) == [["1", "2"]]
    assert fake.requests_matching(VALUES)[0].query["ranges"][0].startswith("'Events ''raw''")


def test_header_only_gives_zero_rows(fake, key_info):
    fake.add_spreadsheet(KEY, "Header only", {"Events": [["event_id", "amount"]]})
    result = read(fake, key_info)
    assert result.table.num_rows == 0
    assert result.table.column_names == ["event_id", "amount"]
    assert result.table.schema.types == [pa.string(), pa.string()]


def test_empty_sheet_is_an_error(fake, key_info):
    fake.add_spreadsheet(KEY, "Nothing", {"Events": []})
    with pytest.raises(SourceError, match="empty"):
        read(fake, key_info)


def test_blank_header_row_with_data_is_an_error(fake, key_info):
    fake.add_spreadsheet(KEY, "No header", {"Events": [[], ["1", "2"]]})
    with pytest.raises(SourceError, match="Row 1"):
        read(fake, key_info)


def test_cells_right_of_the_header_get_blank_names(fake, key_info):
    fake.add_spreadsheet(KEY, "Wide", {"Events": [["a", "b"], ["1", "2", "3"], ["4"]]})
    result = read(fake, key_info)
    assert result.table.column_names == ["a", "b", ""]
    assert rows_of(result.table) == [["1", "2", "3"], ["4", "", ""]]


def test_a_chart_tab_is_refused(fake, key_info):
    fake.add_spreadsheet(KEY, "Charts", [FakeTab("Chart", [], sheet_id=0, sheet_type="OBJECT")])
    with pytest.raises(SourceError, match="not a grid"):
        read(fake, key_info)


# --------------------------------------------------------------------------- batches


@pytest.fixture(scope="module")
def big_rows() -> list[list[str]]:
    header = [f"col{j}" for j in range(10)]
    return [header] + [[f"{i:06d}"] + [f"{i}.{j}" for j in range(1, 10)] for i in range(100_000)]


@pytest.mark.parametrize("batch_rows", [20_000, 30_000])
def test_100k_rows_are_read_in_batches(fake, key_info, big_rows, batch_rows):
    fake.add_spreadsheet(
        KEY, "Big", [FakeTab("Events", big_rows, row_count=len(big_rows), col_count=10)]
    )
    result = read(fake, key_info, batch_rows=batch_rows)
    assert result.table.num_rows == 100_000
    assert rows_of(result.table.slice(0, 1)) == [big_rows[1]]
    assert rows_of(result.table.slice(99_999, 1)) == [big_rows[-1]]
    # The header travels in the first batchGet, so no separate header request.
    values = fake.requests_matching(VALUES)
    assert len(values) == math.ceil(100_000 / batch_rows)
    assert values[0].query["ranges"] == ["'Events'!A1:J1", f"'Events'!A2:J{batch_rows + 1}"]
    assert fake.count(METADATA) == 2  # open_by_key and worksheets()


def test_spare_grid_rows_past_the_data_cost_at_most_two_requests(fake, key_info):
    rows = [["id"]] + [[str(i)] for i in range(95)]
    fake.add_spreadsheet(KEY, "Spare", [FakeTab("Events", rows, row_count=1000, col_count=3)])
    result = read(fake, key_info, batch_rows=40)
    assert result.table.num_rows == 95
    # rows 2-41 and 42-81 are full, 82-121 is short, then one check of rows 122-1000.
    assert len(fake.requests_matching(VALUES)) == 4


def test_data_after_a_blank_gap_is_kept_in_place(fake, key_info):
    rows = [["id", "v"]] + [["1", "a"], ["2", "b"]] + [[] for _ in range(20)] + [["3", "c"]]
    fake.add_spreadsheet(KEY, "Gap", [FakeTab("Events", rows, row_count=60, col_count=2)])
    result = read(fake, key_info, batch_rows=10)
    got = rows_of(result.table)
    assert len(got) == len(rows) - 1
    assert got[0] == ["1", "a"] and got[-1] == ["3", "c"]
    assert all(row == ["", ""] for row in got[2:-1])
    assert len(fake.requests_matching(VALUES)) == 2  # the short first batch, then the check


def test_progress_bar_only_when_asked(fake, key_info, events, capsys):
    read(fake, key_info, worksheet="Raw events", progress=False)
    assert capsys.readouterr().err == ""
    read(fake, key_info, worksheet="Raw events")  # None: only on a terminal, and this is not
    assert capsys.readouterr().err == ""
    read(fake, key_info, worksheet="Raw events", progress=True)
    assert "Reading Raw events" in capsys.readouterr().err


# --------------------------------------------------------------------------- faults


def test_429_twice_then_success(fake, key_info, events, caplog):
    fault = fake.inject(VALUES, 429, times=2)
    with caplog.at_level(logging.WARNING, logger="helpers.gsheets"):
        result = read(fake, key_info, worksheet="Raw events")
    assert rows_of(result.table) == EXPECTED_ROWS
    assert fault.hits == 2
    assert len(fake.requests_matching(VALUES)) == 3
    assert [r.status for r in fake.requests_matching(VALUES)] == [429, 429, 200]
    assert "HTTP 429" in caplog.text and "retrying" in caplog.text


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_other_transient_statuses_are_retried(fake, key_info, events, status):
    fake.inject(METADATA, status, times=2)
    assert read(fake, key_info).info["worksheet"] == "Summary"
    assert [r.status for r in fake.requests_matching(METADATA)] == [status, status, 200, 200]


def test_connection_errors_are_retried(fake, events):
    events.public = True
    session = fake.session()
    fake.stop()  # nothing listens on the port any more
    with pytest.raises(SourceError, match=r"connection failed.*after 3 attempts"):
        read_google_sheet(URL, session=session, max_attempts=3)
    assert len(fake.sent) == 3


def test_drive_style_403_rate_limit_is_retried(fake, key_info, events):
    fake.inject(VALUES, 403, times=1, reason="userRateLimitExceeded", message="Rate limited")
    assert read(fake, key_info).table.num_rows == 1
    assert len(fake.requests_matching(VALUES)) == 2


def test_500_forever_ends_within_the_deadline(fake, key_info, events):
    fake.inject(METADATA, 500)
    deadline = 1.0
    started = time.monotonic()
    with pytest.raises(SourceError) as caught:
        read(fake, key_info, max_attempts=10_000, deadline_seconds=deadline)
    elapsed = time.monotonic() - started
    attempts = fake.count(METADATA)
    assert attempts > 3
    assert elapsed < deadline + 1.0  # loading the key and the last answer are not waits
    message = str(caught.value)
    assert f"after {attempts} attempts" in message
    assert "HTTP 500" in message and "max_attempts" in message and "deadline_seconds" in message


def test_500_forever_stops_after_max_attempts(fake, key_info, events):
    fake.inject(VALUES, 503)
    with pytest.raises(SourceError, match=r"after 3 attempts in \d+\.\d s") as caught:
        read(fake, key_info, max_attempts=3)
    assert len(fake.requests_matching(VALUES)) == 3
    assert "HTTP 503" in str(caught.value)


def test_requests_time_out_and_are_retried(fake, key_info, events):
    fake.inject(VALUES, 0, delay=1.5)  # answer, but too late
    started = time.monotonic()
    with pytest.raises(SourceError, match="timed out") as caught:
        read(fake, key_info, timeout_seconds=0.2, max_attempts=2)
    assert time.monotonic() - started < 1.2
    assert "after 2 attempts" in str(caught.value)


def test_403_not_shared_names_the_account_and_does_not_retry(fake, key_info):
    fake.add_spreadsheet(KEY, "Private", {"Events": [["a"]]}, shared_with={"someone@example.com"})
    with pytest.raises(SourceError) as caught:
        read(fake, key_info)
    message = str(caught.value)
    assert key_info["client_email"] in message
    assert "share the sheet with" in message.lower()
    assert fake.count(METADATA) == 1


def test_403_api_disabled_says_to_enable_it(fake, key_info, events):
    fake.inject(
        METADATA, 403, reason="accessNotConfigured",
        message="Google Sheets API has not been used in project 123 before or it is disabled.",
    )
    with pytest.raises(SourceError, match="Enable it"):
        read(fake, key_info)
    assert fake.count(METADATA) == 1


def test_404_says_to_check_the_key(fake, key_info, events):
    with pytest.raises(SourceError) as caught:
        read(fake, key_info, "gsheet:NoSuchKey123")
    message = str(caught.value)
    assert "NoSuchKey123" in message and "404" in message and "Check the key" in message
    assert fake.count(r"^/v4/spreadsheets/NoSuchKey123$") == 1


def test_400_hints_at_excel_files(fake, key_info, events):
    fake.inject(METADATA, 400, message="This operation is not supported for this document")
    with pytest.raises(SourceError, match="Save as Google Sheets"):
        read(fake, key_info)
    assert fake.count(METADATA) == 1


def test_401_fails_without_backoff_retries(fake, key_info, events):
    fake.inject(METADATA, 401)
    with pytest.raises(SourceError, match="HTTP 401"):
        read(fake, key_info)
    # google-auth refreshes the token and replays a 401 twice; no backoff retries on top.
    assert fake.count(METADATA) == 3


def test_missing_tab_lists_the_titles(fake, key_info, events):
    with pytest.raises(SourceError) as caught:
        read(fake, key_info, worksheet="Raw")
    message = str(caught.value)
    assert 'no tab "Raw"' in message
    assert '"Summary", "Raw events", "Old events"' in message


def test_tab_index_out_of_range_lists_the_titles(fake, key_info, events):
    with pytest.raises(SourceError, match=r'at index 3 .*"Summary", "Raw events", "Old events"'):
        read(fake, key_info, worksheet=3)


def test_unknown_gid_lists_the_tabs(fake, key_info, events):
    with pytest.raises(SourceError, match=r'gid=77.*"Raw events" \(gid=1001\)'):
        read(fake, key_info, f"{URL}#gid=77")


def test_revision_time_is_best_effort(fake, key_info, events):
    fake.inject(r"^/drive/", 403, message="Google Drive API has not been used in project 1")
    result = read(fake, key_info)
    assert result.info["revision_time"] is None
    assert result.table.num_rows == 1


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"batch_rows": 0}, "batch_rows"),
        ({"max_attempts": 0}, "max_attempts"),
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"deadline_seconds": 0}, "deadline_seconds"),
        ({"worksheet": 1.5}, "worksheet"),
        ({"worksheet": True}, "worksheet"),
    ],
)
def test_bad_settings(fake, key_info, kwargs, needle):
    with pytest.raises(SourceError, match=needle):
        read(fake, key_info, **kwargs)
    assert fake.requests == []


# --------------------------------------------------------------------------- credentials


def test_credentials_from_the_environment_variable(fake, key_info, events, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", key_info["path"])
    result = read_google_sheet(f"gsheet:{KEY}", session=fake.session())
    assert result.info["name"] == "Events 2024"


def test_credentials_from_gspreads_default_location(fake, events, isolated):
    path = isolated / ".config" / "gspread" / "service_account.json"
    path.parent.mkdir(parents=True)
    fake.write_service_account_key(path)
    result = read_google_sheet(f"gsheet:{KEY}", session=fake.session())
    assert result.info["worksheet"] == "Summary"
    assert fake.count(r"^/token$") == 1


def test_missing_credentials_file(fake, tmp_path):
    missing = tmp_path / "nope.json"
    with pytest.raises(SourceError, match=f"{missing}.*does not exist"):
        read_google_sheet(f"gsheet:{KEY}", credentials=str(missing), session=fake.session())


def test_environment_variable_naming_a_missing_file(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "gone.json"))
    with pytest.raises(SourceError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        read_google_sheet(f"gsheet:{KEY}", session=fake.session())


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "no JSON object"),
        (json.dumps({"type": "authorized_user", "client_id": "cid-123456789",
                     "client_secret": "SECRET-abcdef", "refresh_token": "1//refresh-xyz"}),
         "OAuth client or user credential"),
        (json.dumps({"installed": {"client_id": "cid-123456789",
                                   "client_secret": "SECRET-abcdef"}}),
         "OAuth client or user credential"),
        (json.dumps({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com"}),
         "lacks private_key, token_uri"),
        (json.dumps({"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com",
                     "private_key": "-----BEGIN PRIVATE KEY-----\nGARBAGEGARBAGEGARBAGE\n"
                     "-----END PRIVATE KEY-----\n", "private_key_id": "pkid-0123456789",
                     "client_id": "cid-123456789",
                     "token_uri": "https://oauth2.googleapis.com/token"}),
         "cannot be used"),
    ],
)
def test_bad_credentials_files(fake, tmp_path, content, needle):
    path = tmp_path / "creds.json"
    path.write_text(content)
    with pytest.raises(SourceError, match=needle) as caught:
        read_google_sheet(f"gsheet:{KEY}", credentials=str(path), session=fake.session())
    message = str(caught.value)
    assert str(path) in message
    for secret in ("SECRET-abcdef", "1//refresh-xyz", "GARBAGE", "pkid-0123456789",
                   "cid-123456789"):
        assert secret not in message
    assert fake.requests == []


# --------------------------------------------------------------------------- public export


def test_public_csv_export_without_credentials(fake, events, isolated):
    events.public = True
    result = read_google_sheet(f"{URL}#gid=1001", session=fake.session())
    assert result.table.column_names == HEADER
    assert rows_of(result.table) == EXPECTED_ROWS
    assert result.info == {
        "kind": "gsheet",
        "name": "Events 2024 - Raw events",
        "key": KEY,
        "worksheet": "gid=1001",
        "revision_time": None,
    }
    exports = fake.requests_matching(EXPORT)
    assert len(exports) == 1
    assert exports[0].host == "docs.google.com"
    assert exports[0].query == {"format": ["csv"], "gid": ["1001"]}
    assert fake.count(r"^/v4/") == 0 and fake.count(r"^/token$") == 0


def test_public_export_matches_the_api(fake, key_info, events):
    events.public = True
    by_api = read(fake, key_info, f"{URL}#gid=1001")
    by_export = read_google_sheet(f"{URL}#gid=1001", session=fake.session())
    assert by_export.table.equals(by_api.table)


def test_public_export_default_tab_and_retries(fake, events):
    events.public = True
    fake.inject(EXPORT, 503, times=2)
    result = read_google_sheet(f"gsheet:{KEY}", session=fake.session())
    assert result.table.column_names == ["what"]
    assert fake.count(EXPORT) == 3
    assert fake.requests_matching(EXPORT)[-1].query == {"format": ["csv"]}


def test_no_credentials_and_export_refused(fake, events, isolated):
    with pytest.raises(SourceError) as caught:
        read_google_sheet(URL, session=fake.session())
    message = str(caught.value)
    assert "No Google credentials were found" in message
    assert str(isolated / ".config" / "gspread" / "service_account.json") in message
    assert "GOOGLE_APPLICATION_CREDENTIALS" in message
    assert "sign-in page" in message
    assert "Anyone with the link" in message and "service account" in message
    assert "\n" not in message
    assert fake.count(r"^/ServiceLogin$") == 1  # it followed Google's redirect to sign in


@pytest.mark.parametrize("status", [401, 403, 404])
def test_no_credentials_and_export_status_refused(fake, events, status):
    events.public = True
    fake.inject(EXPORT, status)
    with pytest.raises(SourceError, match=f"No Google credentials.*HTTP {status}"):
        read_google_sheet(URL, session=fake.session())
    assert fake.count(EXPORT) == 1


def test_no_credentials_and_a_tab_title(fake, events):
    events.public = True
    with pytest.raises(SourceError, match="#gid=N"):
        read_google_sheet(URL, worksheet="Raw events", session=fake.session())
    assert fake.requests == []


# --------------------------------------------------------------------------- secrets


def test_no_secret_in_messages_info_or_logs(fake, key_info, events, caplog):
    google_logger = logging.getLogger("google")
    google_logger.addHandler(caplog.handler)  # google-auth does not propagate its logs
    caplog.set_level(logging.DEBUG)
    try:
        texts: list[str] = []
        result = read(fake, key_info, worksheet="Raw events")
        texts.append(repr(result.info))

        def failure(**kwargs) -> None:
            with pytest.raises(SourceError) as caught:
                read(fake, key_info, **kwargs)
            exc: BaseException | None = caught.value
            while exc is not None:  # the message and everything chained to it
                texts.extend([str(exc), repr(exc)])
                exc = exc.__cause__ or exc.__context__

        failure(worksheet="nope")
        failure(source="gsheet:Unknown")
        fake.inject(METADATA, 500, times=3)
        failure(max_attempts=3)
        fake.inject(METADATA, 401, times=3)
        failure()
        events.shared_with = {"someone@example.com"}
        failure()
    finally:
        google_logger.removeHandler(caplog.handler)
    texts.append(caplog.text)
    texts.extend(record.getMessage() for record in caplog.records)
    private_lines = [
        line for line in key_info["private_key"].splitlines()
        if line and not line.startswith("-----")
    ]
    secrets = [key_info["private_key_id"], key_info["client_id"], *private_lines, *fake.tokens]
    assert len(fake.tokens) >= 2  # tokens were issued, and are secrets too
    leaks = secrets_in("\n".join(texts), secrets)
    assert leaks == []
    assert "retrying" in caplog.text  # the logs were captured at all


def test_scrub_removes_secrets():
    assert gsheets._scrub("a TOKEN b", ["TOKEN"]) == "a [redacted] b"


# --------------------------------------------------------------------------- sources


@pytest.mark.parametrize(
    "source",
    [
        f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0",
        f"https://docs.google.com/spreadsheets/d/{KEY}/edit?gid=12#gid=12",
        f"https://docs.google.com/spreadsheets/d/{KEY}",
        f"https://docs.google.com/spreadsheets/d/{KEY}/",
        f"https://docs.google.com/spreadsheets/d/{KEY}/edit?usp=sharing",
        f"https://docs.google.com/spreadsheets/u/0/d/{KEY}/htmlview",
        f"https://docs.google.com/a/example.com/spreadsheets/d/{KEY}/edit",
        f"https://DOCS.google.com/spreadsheets/d/{KEY}/edit",
        f"  https://docs.google.com/spreadsheets/d/{KEY}/edit  ",
        f"gsheet:{KEY}",
        "gsheet:abc",
    ],
)
def test_is_google_sheet_accepts(source):
    assert is_google_sheet(source)


@pytest.mark.parametrize(
    "source",
    [
        "data/events.csv",
        "events.parquet",
        "",
        "gsheet:",
        "gsheet:abc/def",
        "gsheet:abc def",
        "GSHEET:abc",
        f"http://docs.google.com/spreadsheets/d/{KEY}/edit",
        f"https://drive.google.com/file/d/{KEY}/view",
        f"https://docs.google.com/document/d/{KEY}/edit",
        "https://docs.google.com/spreadsheets/d/",
        "https://docs.google.com/spreadsheets/d//edit",
        f"https://evil.example/docs.google.com/spreadsheets/d/{KEY}",
        f"https://docs.google.com.evil.example/spreadsheets/d/{KEY}",
        f"docs.google.com/spreadsheets/d/{KEY}",
        None,
        42,
    ],
)
def test_is_google_sheet_rejects(source):
    assert not is_google_sheet(source)


@pytest.mark.parametrize(
    ("source", "gid"),
    [
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=0", 0),
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit?gid=12#gid=12", 12),
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit?usp=sharing&gid=7", 7),
        (f"https://docs.google.com/spreadsheets/d/{KEY}/edit", None),
        (f"gsheet:{KEY}", None),
    ],
)
def test_source_key_and_gid(source, gid):
    assert gsheets._parse_source(source) == (KEY, gid)


def test_not_a_sheet_and_published_links(fake):
    with pytest.raises(SourceError, match="not a Google Sheet"):
        read_google_sheet("data/events.csv", session=fake.session())
    with pytest.raises(SourceError, match="Publish to the web"):
        read_google_sheet(
            "https://docs.google.com/spreadsheets/d/e/2PACX-1vQabc/pubhtml", session=fake.session()
        )
    assert fake.requests == []


# --------------------------------------------------------------------------- the fake itself


def test_fake_parses_a1_ranges():
    assert parse_a1("'Tab name'!A2:J20001") == ("Tab name", "A2:J20001")
    assert parse_a1("'It''s'!A1") == ("It's", "A1")
    assert parse_a1("Sheet1!B:C") == ("Sheet1", "B:C")
    assert parse_a1("Sheet1") == ("Sheet1", "")
    assert parse_a1("A1:B2") == (None, "A1:B2")
    assert parse_cells("A2:J20001") == (2, 1, 20001, 10)
    assert parse_cells("AA7") == (7, 27, 7, 27)
    assert parse_cells("B:C") == (None, 2, None, 3)


def test_fake_checks_tokens_and_grid_limits(fake):
    fake.add_spreadsheet(KEY, "Small", [FakeTab("T", [["a", ""], ["", ""]], row_count=5,
                                                col_count=2)])
    session = fake.session()
    base = f"https://sheets.googleapis.com/v4/spreadsheets/{KEY}/values/"
    assert session.get(base + "T!A1:B5").status_code == 401  # no token
    fake.tokens["test-token"] = "tester@example.com"
    auth = {"Authorization": "Bearer test-token"}
    too_big = session.get(base + "T!A1:C9", headers=auth)
    assert too_big.status_code == 400
    assert "exceeds grid limits" in too_big.json()["error"]["message"]
    ok = session.get(base + "T!A1:B5", headers=auth).json()
    assert ok == {"range": "T!A1:B5", "majorDimension": "ROWS", "values": [["a"]]}
    empty = session.get(base + "T!A3:B5", headers=auth).json()
    assert "values" not in empty


@pytest.mark.parametrize("where", ["argument", "environment"])
def test_a_key_given_instead_of_its_path_is_refused_without_showing_it(
    fake, key_info, tmp_path, monkeypatch, where
):
    key_text = Path(key_info["path"]).read_text()  # the service account's JSON, private key in it
    secret = json.loads(key_text)["private_key"]
    kwargs = {}
    if where == "argument":
        kwargs["credentials"] = key_text
    else:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", key_text)
    with pytest.raises(SourceError) as caught:
        read_google_sheet(f"gsheet:{KEY}", session=fake.session(), **kwargs)
    message = str(caught.value)
    assert "key's contents, not the path" in message
    assert secret.splitlines()[1] not in message and "PRIVATE KEY" not in message


def test_a_google_error_does_not_carry_the_bearer_token_along(fake, key_info, events):
    # gspread's error keeps the request, whose headers hold the live token: it is not chained.
    fake.inject(VALUES, 403, times=None, reason="forbidden", message="The caller does not have")
    with pytest.raises(SourceError) as caught:
        read(fake, key_info, worksheet="Raw events")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
