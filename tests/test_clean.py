"""The spec's cleaning rules, each on a tiny table whose answer can be checked by hand."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import ibis
import pyarrow as pa
import pytest
from conftest import event
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.backend import with_json_fields
from helpers.clean import finite_price, utc_microseconds
from helpers.datetimes import _parse_datetime
from helpers.outputs import write_outputs


def _micros(*parts: int) -> int:
    moment = datetime(*parts, tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _parse(values: list[str | None]) -> list[int | None]:
    table = ibis.memtable(pa.table({"d": pa.array(values, pa.string())}))
    return table.select(us=utc_microseconds(table.d)).to_pyarrow().column("us").to_pylist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-01-23 11:57:09.286 UTC", _micros(2021, 1, 23, 11, 57, 9, 286_000)),
        ("2021-01-23 11:57:09.2 UTC", _micros(2021, 1, 23, 11, 57, 9, 200_000)),
        ("2021-01-23 11:57:09.123456789 UTC", _micros(2021, 1, 23, 11, 57, 9, 123_456)),
        ("2021-01-23 11:57:09 UTC", _micros(2021, 1, 23, 11, 57, 9)),
        ("2021-01-23T11:57:09Z", _micros(2021, 1, 23, 11, 57, 9)),
        ("2021-01-23T11:57:09.5z", _micros(2021, 1, 23, 11, 57, 9, 500_000)),
        ("2021-01-23T12:57:09+01:00", _micros(2021, 1, 23, 11, 57, 9)),
        ("2021-01-23T06:27:09-05:30", _micros(2021, 1, 23, 11, 57, 9)),
        ("2021-01-23T12:57:09+0100", _micros(2021, 1, 23, 11, 57, 9)),
        ("2021-01-23 11:57:09", _micros(2021, 1, 23, 11, 57, 9)),  # naive = UTC
        ("2021-01-23 11:57", _micros(2021, 1, 23, 11, 57)),
        ("2021-01-23", _micros(2021, 1, 23)),
        ("2021-01-24T00:30:00+01:00", _micros(2021, 1, 23, 23, 30)),  # the day before in UTC
        # Google Sheets serials: days since 1899-12-30, to the millisecond.
        ("44219", _micros(2021, 1, 23)),
        ("44219.5", _micros(2021, 1, 23, 12)),
        ("44219.49802083", _micros(2021, 1, 23, 11, 57, 9, 0) + 0),
    ],
)
def test_datetime_formats_are_converted_to_utc(text: str, expected: int) -> None:
    assert _parse([text]) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "garbage", "2021-02-30 10:00:00", "2021-01-23 25:00:00", "23/01/2021 11:57",
        "2021-01-23 11:57:09 CET", "", None, "2021-1-23 11:57:09", "0", "-44219", "1e5",
        "99999999",
    ],
)
def test_unparseable_datetimes_are_null(text: str | None) -> None:
    assert _parse([text]) == [None]


_USUAL_SHAPES = st.builds(
    "{}-{:02d}-{:02d}{}{:02d}:{:02d}:{:02d}{}{}".format,
    st.sampled_from(["0000", "0001", "1999", "2021", "2024", "9999"]),
    st.integers(0, 13), st.integers(0, 32), st.sampled_from(["T", " ", "t"]),
    st.integers(0, 25), st.integers(0, 60), st.integers(0, 61),
    st.one_of(st.just(""), st.text("0123456789", min_size=1, max_size=9).map(".{}".format)),
    st.sampled_from([" UTC", "Z", "z", " utc", "", "+01:00"]),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_USUAL_SHAPES, min_size=1, max_size=40))
def test_the_fast_path_reads_every_cell_as_the_general_parser_does(cells: list[str]) -> None:
    """Most cells (an export's own shape, ISO's T and Z, up to six digits of a second) are
    read by the engine's cast, the rest by the general parser: on every cell of those shapes,
    valid or not (the year 0, month 13, 24:00, a seventh digit), both give the same."""
    table = ibis.memtable(pa.table({"d": pa.array(cells, pa.string())}))
    both = table.select(
        fast=utc_microseconds(table.d), general=_parse_datetime(table.d, "duckdb")
    ).to_pyarrow()
    assert both.column("fast").to_pylist() == both.column("general").to_pylist()


@pytest.mark.parametrize(
    ("json_value", "expected"),
    [
        ('{"price": 1200}', 1200.0),
        ('{"price": 1200.5}', 1200.5),
        ('{"price": "1200"}', 1200.0),
        ('{"price": " 1200.5 "}', 1200.5),
        ('{"price": "1e3"}', 1000.0),
        ('{"price": "-5"}', -5.0),
        ('{"price": true}', None),
        ('{"price": null}', None),
        ('{"price": [1200]}', None),
        ('{"price": {"value": 1200}}', None),
        ('{"price": "1,200"}', None),
        ('{"price": "€1200"}', None),
        ('{"price": "NaN"}', None),
        ('{"price": "Infinity"}', None),
        ('{"price": "1e400"}', None),
        ('{"price": 1e400}', None),
        ('{"price": ""}', None),
    ],
)
def test_finite_price(json_value: str, expected: float | None) -> None:
    table = ibis.duckdb.connect().create_table("prices", pa.table({"p": [json_value]}))
    table, (node,) = with_json_fields(table, "p", ["$.price"])
    value = finite_price(node, "duckdb")
    assert table.select(v=value).to_pyarrow().column("v").to_pylist() == [expected]


def test_exclusion_reasons_follow_the_spec_order(report_of) -> None:
    rows = [
        event(session_id="ok"),
        # invalid datetime wins over every later reason
        event(datetime="not a date", session_id="", env="development", is_internal_ip="TRUE"),
        # missing session id wins over environment and internal ip
        event(session_id="  ", env="development", is_internal_ip="TRUE"),
        # development wins over internal ip
        event(session_id="dev", env="development", is_internal_ip="TRUE"),
        event(session_id="no-env", env=""),  # a null env is not production
        event(session_id="internal", is_internal_ip="TRUE"),
        event(session_id="ok"),  # an exact copy of the first row
    ]
    quality = report_of(rows).data_quality
    assert quality["rows_excluded"] == {
        "forgotten_user": 0,  # first of all, only with a forget file (tests/test_privacy.py)
        "invalid_json_line": 0,  # then, and only for JSON Lines (tests/test_jsonl.py)
        "invalid_datetime": 1,
        "missing_session_id": 1,
        "missing_user_id": 0,
        "non_production_env": 2,
        "internal_ip": 1,
        "duplicate_event": 1,
    }
    assert quality["rows_read"] == 7
    assert quality["rows_analysed"] == 1


def test_implausible_times_are_kept_and_flagged(report_of) -> None:
    rows = [
        event(session_id="old", datetime="1999-12-31 23:59:59 UTC"),
        event(session_id="future", datetime="2999-01-01 00:00:00 UTC"),
        event(session_id="now", datetime="2021-01-23 10:00:00 UTC"),
    ]
    report = report_of(rows)
    quality = report.data_quality
    assert (quality["datetime_before_2000"], quality["datetime_in_the_future"]) == (1, 1)
    assert report.objectives["users_total"] == 3
    assert any("before 2000" in note for note in quality["notes"])


def test_a_header_only_source_gives_a_report_of_zeros_with_a_note(report_of) -> None:
    report = report_of([])
    assert report.data_quality["rows_read"] == 0
    assert report.objectives["users_total"] == 0
    assert report.data_quality["notes"] == [
        "The source holds no events (a header only): every figure is zero."
    ]
    everything_excluded = report_of([event(env="development")]).data_quality["notes"]
    assert "Every row was excluded" in everything_excluded[0]


def test_missing_user_id_applies_only_when_the_user_column_is_not_session_id(report_of) -> None:
    rows = [
        event(session_id="s1", visitor_id=""),
        event(session_id="s2", visitor_id="", env="development"),  # user id checked first
        event(session_id="s3", visitor_id="v3"),
    ]
    by_visitor = report_of(rows, user_column="visitor_id").data_quality["rows_excluded"]
    assert by_visitor["missing_user_id"] == 2
    assert by_visitor["non_production_env"] == 0
    by_session = report_of(rows).data_quality["rows_excluded"]
    assert by_session["missing_user_id"] == 0
    assert by_session["non_production_env"] == 1


@pytest.mark.parametrize("value", ["true", "TRUE", "True", "1", "yes", "t", " T "])
def test_internal_ip_truthy_values_are_excluded(report_of, value: str) -> None:
    report = report_of([event(session_id="a", is_internal_ip=value), event(session_id="b")])
    assert report.data_quality["rows_excluded"]["internal_ip"] == 1
    assert report.objectives["users_total"] == 1


@pytest.mark.parametrize("value", ["false", "FALSE", "0", "no", "", "f", "NA"])
def test_other_internal_ip_values_are_kept(report_of, value: str) -> None:
    report = report_of([event(session_id="a", is_internal_ip=value)])
    assert report.data_quality["rows_excluded"]["internal_ip"] == 0
    assert report.objectives["users_total"] == 1


def test_internal_traffic_is_kept_when_not_excluded(report_of) -> None:
    rows = [event(session_id="a", is_internal_ip="TRUE"), event(session_id="b")]
    report = report_of(rows, exclude_internal_traffic=False)
    assert report.data_quality["rows_excluded"]["internal_ip"] == 0
    assert report.objectives["users_total"] == 2


def test_environments_compare_case_insensitively_and_can_be_widened(report_of) -> None:
    rows = [
        event(session_id="a", env="Production"),
        event(session_id="b", env=" PRODUCTION "),
        event(session_id="c", env="development"),
        event(session_id="d", env="staging"),
    ]
    assert report_of(rows).objectives["users_total"] == 2
    widened = report_of(rows, environments=["production", "Development"])
    assert widened.objectives["users_total"] == 3
    assert widened.data_quality["rows_excluded"]["non_production_env"] == 1


def test_duplicates_are_whole_rows_after_trimming(report_of) -> None:
    rows = [
        event(session_id="a"),
        event(session_id=" a ", om_source="   "),  # same cells once trimmed and blanked
        event(session_id="a", event_type="click_gallery"),  # differs in one column: kept
    ]
    report = report_of(rows)
    assert report.data_quality["rows_excluded"]["duplicate_event"] == 1
    assert report.data_quality["rows_analysed"] == 2


def test_extra_columns_count_towards_duplicates_and_are_kept_raw(report_of, tmp_path) -> None:
    rows = [event(note="x"), event(note="y"), event(note="x")]
    report = report_of(rows)
    assert report.data_quality["rows_excluded"]["duplicate_event"] == 1
    assert "note" in report.rejected.column_names


@pytest.mark.parametrize("params", ["{bad", "null", "[]", "", "   ", '"{}"', "42", '[{"page": 1}]'])
def test_params_that_are_not_objects_are_counted_and_the_row_is_analysed(
    report_of, params: str
) -> None:
    report = report_of([event(params=params)])
    assert report.data_quality["params_invalid"] == 1
    assert report.data_quality["rows_analysed"] == 1
    assert report.objectives["users_total"] == 1


def test_event_content_or_page_that_is_not_an_object_is_treated_as_empty(report_of) -> None:
    rows = [
        event(session_id="a", params='{"event_content": "1200", "page": ["R-1"]}'),
        event(session_id="b", params='{"event_content": [{"price": 1500}], "page": 7}'),
    ]
    report = report_of(rows)
    assert report.data_quality["params_invalid"] == 0
    assert report.data_quality["price_invalid"] == 0
    assert report.objectives["users_with_request_id"] == 0
    assert report.objectives["price_filter"]["users_above"] == 0


def test_rows_reconcile_and_every_excluded_row_is_written_with_its_reason(
    report_of, tmp_path
) -> None:
    rows = [
        event(session_id="a"),
        event(session_id="a"),
        event(session_id="b", datetime="yesterday"),
        event(session_id="", om_source="=HYPERLINK(\"http://x\")"),
        event(session_id="c", env="development"),
    ]
    report = report_of(rows)
    quality = report.data_quality
    assert quality["rows_read"] == quality["rows_analysed"] + sum(quality["rows_excluded"].values())

    paths = write_outputs(report, tmp_path / "out")
    with paths["rejected"].open(newline="", encoding="utf-8") as fh:
        written = list(csv.DictReader(fh))
    assert [(r["source_row"], r["reason"]) for r in written] == [
        ("3", "duplicate_event"),
        ("4", "invalid_datetime"),
        ("5", "missing_session_id"),
        ("6", "non_production_env"),
    ]
    # The raw row is kept; a cell a spreadsheet would run as a formula is neutralised.
    assert written[1]["datetime"] == "yesterday"
    assert written[2]["om_source"] == "'=HYPERLINK(\"http://x\")"


def test_extra_columns_are_kept_and_ignored_whatever_their_names(report_of, tmp_path) -> None:
    rows = [
        event(session_id="a", reason="x", source_row="7", _copy="1", _extra_0="z"),
        event(session_id="b", env="development", reason="y", source_row="8", _copy="", _extra_0=""),
    ]
    report = report_of(rows)
    assert report.objectives["users_total"] == 1
    assert report.data_quality["rows_excluded"]["non_production_env"] == 1
    assert report.rejected.column_names[:2] == ["source_row", "reason"]
    # The data's own "reason" and "source_row" stay beside ours, under their own names.
    names = report.rejected.column_names
    assert report.rejected.column(0).to_pylist() == [3]
    assert report.rejected.column(1).to_pylist() == ["non_production_env"]
    assert report.rejected.column(names.index("reason", 2)).to_pylist() == ["y"]
    assert report.rejected.column(names.index("source_row", 2)).to_pylist() == ["8"]
    written = write_outputs(report, tmp_path)["rejected"].read_text().splitlines()
    assert written[0].startswith('"source_row","reason","datetime"')
    assert written[0].count('"reason"') == 2


def test_input_columns_named_like_the_hidden_ones_are_data(report_of) -> None:
    # The hidden columns' names hold a space, which no normalised header has.
    rows = [event(_row="9", _line="9", _file="f", _invalid_line="x"),
            event(session_id="s2", datetime="no", _row="8", _line="8", _file="g",
                  _invalid_line="")]  # fmt: skip
    report = report_of(rows)
    assert report.data_quality["rows_analysed"] == 1
    assert report.rejected.column("source_row").to_pylist() == [3]
    assert report.rejected.column("_row").to_pylist() == ["8"]


def test_every_cell_is_trimmed_of_tabs_and_line_breaks_too(report_of) -> None:
    rows = [
        event(datetime=" 2021-01-23 10:00:00 UTC\t", page_type="\tsearch_page ",
              event_type=" click_book-now\r", device_class="\tphone\n"),
        event(datetime="2021-01-23 10:00:01 UTC", page_type="apartment_view\t"),
    ]  # fmt: skip
    report = report_of(rows)
    assert report.data_quality["rows_excluded"]["invalid_datetime"] == 0
    assert report.objectives["users_by_device_class"] == {"phone": 1}
    assert report.objectives["users_clicked_book_now"] == 1
    assert report.objectives["users_search_then_apartment_view"] == 1


def test_reasons_in_spec_order_around_missing_user_id(report_of) -> None:
    rows = [
        event(datetime="bad", visitor_id=""),  # invalid_datetime first
        event(session_id="", visitor_id=""),  # missing_session_id before missing_user_id
        event(session_id="c", visitor_id=""),  # missing_user_id before the environment
        event(session_id="d", env="development"),  # the two copies: environment, not duplicate
        event(session_id="d", env="development"),
    ]
    excluded = report_of(rows, user_column="visitor_id").data_quality["rows_excluded"]
    assert excluded["invalid_datetime"] == 1
    assert excluded["missing_session_id"] == 1
    assert excluded["missing_user_id"] == 1
    assert excluded["non_production_env"] == 2
    assert excluded["duplicate_event"] == 0


def test_duplicates_compare_cells_as_written_not_as_parsed(report_of) -> None:
    rows = [
        event(datetime="2021-01-23T10:00:00Z"),
        event(datetime="2021-01-23 10:00:00 UTC"),
        event(env="Production"),
        event(env="production"),
        event(env="production"),  # the only copy
    ]
    quality = report_of(rows).data_quality
    assert quality["rows_excluded"]["duplicate_event"] == 1
    assert quality["rows_analysed"] == 4
