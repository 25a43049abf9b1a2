"""datetime_format (analyses.md section 1) and the ISO offsets: each cell checked by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import pyarrow as pa
import pytest

from helpers.datetimes import check_datetime_format, suggested_format, utc_microseconds
from helpers.errors import ParameterError
from helpers.params import ReportParams, parse_override


def _micros(*parts: int) -> int:
    moment = datetime(*parts, tzinfo=UTC)
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _parse(values: list[str | None], datetime_format: str | None) -> list[int | None]:
    table = ibis.memtable(pa.table({"d": pa.array(values, pa.string())}))
    read = table.select(us=utc_microseconds(table.d, datetime_format))
    return read.to_pyarrow().column("us").to_pylist()


#: (datetime_format, cell, microseconds or None): also run on PostgreSQL (test_postgres).
FORMAT_CASES = [
        ("epoch_s", "1611360044", _micros(2021, 1, 23, 0, 0, 44)),
        ("epoch_s", "1611360044.5", _micros(2021, 1, 23, 0, 0, 44, 500_000)),
        ("epoch_s", "1611360044.1234569", _micros(2021, 1, 23, 0, 0, 44, 123_456)),
        ("epoch_s", "+1611360044", _micros(2021, 1, 23, 0, 0, 44)),
        ("epoch_s", "-1.5", -1_500_000),
        ("epoch_s", "0", 0),
        ("epoch_s", "253402300799", _micros(9999, 12, 31, 23, 59, 59)),
        ("epoch_s", "253402300800", None),  # year 10000
        ("epoch_s", "1e9", None),
        ("epoch_s", "1611360044.", None),
        ("epoch_s", "16113600440000000000000", None),
        ("epoch_s", "2021-01-23", None),
        ("epoch_ms", "1611360044123", _micros(2021, 1, 23, 0, 0, 44, 123_000)),
        ("epoch_ms", "1611360044123.456", _micros(2021, 1, 23, 0, 0, 44, 123_456)),
        ("epoch_us", "1611360044123456", _micros(2021, 1, 23, 0, 0, 44, 123_456)),
        ("epoch_us", "1611360044123456.9", _micros(2021, 1, 23, 0, 0, 44, 123_456)),
        ("%m/%d/%Y %H:%M:%S", "01/23/2021 00:00:44", _micros(2021, 1, 23, 0, 0, 44)),
        ("%m/%d/%Y %H:%M:%S", "1/3/2021 7:05:09", _micros(2021, 1, 3, 7, 5, 9)),
        ("%m/%d/%Y %H:%M:%S", "02/30/2021 00:00:00", None),  # no such day
        ("%m/%d/%Y %H:%M:%S", "13/01/2021 00:00:00", None),
        ("%m/%d/%Y %H:%M:%S", "01/23/2021", None),  # must match whole
        ("%d.%m.%Y", "23.01.2021", _micros(2021, 1, 23)),
        ("%d.%m.%y %H:%M", "23.01.21 13:05", _micros(2021, 1, 23, 13, 5)),
        ("%d.%m.%y", "23.01.69", _micros(1969, 1, 23)),
        ("%Y-%m-%dT%H:%M:%S.%f%z", "2021-01-23T12:00:00.25+01:00",
         _micros(2021, 1, 23, 11, 0, 0, 250_000)),
        ("%Y-%m-%d %H:%M:%S%z", "2021-01-23 12:00:00Z", _micros(2021, 1, 23, 12)),
        ("%Y-%m-%d %H:%M:%S%z", "2021-01-23 12:00:00+25:00", None),
        ("%d %b %Y %I:%M %p", "23 Jan 2021 01:05 PM", _micros(2021, 1, 23, 13, 5)),
        ("%d %b %Y %I:%M %p", "23 jan 2021 12:05 am", _micros(2021, 1, 23, 0, 5)),
        ("%B %d, %Y", "January 23, 2021", _micros(2021, 1, 23)),
        ("%H:%M", "10:30", _micros(1900, 1, 1, 10, 30)),
        ("%Y%m%d%H%M%S", "20210123000044", _micros(2021, 1, 23, 0, 0, 44)),
        ("%Y%%%m", "2021%01", _micros(2021, 1, 1)),
]


@pytest.mark.parametrize(("datetime_format", "text", "expected"), FORMAT_CASES)
def test_datetime_format_reads_each_form_exactly(datetime_format, text, expected):
    assert _parse([text, None, ""], datetime_format) == [expected, None, None]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-01-23+05:30", _micros(2021, 1, 22, 18, 30)),  # midnight at its offset
        ("2021-01-23-01", _micros(2021, 1, 23, 1)),
        ("2021-01-23Z", _micros(2021, 1, 23)),
        ("2021-01-23T00:00:00+23:59", _micros(2021, 1, 22, 0, 1)),
        ("2021-01-23T00:00:00+25:00", None),
        ("2021-01-23T00:00:00+99:99", None),
        ("2021-01-23T00:00:00-00:60", None),
        ("2021-01-23T00:00:00+14:75", None),
        ("2021-01-23+24", None),
        ("9999-12-31T23:59:59-01:00", None),  # the year 10000 in UTC
        ("9999-12-31T23:59:59+01:00", _micros(9999, 12, 31, 22, 59, 59)),
        ("0001-01-01T00:30:00+01:00", None),  # the year 0 in UTC
        ("0000-01-01", None),
        ("0001-01-01", _micros(1, 1, 1)),
    ],
)
def test_iso_offsets_are_applied_or_refused_never_taken_as_a_time(text, expected):
    assert _parse([text], None) == [expected]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("%Q", "%Q is not supported"),
        ("%Y %Y", "gives the year twice"),
        ("%m %b", "gives the month twice"),
        ("%I:%M", "needs %p"),
        ("%H %I %p", "gives the hour twice"),
    ],
)
def test_a_datetime_format_that_cannot_be_read_is_a_parameter_error(value, message):
    with pytest.raises(ValueError, match=message):
        check_datetime_format(value)
    with pytest.raises(ParameterError, match="datetime_format"):
        ReportParams.build({"datetime_format": value})


def test_a_percent_value_needs_no_yaml_quotes_but_a_broken_mapping_is_refused():
    assert parse_override("datetime_format=%d.%m.%Y %H:%M") == (
        "datetime_format", "%d.%m.%Y %H:%M",
    )  # fmt: skip
    with pytest.raises(ParameterError, match="not valid YAML"):
        parse_override("columns={datetime: timestamp")


@pytest.mark.parametrize(
    ("examples", "expected"),
    [
        (["1611360044"], "epoch_s"),
        (["1611360044123"], "epoch_ms"),
        (["1611360044123456"], "epoch_us"),
        (["23/01/2021 10:00"], "%d/%m/%Y %H:%M"),
        (["01/23/2021", "02/01/2021"], "%m/%d/%Y"),
        (["23.01.2021 10:00:01"], "%d.%m.%Y %H:%M:%S"),
        (["yesterday"], None),
        ([], None),
    ],
)
def test_the_suggested_format_follows_the_cells_shape(examples, expected):
    assert suggested_format(examples) == expected
    if expected is not None:
        check_datetime_format(expected)
