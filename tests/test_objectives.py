"""Every objective of the spec on tiny tables whose answers can be checked by hand."""

from __future__ import annotations

import json

import pytest
from conftest import event

from helpers.outputs import write_outputs


def at(seconds: float, day: str = "2021-01-23") -> str:
    """A timestamp ``seconds`` after 10:00:00 UTC, written as the sheet export writes it."""
    whole, fraction = divmod(round(seconds * 1000), 1000)
    hours, rest = divmod(10 * 3600 + whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{day} {hours:02d}:{minutes:02d}:{secs:02d}.{fraction:03d} UTC"


# -- journeys ---------------------------------------------------------------------------------


def test_ties_in_datetime_keep_input_order(objectives_of) -> None:
    same = at(0)
    search_first = [
        event(session_id="a", datetime=same, page_type="search_page"),
        event(session_id="a", datetime=same, page_type="apartment_view"),
    ]
    apartment_first = list(reversed(search_first))
    assert objectives_of(search_first)["users_search_then_apartment_view"] == 1
    assert objectives_of(apartment_first)["users_search_then_apartment_view"] == 0


def test_journeys_follow_datetime_not_input_order(objectives_of) -> None:
    rows = [
        event(session_id="a", datetime=at(3), page_type="apartment_view"),
        event(session_id="a", datetime=at(1), page_type="search_page"),
    ]
    assert objectives_of(rows)["users_search_then_apartment_view"] == 1


def test_a_null_page_type_on_the_first_event_is_skipped(objectives_of) -> None:
    rows = [
        event(session_id="a", datetime=at(0), page_type="", event_type="request_draft-created"),
        event(session_id="a", datetime=at(1), page_type="search_page"),
        event(session_id="a", datetime=at(2), page_type="apartment_view"),
        event(session_id="a", datetime=at(3), page_type=""),
    ]
    o = objectives_of(rows)
    assert o["users_search_then_apartment_view"] == 1
    assert o["users_search_start_request_draft"] == 1
    assert o["short_sessions"]["started_on_search_page"] == 1
    assert o["short_sessions"]["ended_on_apartment_view"] == 1


# -- 1 and 2: first-touch breakdowns ------------------------------------------------------------


def test_users_by_device_class_uses_the_first_non_null_device(objectives_of) -> None:
    rows = [
        event(session_id="a", datetime=at(0), device_class=""),
        event(session_id="a", datetime=at(1), device_class="phone"),
        event(session_id="a", datetime=at(2), device_class="desktop"),
        event(session_id="b", datetime=at(0), device_class="desktop"),
        event(session_id="c", datetime=at(0), device_class=""),
    ]
    o = objectives_of(rows)
    assert o["users_by_device_class"] == {"desktop": 1, "phone": 1, "unknown": 1}
    assert sum(o["users_by_device_class"].values()) == o["users_total"] == 3


def test_users_by_first_om_source_when_the_source_appears_only_later(objectives_of) -> None:
    rows = [
        event(session_id="a", datetime=at(0), om_source=""),
        event(session_id="a", datetime=at(5), om_source="AdWords"),
        event(session_id="a", datetime=at(9), om_source="facebook"),
        event(session_id="b", datetime=at(0), om_source="adwords"),
        event(session_id="c", datetime=at(0), om_source="   "),
    ]
    o = objectives_of(rows)
    # Values are kept as written, case included.
    assert o["users_by_first_om_source"] == {"AdWords": 1, "adwords": 1, "no_om_source": 1}
    assert sum(o["users_by_first_om_source"].values()) == o["users_total"]


# -- 3: short sessions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last", "short"),
    [(0, True), (4.999, True), (5, True), (5.001, False), (60, False)],
)
def test_short_session_boundary(objectives_of, last: float, short: bool) -> None:
    rows = [event(datetime=at(0))]
    if last:
        rows.append(event(datetime=at(last), event_type="click_gallery"))
    assert objectives_of(rows)["short_sessions"]["sessions"] == int(short)


def test_a_one_event_session_lasts_zero_seconds(objectives_of) -> None:
    o = objectives_of([event(session_id="solo", page_type="apartment_view")])
    assert o["short_sessions"] == {
        "max_duration_seconds": 5,
        "users": 1,
        "sessions": 1,
        "started_on_search_page": 0,
        "ended_on_apartment_view": 1,
    }


def test_a_session_across_midnight(objectives_of) -> None:
    rows = [
        event(session_id="night", datetime="2021-01-23 23:59:58.500 UTC"),
        event(session_id="night", datetime="2021-01-24 00:00:02.500 UTC",
              page_type="apartment_view"),
        event(session_id="long", datetime="2021-01-23 23:59:58 UTC"),
        event(session_id="long", datetime="2021-01-24 00:00:04 UTC"),
    ]
    o = objectives_of(rows)["short_sessions"]
    assert (o["sessions"], o["ended_on_apartment_view"]) == (1, 1)


def test_short_session_threshold_is_a_parameter(objectives_of) -> None:
    rows = [event(datetime=at(0)), event(datetime=at(8), event_type="click_gallery")]
    assert objectives_of(rows)["short_sessions"]["sessions"] == 0
    longer = objectives_of(rows, short_session_seconds=10)["short_sessions"]
    assert (longer["sessions"], longer["max_duration_seconds"]) == (1, 10)


def test_short_session_users_are_counted_once(objectives_of) -> None:
    rows = [
        event(session_id="s1", visitor_id="v1", datetime=at(0)),
        event(session_id="s2", visitor_id="v1", datetime=at(100)),
        event(session_id="s3", visitor_id="v2", datetime=at(0)),
        event(session_id="s3", visitor_id="v2", datetime=at(30)),
    ]
    o = objectives_of(rows, user_column="visitor_id")["short_sessions"]
    assert (o["users"], o["sessions"]) == (1, 2)


# -- 4, 5, 6: journeys to an apartment, book now, request drafts ---------------------------------


def test_users_search_then_apartment_view(objectives_of) -> None:
    rows = [
        # starts on search, views an apartment later: counted
        event(session_id="a", datetime=at(0), page_type="search_page"),
        event(session_id="a", datetime=at(9), page_type="apartment_view"),
        # starts on an apartment, searches later: not counted
        event(session_id="b", datetime=at(0), page_type="apartment_view"),
        event(session_id="b", datetime=at(9), page_type="search_page"),
        # searches only: not counted
        event(session_id="c", datetime=at(0), page_type="search_page"),
    ]
    assert objectives_of(rows)["users_search_then_apartment_view"] == 1


def test_users_clicked_book_now(objectives_of) -> None:
    rows = [
        event(session_id="a", event_type="click_book-now"),
        event(session_id="a", datetime=at(1), event_type="click_book-now"),
        event(session_id="b", event_type="Click_Book-Now"),  # event types are exact
        event(session_id="c", event_type="page_view"),
    ]
    assert objectives_of(rows)["users_clicked_book_now"] == 1


def test_users_search_start_request_draft(objectives_of) -> None:
    rows = [
        event(session_id="a", datetime=at(0), page_type="search_page"),
        event(session_id="a", datetime=at(5), page_type="booking_page",
              event_type="request_draft-created"),
        event(session_id="b", datetime=at(0), page_type="home_page"),
        event(session_id="b", datetime=at(5), page_type="booking_page",
              event_type="request_draft-created"),
        event(session_id="c", datetime=at(0), page_type="search_page"),
    ]
    assert objectives_of(rows)["users_search_start_request_draft"] == 1


# -- 7: price filter ------------------------------------------------------------------------------


def price(value, currency="EUR", **cells):
    content = {"price": value} if currency is None else {"price": value, "currency": currency}
    return event(params={"event_content": content}, **cells)


def test_price_filter_compares_numbers_and_numeric_strings(objectives_of) -> None:
    rows = [
        price(1300, session_id="above"),
        price("1199.99", session_id="below"),
        price(" 1200 ", session_id="at"),
        price(1200.0, session_id="at-float"),
    ]
    pf = objectives_of(rows)["price_filter"]
    assert (pf["users_above"], pf["users_below"], pf["users_at_threshold"]) == (1, 1, 2)


def test_price_threshold_is_a_parameter(objectives_of) -> None:
    rows = [price(1300, session_id="a"), price(1500, session_id="b")]
    pf = objectives_of(rows, price_threshold=1500)["price_filter"]
    assert (pf["threshold"], pf["users_below"], pf["users_at_threshold"]) == (1500, 1, 1)


def test_a_user_can_be_above_and_below(objectives_of) -> None:
    rows = [price(100, datetime=at(0)), price(2000, datetime=at(1))]
    pf = objectives_of(rows)["price_filter"]
    assert (pf["users_above"], pf["users_below"]) == (1, 1)


@pytest.mark.parametrize("bad", [True, None, [1300], {"v": 1300}, "cheap", "1,300", "€1300", "NaN"])
def test_invalid_prices_are_counted_and_ignored(report_of, bad) -> None:
    report = report_of([price(bad, session_id="a"), event(session_id="b")])
    pf = report.objectives["price_filter"]
    assert report.data_quality["price_invalid"] == 1
    assert pf["users_above"] + pf["users_below"] + pf["users_at_threshold"] == 0


def test_an_absent_price_is_not_invalid(report_of) -> None:
    rows = [event(params={"event_content": {"currency": "EUR"}}), event(params={"page": {}})]
    assert report_of(rows).data_quality["price_invalid"] == 0


def test_currency_rules_ignore_whole_sessions(objectives_of) -> None:
    rows = [
        price(1300, currency=" eur ", session_id="lower-case"),  # EUR, trimmed, any case
        price(1300, currency="EUR", session_id="mixed", datetime=at(0)),
        price(900, currency="GBP", session_id="mixed", datetime=at(1)),  # ignores the session
        price(1300, currency=None, session_id="missing"),  # missing currency is not EUR
        price(1300, currency=978, session_id="numeric"),  # non-string currency is not EUR
        # an invalid price is no price-filter event, so its currency does not count
        price("n/a", currency="GBP", session_id="invalid-gbp", datetime=at(0)),
        price(800, currency="EUR", session_id="invalid-gbp", datetime=at(1)),
    ]
    pf = objectives_of(rows)["price_filter"]
    assert pf["sessions_ignored_other_currency"] == 3
    assert (pf["users_above"], pf["users_below"], pf["users_at_threshold"]) == (1, 1, 0)


def test_price_currency_is_a_parameter(objectives_of) -> None:
    rows = [price(1300, currency="GBP", session_id="a"), price(1300, session_id="b")]
    pf = objectives_of(rows, price_currency="gbp")["price_filter"]
    assert (pf["users_above"], pf["sessions_ignored_other_currency"], pf["currency"]) == (
        1, 1, "gbp",
    )


# -- 8: request ids -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_id", "counted"),
    [("R-1", True), (12345, True), (0, True), ("", False), ("   ", False), (None, False),
     (True, False), ([], False), ({"id": 1}, False)],
)
def test_request_id_values(objectives_of, request_id, counted: bool) -> None:
    rows = [event(params={"page": {"request_id": request_id}})]
    assert objectives_of(rows)["users_with_request_id"] == int(counted)


def test_a_user_with_several_request_ids_is_counted_once(objectives_of) -> None:
    rows = [
        event(datetime=at(0), params={"page": {"request_id": "R-1"}}),
        event(datetime=at(1), params={"page": {"request_id": "R-2"}}),
        event(session_id="other", params={"page": {}}),
    ]
    assert objectives_of(rows)["users_with_request_id"] == 1


# -- users as visitors ----------------------------------------------------------------------------


def test_visitor_users_span_sessions_and_missing_visitors_are_excluded(report_of) -> None:
    rows = [
        event(session_id="s1", visitor_id="v1", datetime=at(0), page_type="search_page"),
        event(session_id="s2", visitor_id="v1", datetime=at(600), page_type="apartment_view",
              event_type="click_book-now"),
        event(session_id="s3", visitor_id="", datetime=at(0), event_type="click_book-now"),
    ]
    by_visitor = report_of(rows, user_column="visitor_id")
    assert by_visitor.objectives["users_total"] == 1
    assert by_visitor.objectives["users_search_then_apartment_view"] == 1
    assert by_visitor.objectives["users_clicked_book_now"] == 1
    assert by_visitor.data_quality["rows_excluded"]["missing_user_id"] == 1

    by_session = report_of(rows)
    assert by_session.objectives["users_total"] == 3
    assert by_session.objectives["users_search_then_apartment_view"] == 0
    assert by_session.objectives["users_clicked_book_now"] == 2


def test_an_empty_analysis_reports_zeros(report_of) -> None:
    report = report_of([event(env="development")])
    o = report.objectives
    assert o["users_total"] == 0
    assert o["users_by_device_class"] == {}
    assert o["short_sessions"]["sessions"] == 0
    assert report.data["period"] == {"first_event": None, "last_event": None}


def test_journeys_follow_utc_whatever_zone_each_cell_was_written_in(objectives_of) -> None:
    rows = [
        # 11:00:00+01:00 is 10:00:00 UTC: the search comes first, the view 3 s later.
        event(datetime="2021-01-23T11:00:00+01:00", page_type="search_page"),
        event(datetime="2021-01-23 10:00:03 UTC", page_type="apartment_view"),
    ]
    objectives = objectives_of(rows)
    assert objectives["users_search_then_apartment_view"] == 1
    assert objectives["short_sessions"]["sessions"] == 1
    assert objectives["short_sessions"]["ended_on_apartment_view"] == 1


def test_another_currency_ignores_the_session_not_the_user(objectives_of) -> None:
    rows = [
        price(1300, currency="GBP", session_id="s1", visitor_id="v1"),
        price(1300, session_id="s2", visitor_id="v1", datetime=at(60)),
    ]
    result = objectives_of(rows, user_column="visitor_id")["price_filter"]
    assert result["users_above"] == 1
    assert result["sessions_ignored_other_currency"] == 1


def test_breakdowns_are_ordered_by_users_then_by_value(report_of, tmp_path) -> None:
    rows = [
        event(session_id="a", device_class="desktop"),
        event(session_id="b", device_class="phone"),
        event(session_id="c", device_class="phone"),
        event(session_id="d", device_class=""),
    ]
    report = report_of(rows)
    expected = [("phone", 2), ("desktop", 1), ("unknown", 1)]
    assert list(report.objectives["users_by_device_class"].items()) == expected
    written = json.loads(write_outputs(report, tmp_path)["report"].read_text())
    assert list(written["objectives"]["users_by_device_class"].items()) == expected


def test_when_a_user_is_a_session_one_aggregate_gives_both_tables() -> None:
    """With the default user column, users and sessions are one grouping of the events, read
    once: each table equals its own grouping (the bundled sample, 50,000 events)."""
    from helpers import open_events
    from helpers.grains import sessions, users

    events = open_events()
    for table, separate, key in ((events.users, users(events.events), "user_id"),
                                 (events.sessions, sessions(events.events), "session_id")):
        assert table.columns == separate.columns
        one = table.to_pyarrow().sort_by(key)
        assert one.num_rows > 10_000
        assert one.equals(separate.to_pyarrow().sort_by(key))
