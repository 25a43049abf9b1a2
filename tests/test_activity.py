"""The activity model (analyses.md section 1): column mapping, optional columns, derived
sessions, objectives that need absent columns, each on a table checked by hand."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import write_csv

from helpers import open_events
from helpers.errors import DataError, ParameterError, SourceError
from helpers.params import ReportParams, load_params

ROOT = Path(__file__).resolve().parent.parent

# A log as Segment, Mixpanel or PostHog export it: no page_type, params, env...
LOG = ["user_id", "session_id", "event", "timestamp", "platform"]


def log_event(user: str, when: str, event: str = "page_view", **cells: str) -> dict[str, str]:
    return {"user_id": user, "session_id": f"s-{user}", "event": event, "timestamp": when,
            "platform": "web", **cells}  # fmt: skip


MAPPED = {"columns": {"datetime": "timestamp", "event_type": "event"}, "user_column": "user_id"}


def test_a_mapped_log_reports_what_its_columns_allow(events_of):
    rows = [
        log_event("u1", "2024-01-01T10:00:00Z"),
        log_event("u1", "2024-01-01T10:01:00Z", "click_book-now"),
        log_event("u2", "2024-01-02T10:00:00Z"),
    ]
    report = events_of(rows, LOG, **MAPPED).report()
    objectives, quality = report.objectives, report.data_quality
    assert objectives["users_total"] == 2
    assert objectives["users_clicked_book_now"] == 1
    for key in ("users_by_device_class", "short_sessions", "price_filter"):
        assert objectives[key] is None
    assert quality["objectives_unavailable"] == {
        "users_by_device_class": ["device_class"],
        "users_by_first_om_source": ["om_source"],
        "short_sessions": ["page_type"],
        "users_search_then_apartment_view": ["page_type"],
        "users_search_start_request_draft": ["page_type"],
        "price_filter": ["params"],
        "users_with_request_id": ["params"],
    }
    assert quality["analyses_unavailable"]["paths"] == ["page_type"]
    assert report.data["insights"]["paths"] is None
    assert report.data["insights"]["events_per_session"]["sessions_total"] == 2
    # The marketplace funnel needs page_type: with no funnels defined, there is none.
    assert report.data["analyses"]["funnels"] == []
    assert any("no page_type column" in note for note in quality["notes"])
    assert report.data["parameters"]["columns"] == MAPPED["columns"]


def test_mapped_headers_are_matched_normalised_and_named_canonically(events_of):
    rows = [{" User ID ": "u1", "When": "2024-01-01 10:00:00", "Action": "buy"}]
    events = events_of(rows, list(rows[0]), columns={"datetime": "when", "event_type": " ACTION"},
                       user_column="User ID")  # fmt: skip
    table = events.events.to_pyarrow().to_pylist()
    assert table[0]["event_type"] == "buy"
    assert table[0]["user_id"] == "u1"
    assert events.params.user_column == "user_id"


def test_conditions_and_breakdowns_may_name_any_column_of_the_log(events_of):
    rows = [
        log_event("u1", "2024-01-01T10:00:00Z", platform="ios"),
        log_event("u1", "2024-01-01T10:05:00Z", "purchase", platform="ios"),
        log_event("u2", "2024-01-01T11:00:00Z", platform="web"),
    ]
    events = events_of(rows, LOG, **MAPPED)
    funnel = events.funnel([{"event_type": "page_view"}, {"event_type": "purchase"}],
                           breakdown="platform")  # fmt: skip
    assert [s.users for s in funnel.steps] == [2, 1]
    by_value = {v.value: [s.users for s in v.steps] for v in funnel.breakdown.values}
    assert by_value == {"ios": [1, 1], "web": [1, 0]}
    with pytest.raises(ParameterError, match="no column 'page_type'"):
        events.funnel([{"page_type": "search_page"}, {"event_type": "purchase"}])


def test_a_source_column_displaced_by_a_mapping_still_counts_as_data(events_of):
    rows = [
        {"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "datetime": "a"},
        {"user_id": "u1", "ts": "2024-01-01T10:00:00Z", "datetime": "b"},
    ]
    report = events_of(rows, list(rows[0]), columns={"datetime": "ts"},
                       user_column="user_id").report()  # fmt: skip
    # Rows that differ only in the displaced column are two events, not a duplicate.
    assert report.data_quality["rows_excluded"]["duplicate_event"] == 0
    assert report.data_quality["rows_analysed"] == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"columns": {"datetime": "time"}}, r"maps datetime to 'time', but there is no such"),
        ({"columns": {"datetime": "timestamp", "event_type": "Timestamp"}}, "maps both"),
        ({"columns": {"datetime": "timestamp"}, "user_column": "uid"}, "user_column is 'uid'"),
        ({"user_column": "user_id"}, r"no datetime column.*columns=\{datetime: timestamp\}"),
    ],
)
def test_mapping_mistakes_name_the_column_and_list_the_headers(events_of, params, message):
    events = events_of([log_event("u1", "2024-01-01T10:00:00Z")], LOG, **params)
    with pytest.raises(SourceError, match=message) as caught:
        events.report()
    if "maps" in message:
        assert "Headers found: user_id, session_id, event, timestamp, platform" in str(caught.value)


def test_only_canonical_names_can_be_mapped():
    with pytest.raises(ParameterError, match="'when' is not a column the report knows"):
        ReportParams.build({"columns": {"when": "timestamp"}})
    with pytest.raises(ParameterError, match="must be mapped to a header"):
        ReportParams.build({"columns": {"datetime": 5}})


def test_without_env_or_is_internal_ip_no_row_is_excluded_for_them(events_of):
    rows = [{"datetime": "2024-01-01 10:00:00", "session_id": "s1"},
            {"datetime": "2024-01-01 10:01:00", "session_id": "s2"}]  # fmt: skip
    quality = events_of(rows, ["datetime", "session_id"]).report().data_quality
    assert quality["rows_analysed"] == 2
    assert quality["rows_excluded"]["non_production_env"] == 0
    assert quality["rows_excluded"]["internal_ip"] == 0


def _sessions(events) -> list[tuple[str, str]]:
    table = events.events.order_by("_seq").to_pyarrow()
    return list(zip(table["user_id"].to_pylist(), table["session_id"].to_pylist(), strict=True))


def test_sessions_are_derived_by_inactivity_at_the_exact_boundary(events_of):
    rows = [
        {"user_id": "u1", "timestamp": "2024-01-01 10:00:00"},
        {"user_id": "u1", "timestamp": "2024-01-01 10:30:00"},  # exactly 30 min: same session
        {"user_id": "u1", "timestamp": "2024-01-01 11:00:00.000001"},  # 30 min + 1 µs: new
        {"user_id": "u2", "timestamp": "2024-01-01 10:00:00"},
        {"user_id": "u1", "timestamp": "2024-01-01 09:00:00"},  # input order is not time order
    ]
    events = events_of(rows, ["user_id", "timestamp"], columns={"datetime": "timestamp"},
                       user_column="user_id")  # fmt: skip
    assert _sessions(events) == [
        ("u1", "u1#1"), ("u1", "u1#2"), ("u2", "u2#1"), ("u1", "u1#2"), ("u1", "u1#3"),
    ]  # fmt: skip
    report = events.report()
    assert report.data_quality["rows_excluded"]["missing_session_id"] == 0
    assert report.data["insights"]["events_per_session"]["sessions_total"] == 4


def test_the_session_timeout_is_a_parameter(events_of):
    rows = [{"user_id": "u1", "timestamp": "2024-01-01 10:00:00"},
            {"user_id": "u1", "timestamp": "2024-01-01 10:06:00"}]  # fmt: skip
    events = events_of(rows, ["user_id", "timestamp"], columns={"datetime": "timestamp"},
                       user_column="user_id", session_timeout_minutes=5)  # fmt: skip
    assert [s for _, s in _sessions(events)] == ["u1#1", "u1#2"]
    with pytest.raises(ParameterError, match="session_timeout_minutes"):
        ReportParams.build({"session_timeout_minutes": 0})


def test_short_sessions_use_derived_sessions(events_of):
    rows = [
        {"user_id": "u1", "timestamp": "2024-01-01 10:00:00", "page_type": "search_page"},
        {"user_id": "u1", "timestamp": "2024-01-01 10:00:03", "page_type": "apartment_view"},
        {"user_id": "u1", "timestamp": "2024-01-01 12:00:00", "page_type": "search_page"},
        {"user_id": "u1", "timestamp": "2024-01-01 12:00:09", "page_type": "search_page"},
    ]
    objectives = events_of(rows, list(rows[0]), columns={"datetime": "timestamp"},
                           user_column="user_id").objectives()  # fmt: skip
    assert objectives.short_sessions.sessions == 1
    assert objectives.short_sessions.started_on_search_page == 1
    assert objectives.short_sessions.ended_on_apartment_view == 1


def test_most_datetimes_unreadable_is_refused_with_examples_and_a_format(events_of):
    rows = [log_event("u1", "01/23/2021 00:00:44"), log_event("u2", "01/24/2021 13:00:00"),
            log_event("u3", "2021-01-24T13:00:00Z")]  # fmt: skip
    with pytest.raises(DataError) as caught:
        events_of(rows, LOG, **MAPPED).report()
    message = str(caught.value)
    assert "2 of 3 rows have a datetime" in message
    assert "'01/23/2021 00:00:44', '01/24/2021 13:00:00'" in message
    assert "datetime_format='%m/%d/%Y %H:%M:%S'" in message
    fixed = events_of(rows, LOG, **MAPPED, datetime_format="%m/%d/%Y %H:%M:%S").report()
    assert fixed.data_quality["rows_excluded"]["invalid_datetime"] == 1


def test_the_cli_refuses_such_a_log_and_keeps_the_last_good_report(tmp_path):
    good = write_csv(tmp_path / "good.csv", [log_event("u1", "2021-01-23T00:00:44Z")], LOG)
    bad = write_csv(tmp_path / "bad.csv", [log_event("u1", "01/23/2021 00:00:44")], LOG)
    out = tmp_path / "out"
    args = [sys.executable, "-m", "helpers", "run", "--json-only", "--out", str(out),
            "--set", "columns={datetime: timestamp, event_type: event}",
            "--set", "user_column=user_id"]  # fmt: skip
    first = subprocess.run([*args, "--source", str(good)], cwd=ROOT, capture_output=True,
                           text=True, check=False)  # fmt: skip
    assert first.returncode == 0, first.stderr
    before = (out / "report.json").read_text()
    second = subprocess.run([*args, "--source", str(bad)], cwd=ROOT, capture_output=True,
                            text=True, check=False)  # fmt: skip
    assert second.returncode == 2
    assert "Traceback" not in second.stderr
    assert "--set datetime_format='%m/%d/%Y %H:%M:%S'" in second.stderr
    assert (out / "report.json").read_text() == before
    third = subprocess.run([*args, "--source", str(bad), "--set",
                            "datetime_format=%m/%d/%Y %H:%M:%S"], cwd=ROOT,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert third.returncode == 0, third.stderr
    assert json.loads((out / "report.json").read_text())["period"]["first_event"] == (
        "2021-01-23T00:00:44.000Z"
    )


def test_the_same_mapping_through_a_params_file(tmp_path):
    path = tmp_path / "log.yaml"
    path.write_text("columns:\n  datetime: timestamp\n  event_type: event\nuser_column: user_id\n"
                    "datetime_format: '%m/%d/%Y'\n")  # fmt: skip
    params = load_params([path])
    assert params.columns == {"datetime": "timestamp", "event_type": "event"}
    assert params.datetime_format == "%m/%d/%Y"


def test_open_events_takes_the_model_too(tmp_path):
    path = write_csv(tmp_path / "log.csv", [log_event("u1", "2024-01-01T10:00:00Z")], LOG)
    events = open_events(str(path), **MAPPED)
    assert events.objectives().users_total == 1


def test_the_same_log_with_times_as_strftime_gives_the_same_report(tmp_path):
    from conftest import ACTIVITY_PARAMS, write_activity_log

    from helpers import build_report

    epoch = write_activity_log(tmp_path / "epoch.csv")
    rows = list(csv.DictReader(epoch.open()))
    for row in rows:  # the same instants, written as a US export would
        if row["time"].isdigit():
            moment = datetime.fromtimestamp(int(row["time"]) / 1000, UTC)
            row["time"] = f"{moment:%m/%d/%Y %H:%M:%S}.{moment.microsecond // 1000:03d}"
    us = write_csv(tmp_path / "us.csv", rows, list(rows[0]))
    by_epoch = build_report(ReportParams.build({"source": str(epoch), **ACTIVITY_PARAMS}))
    by_pattern = build_report(ReportParams.build(
        {"source": str(us), **ACTIVITY_PARAMS, "datetime_format": "%m/%d/%Y %H:%M:%S.%f"}
    ))  # fmt: skip
    assert by_epoch.data_quality["rows_excluded"]["invalid_datetime"] > 0
    for block in ("objectives", "data_quality", "period", "insights", "analyses"):
        assert by_pattern.data[block] == by_epoch.data[block], block
    sessions = by_epoch.data["insights"]["events_per_session"]["sessions_total"]
    assert 300 < sessions < by_epoch.data_quality["rows_analysed"]


def test_a_definition_naming_an_absent_column_is_refused_before_any_row_is_cleaned(events_of):
    # Every datetime here is unreadable: cleaning would refuse the file, but the definition
    # is checked first, against the headers alone.
    rows = [log_event("u1", "not a time"), log_event("u2", "nor this")]
    events = events_of(rows, LOG, **MAPPED, trends={"breakdown": "plattform"})
    with pytest.raises(ParameterError, match=r"trends breakdown: there is no column 'plattform'"
                       r".*platform"):  # fmt: skip
        events.report()
    events = events_of(rows, LOG, **MAPPED, funnels=[
        {"name": "f", "steps": [{"event_type": "a"}, {"page_type": "b"}]}])  # fmt: skip
    with pytest.raises(ParameterError, match=r"funnel 'f' step 2: there is no column 'page_type'"):
        events.report()
