"""The synthetic events: deterministic files of the requested size that look like the export."""

from __future__ import annotations

import csv
import gzip
import json
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import synthetic
from helpers.synthetic import COLUMNS, synthetic_events, write_synthetic_events

SUFFIXES = [".csv", ".csv.gz", ".parquet"]
BAD_PARAMS = {"", "null", "[]", '{"page": '}
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,3})? UTC$")
SAMPLE_ROWS = 50_000


def read_table(path) -> pa.Table:
    """Any output file as a table of strings, blank cells as empty strings."""
    path = str(path)
    if path.endswith(".parquet"):
        return pq.read_table(path)
    return pacsv.read_csv(
        path,
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in COLUMNS}, strings_can_be_null=False
        ),
    )


def timestamps_ms(datetimes: pd.Series) -> np.ndarray:
    iso = datetimes.str.removesuffix(" UTC").str.replace(" ", "T")
    return np.array(iso, dtype="datetime64[ms]").astype(np.int64)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of 1,000 rows, so that a few thousand rows already span several chunks."""
    monkeypatch.setattr(synthetic, "_CHUNK_ROWS", 1_000)


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> pd.DataFrame:
    """SAMPLE_ROWS events written to CSV and read back as plain strings."""
    path = write_synthetic_events(tmp_path_factory.mktemp("sample") / "events.csv", SAMPLE_ROWS)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def sessions(sample) -> pd.core.groupby.DataFrameGroupBy:
    return sample[sample.session_id != ""].groupby("session_id")


@pytest.fixture(scope="module")
def params(sample) -> pd.Series:
    """Parsed params of the rows whose params are not one of the planted bad values."""
    good = sample.params[~sample.params.isin(BAD_PARAMS)]
    return good.map(json.loads)


# --- determinism ------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_same_seed_gives_identical_bytes(tmp_path, small_chunks, suffix):
    first = write_synthetic_events(tmp_path / f"a{suffix}", 2_500, seed=3)
    second = write_synthetic_events(tmp_path / f"b{suffix}", 2_500, seed=3)
    assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_different_seeds_give_different_content(tmp_path, suffix):
    first = read_table(write_synthetic_events(tmp_path / f"a{suffix}", 500, seed=1))
    second = read_table(write_synthetic_events(tmp_path / f"b{suffix}", 500, seed=2))
    assert first.num_rows == second.num_rows == 500
    for name in ("datetime", "session_id", "visitor_id", "params"):
        assert first.column(name) != second.column(name), name


def test_gzip_holds_the_csv_bytes(tmp_path, small_chunks):
    plain = write_synthetic_events(tmp_path / "events.csv", 1_234, seed=5)
    packed = write_synthetic_events(tmp_path / "events.csv.gz", 1_234, seed=5)
    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()


def test_write_returns_the_path_and_leaves_no_partial_file(tmp_path):
    target = tmp_path / "nested" / "dir" / "events.parquet"
    assert write_synthetic_events(str(target), 10) == target
    assert sorted(p.name for p in target.parent.iterdir()) == ["events.parquet"]


# --- size and schema --------------------------------------------------------------------


@pytest.mark.parametrize("rows", [0, 1, 2, 7, 999, 1_000, 2_501])
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_files_hold_exactly_the_requested_rows(tmp_path, small_chunks, rows, suffix):
    table = read_table(write_synthetic_events(tmp_path / f"events{suffix}", rows, seed=1))
    assert table.num_rows == rows
    assert table.schema == pa.schema([(name, pa.string()) for name in COLUMNS])


def test_zero_rows_csv_is_only_the_header(tmp_path):
    path = write_synthetic_events(tmp_path / "events.csv", 0)
    assert path.read_text() == ",".join(COLUMNS) + "\n"


def test_zero_rows_parquet_keeps_the_schema(tmp_path):
    path = write_synthetic_events(tmp_path / "events.parquet", 0)
    assert pq.read_schema(path).names == list(COLUMNS)
    assert pq.read_table(path).num_rows == 0


@settings(max_examples=examples(40), deadline=None)
@given(rows=st.integers(0, 3_000), chunk_rows=st.integers(1, 1_200), seed=st.integers(0, 2**32))
def test_chunks_add_up_to_rows(rows, chunk_rows, seed):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(synthetic, "_CHUNK_ROWS", chunk_rows)
        chunks = list(synthetic_events(rows, seed))
    assert sum(chunk.num_rows for chunk in chunks) == rows
    assert all(chunk.num_rows <= chunk_rows for chunk in chunks)
    for chunk in chunks:
        assert chunk.column_names == list(COLUMNS)
        assert all(t == pa.string() for t in chunk.schema.types)
        assert all(column.null_count == 0 for column in chunk.columns)


@pytest.mark.parametrize("rows", [-1, 2.5, True, "10"])
def test_bad_row_counts_are_refused(tmp_path, rows):
    with pytest.raises((ValueError, TypeError)):
        list(synthetic_events(rows))
    with pytest.raises((ValueError, TypeError)):
        write_synthetic_events(tmp_path / "events.csv", rows)


@pytest.mark.parametrize("name", ["events.txt", "events.gz", "events.json", "events", "a.csv.zip"])
def test_unknown_suffix_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.csv, \.csv\.gz, \.parquet"):
        write_synthetic_events(tmp_path / name, 10)
    assert not list(tmp_path.iterdir())


# --- CSV text ---------------------------------------------------------------------------


def test_csv_and_parquet_hold_the_same_strings(tmp_path, small_chunks):
    from_csv = read_table(write_synthetic_events(tmp_path / "events.csv", 3_500, seed=9))
    from_parquet = read_table(write_synthetic_events(tmp_path / "events.parquet", 3_500, seed=9))
    assert from_csv.equals(from_parquet)


def test_stdlib_csv_reader_returns_the_strings_unchanged(tmp_path):
    path = write_synthetic_events(tmp_path / "events.csv", 5_000, seed=4)
    with open(path, newline="", encoding="utf-8") as f:
        header, *records = list(csv.reader(f))
    assert tuple(header) == COLUMNS
    expected = pa.concat_tables(synthetic_events(5_000, seed=4))
    assert records == [list(row.values()) for row in expected.to_pylist()]


def test_csv_quotes_only_where_needed(tmp_path):
    text = write_synthetic_events(tmp_path / "events.csv", 2_000, seed=2).read_text()
    # Blank cells are empty, not "", and plain values are bare, as in a Sheets export.
    assert ',"",' not in text
    assert ',"FALSE",' not in text and ",FALSE," in text
    assert ',"{""' in text


# --- what the data looks like -----------------------------------------------------------


def test_values_come_from_the_known_vocabularies(sample):
    assert set(sample.page_type) <= {
        "search_page", "apartment_view", "booking_page", "home_page", ""
    }  # fmt: skip
    assert set(sample.event_type) == {
        "page_view", "click_filter-price", "click_gallery", "click_book-now",
        "request_draft-created",
    }  # fmt: skip
    assert set(sample.env) == {"production", "development"}
    assert set(sample.is_internal_ip) == {"FALSE", "TRUE"}
    assert set(sample.device_class) == {"phone", "desktop", "tablet", "bot", "other", ""}
    campaigns = {"adwords", "facebook", "newsletter", "criteo", "bing"}
    assert campaigns < set(sample.om_source)
    assert {s.lower() for s in sample.om_source} == campaigns | {""}
    assert set(sample.page_type[sample.event_type == "click_filter-price"]) <= {"search_page", ""}


def test_datetimes_are_bigquery_text_on_one_day(sample):
    assert sample.datetime.str.match(DATETIME.pattern).all()
    assert sample.datetime.str.startswith("2021-01-23 ").all()
    # Trailing zeros of the fraction are dropped, so all lengths of fraction occur.
    fraction = sample.datetime.str.extract(r"\.(\d+) UTC$")[0].fillna("")
    assert set(fraction.str.len()) == {0, 1, 2, 3}
    assert not fraction.str.endswith("0").any()


def test_blank_shares(sample):
    assert 0.002 < (sample.session_id == "").mean() < 0.01
    assert 0.01 < (sample.visitor_id == "").mean() < 0.035
    assert 0.0005 < (sample.page_type == "").mean() < 0.01
    assert 0.003 < (sample.env == "development").mean() < 0.03
    assert 0.003 < (sample.is_internal_ip == "TRUE").mean() < 0.03


def test_device_shares(sample):
    share = sample.device_class.value_counts(normalize=True)
    assert 0.50 < share["phone"] < 0.60
    assert 0.32 < share["desktop"] < 0.42
    assert 0.03 < share["tablet"] < 0.07
    for rare in ("bot", "other", ""):
        assert 0.002 < share[rare] < 0.03


def test_export_order_and_duplicates(sample):
    ts = timestamps_ms(sample.datetime)
    out_of_order = (np.diff(ts) < 0).mean()
    assert 0.01 < out_of_order < 0.04
    duplicates = sample.duplicated().mean()
    assert 0.0005 < duplicates < 0.005


def test_sessions_look_like_sessions(sample, sessions):
    sizes = sessions.size()
    assert 4 < sizes.mean() < 8
    assert 0.05 < (sizes == 1).mean() < 0.2
    assert sizes.between(2, 15).mean() > 0.7
    # One device per session, sessions last minutes, some within five seconds.
    assert (sessions.device_class.nunique() == 1).all()
    times = sample.assign(ts=timestamps_ms(sample.datetime))[sample.session_id != ""]
    span_s = times.groupby("session_id").ts.agg(np.ptp)[sizes > 1] / 1000
    assert span_s.max() <= 31 * 60
    assert 0.05 < (span_s <= 5).mean() < 0.3
    assert span_s.median() > 30
    # Session ids are cookie-like 19 digit numbers.
    assert sizes.index.str.fullmatch(r"\d{19}").all()


def test_visitors_have_one_to_three_sessions(sample):
    known = sample[(sample.visitor_id != "") & (sample.session_id != "")]
    per_visitor = known.groupby("visitor_id").session_id.nunique()
    assert per_visitor.max() <= 3
    assert 0.1 < (per_visitor > 1).mean() < 0.5
    assert known.visitor_id.str.fullmatch(r"v-[0-9a-f]{12}").all()


def test_about_half_of_the_sessions_are_organic(sample, sessions):
    organic = sessions.om_source.agg(lambda s: (s == "").all())
    assert 0.44 < organic.mean() < 0.50
    # Some campaign sessions are only tagged from their second event on.
    ordered = sample.assign(ts=timestamps_ms(sample.datetime))[sample.session_id != ""]
    ordered = ordered.sort_values(["session_id", "ts"], kind="stable")
    first = ordered.groupby("session_id").om_source.first()
    tagged = ordered.groupby("session_id").om_source.agg(lambda s: (s != "").any())
    assert ((first == "") & tagged).sum() > 20


def test_params_are_json_objects_except_the_planted_bad_ones(sample, params):
    bad = sample.params.isin(BAD_PARAMS)
    assert 0.0005 < bad.mean() < 0.005
    assert set(sample.params[bad]) == BAD_PARAMS
    assert params.map(lambda p: isinstance(p, dict) and "page" in p).all()


def test_price_filter_values(sample, params):
    is_filter = sample.event_type.loc[params.index] == "click_filter-price"
    content = params[is_filter].map(lambda p: p["event_content"])
    prices = content.map(lambda c: c["price"])
    kinds = prices.map(lambda p: type(p).__name__).value_counts(normalize=True)
    assert kinds["int"] > 0.75
    assert 0.08 < kinds["str"] < 0.25
    numeric = pd.to_numeric(
        prices.map(lambda p: p if isinstance(p, int | str) and not isinstance(p, bool) else None),
        errors="coerce",
    )
    invalid = numeric.isna().mean()
    assert 0.003 < invalid < 0.03
    assert numeric.dropna().between(400, 3001).all()
    assert 0.08 < (numeric == 1200).mean() < 0.25
    assert prices.map(lambda p: isinstance(p, str) and "." in p).any()

    currencies = content.map(lambda c: c.get("currency", "<missing>")).value_counts(normalize=True)
    assert currencies["EUR"] > 0.8
    assert {"eur", "GBP", "USD", "<missing>"} <= set(currencies.index)
    cities = params[is_filter].map(lambda p: p["page"]["city"])
    assert "berlin" in set(cities)


def test_booking_page_rows_carry_request_ids(sample, params):
    page = sample.page_type.loc[params.index]
    event = sample.event_type.loc[params.index]
    booking = params[(page == "booking_page") | (event == "request_draft-created")]
    assert len(booking) > 200
    request_ids = booking.map(lambda p: p["page"].get("request_id", "<missing>"))
    assert "<missing>" not in set(request_ids)
    as_text = request_ids.map(str)
    assert as_text.str.fullmatch(r"R-\d{7}").mean() > 0.85
    assert request_ids.map(lambda r: isinstance(r, int)).any()
    assert (request_ids == "").any()
    assert (event == "request_draft-created").sum() > 50


def test_other_events_carry_small_plausible_objects(sample, params):
    event = sample.event_type.loc[params.index]
    page = sample.page_type.loc[params.index]
    views = params[(event == "page_view") & (page == "apartment_view")]
    assert views.map(lambda p: set(p["page"]) == {"city", "apartment_id"}).all()
    gallery = params[event == "click_gallery"]
    assert gallery.map(lambda p: isinstance(p["event_content"]["image_index"], int)).all()


def test_chunks_follow_each_other_in_time(small_chunks):
    table = pa.concat_tables(synthetic_events(5_000, seed=11)).to_pandas()
    ts = timestamps_ms(table.datetime)
    assert (np.diff(ts) < 0).mean() < 0.05
    # Each 1,000-row chunk covers its own part of the day.
    chunk_medians = [np.median(ts[i : i + 1_000]) for i in range(0, 5_000, 1_000)]
    assert chunk_medians == sorted(chunk_medians)


# --- A/B test ---------------------------------------------------------------------------

AB_GROUPS = {'{"search_ranking": "A"}': "A", '{"search_ranking": "B"}': "B"}


def test_test_groups_is_the_last_column():
    assert COLUMNS[-1] == "test_groups"


def test_test_groups_split_visitors_about_evenly(sample):
    assert set(sample.test_groups) == {"", *AB_GROUPS}
    assert 0.005 < (sample.test_groups == "").mean() < 0.02
    assigned = sample[sample.test_groups != ""]
    assert all(json.loads(cell) == {"search_ranking": g} for cell, g in AB_GROUPS.items())
    share_b = (assigned.test_groups.map(AB_GROUPS) == "B").mean()
    assert 0.45 < share_b < 0.55


def test_a_session_carries_one_group_and_a_few_visitors_two(sample):
    assigned = sample[(sample.test_groups != "") & (sample.session_id != "")]
    assert (assigned.groupby("session_id").test_groups.nunique() == 1).all()
    known = assigned[assigned.visitor_id != ""]
    groups = known.groupby("visitor_id").test_groups.nunique()
    assert 0.002 < (groups > 1).mean() < 0.012
    # Only visitors with several sessions can carry conflicting groups.
    sessions = known.groupby("visitor_id").session_id.nunique()
    assert (sessions[groups > 1] > 1).all()


def test_group_b_clicks_book_now_more_often(sample):
    rows = sample[(sample.test_groups != "") & (sample.session_id != "")]
    group = rows.groupby("session_id").test_groups.first().map(AB_GROUPS)
    clicked = (
        sample[sample.session_id != ""]
        .groupby("session_id")
        .event_type.agg(lambda e: (e == "click_book-now").any())
    )
    rate = clicked.loc[group.index].groupby(group).mean()
    assert 1.1 < rate["B"] / rate["A"] < 1.5


def test_the_planted_effect_changes_only_group_b(monkeypatch):
    """Group A walks the original transitions: without the lift, only group B's rows and the
    test_groups column can change."""
    with_lift = pa.concat_tables(synthetic_events(5_000, seed=8)).to_pandas()
    monkeypatch.setattr(
        synthetic, "_TRANSITIONS_CDF", np.stack([synthetic._TRANSITIONS_CDF[0]] * 2)
    )
    without = pa.concat_tables(synthetic_events(5_000, seed=8)).to_pandas()
    in_a = with_lift.test_groups.map(AB_GROUPS) == "A"
    assert with_lift[in_a].equals(without[in_a])
    assert not with_lift.equals(without)


# --- several days -----------------------------------------------------------------------

WEEKS_ROWS = 60_000


@pytest.fixture(scope="module")
def weeks() -> pd.DataFrame:
    """Four weeks of events, with the day of each row."""
    frame = pa.concat_tables(synthetic_events(WEEKS_ROWS, seed=3, days=28)).to_pandas()
    frame["day"] = frame.datetime.str[:10]
    return frame


def test_one_day_is_the_data_of_before(tmp_path):
    default = write_synthetic_events(tmp_path / "a.csv", 3_000, seed=5)
    one_day = write_synthetic_events(tmp_path / "b.csv", 3_000, seed=5, days=1)
    assert default.read_bytes() == one_day.read_bytes()


@pytest.mark.parametrize("rows", [0, 1, 27, 28, 29, 2_501])
def test_several_days_hold_exactly_the_requested_rows(small_chunks, rows):
    assert sum(t.num_rows for t in synthetic_events(rows, days=28)) == rows


def test_days_must_be_positive(tmp_path):
    with pytest.raises(ValueError, match="days must be >= 1"):
        write_synthetic_events(tmp_path / "x.csv", 10, days=0)


def test_several_days_are_deterministic_and_span_the_days(weeks):
    again = pa.concat_tables(synthetic_events(WEEKS_ROWS, seed=3, days=28)).to_pandas()
    assert again.equals(weeks.drop(columns="day"))
    days = sorted(weeks.day.unique())
    assert days[0] == "2021-01-04" and days[-1] == "2021-01-31" and len(days) == 28
    assert weeks.datetime.str.fullmatch(DATETIME.pattern).all()
    # Days follow each other in the export: each day's rows in one run.
    assert (weeks.day.to_numpy()[1:] >= weeks.day.to_numpy()[:-1]).all()


def test_weekends_are_busier(weeks):
    per_day = weeks.groupby("day").size()
    weekday = pd.to_datetime(per_day.index).dayofweek
    assert per_day[weekday >= 5].mean() > 1.1 * per_day[weekday < 5].mean()


def test_visitors_come_back_on_later_days_with_new_sessions(weeks):
    seen = weeks[(weeks.visitor_id != "") & (weeks.session_id != "")]
    days_of = seen.groupby("visitor_id").day.nunique()
    share_back = (days_of > 1).mean()
    assert 0.15 < share_back < 0.6  # many come back, most never do
    assert days_of.max() >= 4
    # A session belongs to one day and one visitor: coming back means a new session id.
    per_session = seen.groupby("session_id").agg(
        days=("day", "nunique"), v=("visitor_id", "nunique")
    )
    assert (per_session.days == 1).all() and (per_session.v == 1).all()
    # A session id starts with the Unix second of its session's start, on its own day (a
    # session's first rows may have lost their id or visitor: no later than its first row kept).
    first = seen.groupby("session_id").datetime.min().str.removesuffix(" UTC")
    started = pd.to_datetime(first, format="ISO8601").dt.as_unit("s").astype("int64")
    lag = started - started.index.str[:10].astype(int)
    assert (lag >= 0).all() and (lag == 0).mean() > 0.95


def test_a_visitor_keeps_their_group_on_every_day(weeks):
    rows = weeks[(weeks.visitor_id != "") & (weeks.test_groups != "")]
    groups = rows.groupby("visitor_id").test_groups.nunique()
    assert (groups == 1).mean() > 0.99


def test_the_planted_change_lowers_book_now_from_the_middle_day(weeks):
    sessions = weeks[weeks.session_id != ""].groupby("session_id")
    clicked = sessions.event_type.agg(lambda e: (e == "click_book-now").any())
    after = sessions.day.first() >= "2021-01-18"
    before_rate, after_rate = clicked[~after].mean(), clicked[after].mean()
    assert after_rate < 0.8 * before_rate


def test_the_bundled_sample_is_four_weeks_made_by_the_generator(tmp_path):
    from helpers.params import SAMPLE_SOURCE

    made = write_synthetic_events(tmp_path / "sample.csv.gz", 100_000, seed=0, days=28)
    assert made.read_bytes() == SAMPLE_SOURCE.read_bytes()
    assert SAMPLE_SOURCE.stat().st_size < 2_000_000
