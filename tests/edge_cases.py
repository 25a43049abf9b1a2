"""Named edge cases of the spec, as small event lists: one catalogue for cross-engine parity.

Each case uses its own session and visitor ids, so all cases can run as one table: a difference
between engines in any case shows up in the union's numbers.
"""

from __future__ import annotations

from conftest import event


def _t(seconds: float, day: str = "2021-01-23") -> str:
    whole, fraction = divmod(round(seconds * 1000), 1000)
    hours, rest = divmod(10 * 3600 + whole, 3600)
    return f"{day} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{fraction:03d} UTC"


def _price(value, currency="EUR", **cells):
    content = {"price": value} if currency is None else {"price": value, "currency": currency}
    return event(params={"event_content": content}, **cells)


CASES: dict[str, list[dict[str, str]]] = {
    "ties_in_datetime": [
        event(datetime=_t(0), page_type="search_page"),
        event(datetime=_t(0), page_type="apartment_view", event_type="click_book-now"),
    ],
    "null_first_page_type": [
        event(datetime=_t(0), page_type="", event_type="request_draft-created"),
        event(datetime=_t(1), page_type="search_page"),
        event(datetime=_t(2), page_type="apartment_view"),
    ],
    "one_event_session": [event(page_type="apartment_view")],
    "exactly_5_seconds": [event(datetime=_t(0)), event(datetime=_t(5), event_type="click_gallery")],
    "just_over_5_seconds": [
        event(datetime=_t(0)), event(datetime=_t(5.001), event_type="click_gallery"),
    ],
    "across_midnight": [
        event(datetime="2021-01-23 23:59:58.500 UTC"),
        event(datetime="2021-01-24T00:00:02.5Z", page_type="apartment_view"),
    ],
    "datetime_formats": [
        event(datetime="2021-01-23T11:00:00+01:00"),
        event(datetime="2021-01-23 10:00:01", event_type="click_gallery"),
        event(datetime="2021-02-30 10:00:00"),
        event(datetime="yesterday"),
    ],
    "om_source_only_later": [
        event(datetime=_t(0), om_source=""),
        event(datetime=_t(3), om_source="AdWords"),
        event(datetime=_t(4), om_source="facebook"),
    ],
    "blank_and_padded_cells": [
        event(datetime=_t(0), device_class="   ", om_source=" fb ", page_type=" search_page "),
        event(datetime=_t(1), device_class="\tphone\t", env=" Production "),
    ],
    "prices": [
        _price(1300, datetime=_t(0)), _price("1199.5", datetime=_t(1)),
        _price(" 1200 ", datetime=_t(2)), _price(1200.0, datetime=_t(3)),
    ],
    "invalid_prices": [
        _price(True, datetime=_t(0)), _price(None, datetime=_t(1)), _price([1], datetime=_t(2)),
        _price("1,200", datetime=_t(3)), _price("NaN", datetime=_t(4)),
        _price("1e400", datetime=_t(5)), _price("€1200", datetime=_t(6)),
    ],
    "currencies_in_one_session": [
        _price(1300, currency="eur", datetime=_t(0)),
        _price(1300, currency=None, datetime=_t(1)),
        _price(900, currency="GBP", datetime=_t(2)),
    ],
    "lower_case_currency": [_price(1500, currency=" eur ")],
    "invalid_price_in_other_currency": [
        _price("n/a", currency="GBP", datetime=_t(0)), _price(800, datetime=_t(1)),
    ],
    "request_ids": [
        event(datetime=_t(0), params={"page": {"request_id": ""}}),
        event(datetime=_t(1), params={"page": {"request_id": None}}),
        event(datetime=_t(2), params={"page": {"request_id": True}}),
        event(datetime=_t(3), params={"page": {"request_id": "true"}}),
    ],
    "numeric_request_id": [event(params={"page": {"request_id": 12345}})],
    "invalid_params": [
        event(datetime=_t(0), params="{bad"), event(datetime=_t(1), params="null"),
        event(datetime=_t(2), params="[]"), event(datetime=_t(3), params=""),
        event(datetime=_t(4), params='"{\\"page\\": {}}"'),
    ],
    "duplicates": [event(), event(), event(event_type="click_gallery")],
    "development_and_internal": [
        event(env="development"), event(env=""), event(is_internal_ip="TRUE"),
        event(is_internal_ip="yes"), event(is_internal_ip="0"),
    ],
    "missing_ids": [event(session_id=""), event(visitor_id="")],
    "ab_groups": [
        event(session_id="a1", visitor_id="va", test_groups='{"ranking": "A"}'),
        event(session_id="b1", visitor_id="vb", test_groups='{"ranking": " B ", "color": "red"}',
              event_type="click_book-now"),
        event(session_id="b2", visitor_id="vb", test_groups='{"ranking": "B"}'),
        event(session_id="x1", visitor_id="vx", test_groups='{"ranking": "A"}'),
        event(session_id="x2", visitor_id="vx", test_groups='{"ranking": "B"}'),  # both groups
        event(session_id="bad", visitor_id="vz", test_groups="{not json"),
    ],
    "funnel_in_order": [
        event(datetime=_t(0), page_type="search_page"),
        event(datetime=_t(9), page_type="apartment_view", event_type="click_book-now"),
        event(datetime=_t(20), page_type="booking_page", event_type="request_draft-created",
              params={"page": {"request_id": "R-1"}}),
    ],
}


def union() -> list[dict[str, str]]:
    """Every case in one table, each with its own session and visitor ids."""
    rows = []
    for name, events in CASES.items():
        for row in events:
            session = f"{name}:{row['session_id']}" if row["session_id"] else ""
            visitor = f"{name}:{row['visitor_id']}" if row["visitor_id"] else ""
            rows.append(
                {"test_groups": "", **row, "session_id": session, "visitor_id": visitor}
            )
    return rows


#: Parameter sets the catalogue runs under on every engine: the defaults, and the other choice
#: of every cleaning rule.
VARIANTS: dict[str, dict] = {
    "defaults": {},
    "visitors_and_all_traffic": {
        "user_column": "visitor_id", "environments": ["production", "development"],
        "exclude_internal_traffic": False, "short_session_seconds": 10, "price_threshold": 1300,
    },
}
