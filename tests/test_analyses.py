"""The analyst's own questions (analyses.md sections 2-8): each rule on hand-made tables, and
the whole against an independent reading (tests/oracle_analyses.py) on random multi-week data."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import oracle_analyses as oracle
import pytest
from conftest import event, examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import Events
from helpers.errors import ParameterError
from helpers.params import load_params

SEARCH, VIEW = {"page_type": ["search_page"]}, {"page_type": ["apartment_view"]}
BOOK, DRAFT = {"event_type": ["click_book-now"]}, {"event_type": ["request_draft-created"]}


def at(day: str, clock: str = "10:00:00", fraction: str = "000") -> str:
    return f"{day} {clock}.{fraction} UTC"


def e(user: str, when: str, page: str = "search_page", kind: str = "page_view", **cells):
    return event(session_id=user, datetime=when, page_type=page, event_type=kind, **cells)


def dump(result: Any) -> Any:
    return result.model_dump(mode="json")


def funnel_of(events: Events, steps, **kw) -> dict[str, Any]:
    return dump(events.funnel(steps, **kw))


def levels(result: dict[str, Any]) -> list[int]:
    return [s["users"] for s in result["steps"]]


def analysed(events: Events) -> list[dict[str, Any]]:
    """The analysed events as the oracle reads them."""
    t = events.events
    columns = ["user_id", "ts_us", "_seq", "page_type", "event_type", "device_class", "om_source"]
    rows = t.select(*columns).to_pyarrow().to_pylist()
    for r in rows:
        r["_seq"] = int(r["_seq"])
    return rows


def without_narrative(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_narrative(v) for k, v in value.items() if k != "narrative"}
    if isinstance(value, list):
        return [without_narrative(v) for v in value]
    return value


# -- 4. funnels -----------------------------------------------------------------------------------


def test_the_window_counts_exactly_its_length_and_not_a_microsecond_more(events_of) -> None:
    rows = [
        e("a", at("2021-01-23", "10:00:00")),
        e("a", at("2021-01-24", "10:00:00"), kind="click_book-now"),
        e("b", at("2021-01-23", "10:00:00")),
        e("b", at("2021-01-24", "10:00:00", "000001"), kind="click_book-now"),
    ]
    result = funnel_of(events_of(rows), [SEARCH, BOOK], window="1 day")
    assert levels(result) == [2, 1]
    assert result["window_seconds"] == 86_400
    assert result["time_to_convert_seconds"] == {"median": 86_400.0, "p90": 86_400.0}


def test_ties_in_datetime_follow_input_order(events_of) -> None:
    same = at("2021-01-23")
    rows = [
        e("a", same),
        e("a", same, kind="click_book-now"),  # in order
        e("b", same, kind="click_book-now"),
        e("b", same),  # the click comes first
    ]
    assert levels(funnel_of(events_of(rows), [SEARCH, BOOK])) == [2, 1]


def test_one_event_never_counts_for_two_steps(events_of) -> None:
    # An apartment view that is also a book-now click is step 2 or step 3, never both.
    rows = [
        e("a", at("2021-01-23", "10:00:00")),
        e("a", at("2021-01-23", "10:00:01"), page="apartment_view", kind="click_book-now"),
    ]
    assert levels(funnel_of(events_of(rows), [SEARCH, VIEW, BOOK])) == [1, 1, 0]
    same_step = [e("a", at("2021-01-23"))]
    assert levels(funnel_of(events_of(same_step), [SEARCH, SEARCH])) == [1, 0]


def test_the_best_chain_need_not_start_at_the_first_step_one_event(events_of) -> None:
    rows = [
        e("a", at("2021-01-20")),  # too long ago for the window
        e("a", at("2021-01-23", "10:00:00")),
        e("a", at("2021-01-23", "10:10:00"), kind="click_book-now"),
    ]
    result = funnel_of(events_of(rows), [SEARCH, BOOK], window="30 minutes")
    assert levels(result) == [1, 1]
    assert result["time_to_convert_seconds"]["median"] == 600.0
    # Without a window the same chain converts; time to convert is still the least.
    assert funnel_of(events_of(rows), [SEARCH, BOOK])["time_to_convert_seconds"]["median"] == 600


def test_rates_drop_off_and_users_total(events_of) -> None:
    rows = [
        e("a", at("2021-01-23")),
        e("b", at("2021-01-23"), page="home_page"),
        e("a", at("2021-01-23", "11:00:00"), kind="click_book-now"),
    ]
    (first, second) = funnel_of(events_of(rows), [SEARCH, BOOK])["steps"]
    assert (first["users"], first["conversion_from_previous"], first["drop_off"]) == (1, 0.5, 1)
    assert (second["conversion_from_first"], second["drop_off"]) == (1.0, 0)


def test_nobody_at_step_one_gives_null_rates(events_of) -> None:
    result = funnel_of(events_of([e("a", at("2021-01-23"), page="home_page")]), [SEARCH, BOOK])
    assert [s["conversion_from_first"] for s in result["steps"]] == [None, None]
    assert result["time_to_convert_seconds"] == {"median": None, "p90": None}


@pytest.mark.parametrize(
    ("seconds", "median", "p90"),
    [([60], 60.0, 60.0), ([60, 120], 90.0, 114.0), ([10, 20, 30, 40, 1000], 30.0, 616.0)],
)
def test_time_to_convert_percentiles(events_of, seconds, median, p90) -> None:
    rows = []
    for i, s in enumerate(seconds):
        clock = f"10:{s // 60:02d}:{s % 60:02d}"
        rows += [
            e(f"u{i}", at("2021-01-23", "10:00:00")),
            e(f"u{i}", at("2021-01-23", clock), kind="click_book-now"),
        ]
    ttc = funnel_of(events_of(rows), [SEARCH, BOOK])["time_to_convert_seconds"]
    assert ttc == {"median": median, "p90": p90}
    assert p90 == round(oracle.percentile(seconds, 0.9), 3)


def test_breakdown_uses_the_first_non_null_value_else_none(events_of) -> None:
    rows = [
        e("a", at("2021-01-23", "10:00:00"), device_class=""),
        e("a", at("2021-01-23", "10:01:00"), device_class="phone", kind="click_book-now"),
        e("b", at("2021-01-23"), device_class=""),
        e("c", at("2021-01-23"), device_class="desktop"),
        e("d", at("2021-01-23"), device_class="phone"),
    ]
    breakdown = funnel_of(events_of(rows), [SEARCH, BOOK], breakdown="device_class")["breakdown"]
    assert breakdown == {
        "column": "device_class",
        "values": [
            {
                "value": "phone",
                "users_total": 2,
                "steps": [{"step": 1, "users": 2}, {"step": 2, "users": 1}],
            },
            {
                "value": "(none)",
                "users_total": 1,
                "steps": [{"step": 1, "users": 1}, {"step": 2, "users": 0}],
            },
            {
                "value": "desktop",
                "users_total": 1,
                "steps": [{"step": 1, "users": 1}, {"step": 2, "users": 0}],
            },
        ],
    }


def test_a_condition_with_a_list_and_an_empty_condition(events_of) -> None:
    rows = [e("a", at("2021-01-23")), e("a", at("2021-01-23", "11:00:00"), page="booking_page")]
    steps = [{}, {"page_type": ["apartment_view", "booking_page"]}]
    assert levels(funnel_of(events_of(rows), steps)) == [1, 1]


def test_the_default_funnel_is_the_insights_funnel(events_of) -> None:
    rows = [
        e("a", at("2021-01-23")),
        e("a", at("2021-01-23", "10:01:00"), page="apartment_view"),
        e("b", at("2021-01-23"), kind="click_book-now"),
    ]
    report = events_of(rows).report().data
    (default,) = report["analyses"]["funnels"]
    assert default["name"] == "search to request draft" and default["window_seconds"] is None
    assert levels(default) == [s["users"] for s in report["insights"]["funnel"]["steps"]]


# -- 5. retention ---------------------------------------------------------------------------------


def test_weekly_retention_across_a_year_boundary_with_unobserved_offsets(events_of) -> None:
    rows = [
        e("a", at("2020-12-28")),
        e("a", at("2021-01-04")),  # ISO weeks 53 and 1
        e("b", at("2021-01-03")),  # Sunday: still the week of 28 Dec
        e("c", at("2021-01-05")),
        e("c", at("2021-01-06")),
    ]
    r = dump(events_of(rows).retention(period="week", periods=3))
    assert r["cohorts"] == [
        {"cohort": "2020-12-28", "users": 2, "retained": [2, 1, None]},
        {"cohort": "2021-01-04", "users": 1, "retained": [1, None, None]},
    ]
    assert r["overall"] == [
        {"offset": 0, "users": 3, "cohort_users": 3, "rate": 1.0},
        {"offset": 1, "users": 1, "cohort_users": 2, "rate": 0.5},
        {"offset": 2, "users": 0, "cohort_users": 0, "rate": None},
    ]


def test_monthly_cohorts_over_short_and_long_months(events_of) -> None:
    rows = [
        e("a", at("2021-02-28")),
        e("a", at("2021-03-01")),
        e("b", at("2021-03-31")),
        e("b", at("2021-04-01")),
        e("c", at("2021-04-30")),
    ]
    r = dump(events_of(rows).retention(period="month", periods=2))
    assert [(c["cohort"], c["retained"]) for c in r["cohorts"]] == [
        ("2021-02-01", [1, 1]),
        ("2021-03-01", [1, 1]),
        ("2021-04-01", [1, None]),
    ]


def test_start_and_return_conditions_and_events_before_the_start(events_of) -> None:
    rows = [
        e("a", at("2021-01-04"), kind="click_book-now"),  # a return before the start: ignored
        e("a", at("2021-01-11"), page="signup"),
        e("a", at("2021-01-19")),
        e("b", at("2021-01-04")),  # never starts: in no cohort
        e("c", at("2021-01-11"), page="signup"),
        e("c", at("2021-01-18"), kind="click_book-now"),
    ]
    r = dump(
        events_of(rows).retention(
            start={"page_type": "signup"}, **{"return": {"event_type": "click_book-now"}}, periods=2
        )
    )
    assert r["cohorts"] == [{"cohort": "2021-01-11", "users": 2, "retained": [0, 1]}]


# -- 6. trends ------------------------------------------------------------------------------------


def test_daily_trends_fill_gaps_with_zeros_and_count_named_events(events_of) -> None:
    rows = [
        e("a", at("2021-01-01")),
        e("a", at("2021-01-03"), kind="click_book-now"),
        e("b", at("2021-01-03")),
    ]
    named = [{"name": "book", "condition": {"event_type": "click_book-now"}}]
    t = dump(events_of(rows).trends(events=named))
    assert [
        (p["period"], p["active_users"], p["new_users"], p["events"]) for p in t["periods"]
    ] == [
        ("2021-01-01", 1, 1, 1),
        ("2021-01-02", 0, 0, 0),
        ("2021-01-03", 2, 1, 2),
    ]
    assert [p["events_by_name"][0] for p in t["periods"]] == [
        {"name": "book", "users": 0, "rate": 0.0},
        {"name": "book", "users": 0, "rate": None},
        {"name": "book", "users": 1, "rate": 0.5},
    ]


def test_trends_by_a_breakdown(events_of) -> None:
    rows = [
        e("a", at("2021-01-01"), device_class="phone"),
        e("b", at("2021-01-02"), device_class="desktop"),
        e("c", at("2021-01-02"), device_class="phone"),
    ]
    t = dump(events_of(rows).trends(breakdown="device_class"))
    phone, desktop = t["breakdown"]["values"]
    assert (phone["value"], phone["users"], desktop["value"]) == ("phone", 2, "desktop")
    assert [p["active_users"] for p in phone["periods"]] == [1, 1]
    assert [p["new_users"] for p in desktop["periods"]] == [0, 1]


def test_stickiness_over_a_partial_first_and_last_month(events_of) -> None:
    # Data from 30 Jan to 2 Feb: January has 2 days in the data, February 2.
    rows = [
        e("a", at("2021-01-30")),
        e("b", at("2021-01-30")),
        e("a", at("2021-01-31")),
        e("a", at("2021-02-02")),
    ]
    s = dump(events_of(rows).trends())["stickiness"]
    assert s == [
        {"month": "2021-01-01", "mean_dau": 1.5, "mau": 2, "stickiness": 0.75},
        {"month": "2021-02-01", "mean_dau": 0.5, "mau": 1, "stickiness": 0.5},
    ]


# -- 7. lifecycle ---------------------------------------------------------------------------------


def test_lifecycle_with_a_resurrecting_user(events_of) -> None:
    rows = [
        e("a", at("2021-01-04")),
        e("b", at("2021-01-04")),
        e("a", at("2021-01-11")),
        e("c", at("2021-01-11")),
        e("b", at("2021-01-18")),  # b skipped a week: resurrecting
    ]
    periods = dump(events_of(rows).lifecycle())["periods"]
    assert periods == [
        {"period": "2021-01-11", "new": 1, "returning": 1, "resurrecting": 0, "dormant": 1},
        {"period": "2021-01-18", "new": 0, "returning": 0, "resurrecting": 1, "dormant": 2},
    ]


def test_one_period_of_data_says_so(events_of) -> None:
    events = events_of([e("a", at("2021-01-23"))])
    lifecycle = events.lifecycle()
    assert lifecycle.periods == [] and "needs more than one period" in lifecycle.narrative
    assert "retention needs more than one period" in events.retention().narrative


# -- definitions refused --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"funnels": [{"name": "f", "steps": [{"page_type": "a"}]}]}, "funnel 'f': steps"),
        (
            {"funnels": [{"name": "f", "steps": [{}, {}], "window": "1 fortnight"}]},
            "funnel 'f': window '1 fortnight'",
        ),
        ({"funnels": [{"name": "f", "steps": [{}, {"event_type": 404}]}]}, "quote it"),
        ({"retention": {"period": "quarter"}}, "retention.period"),
        ({"trends": {"events": [{"name": "x", "condition": {"page_type": True}}]}}, "quote it"),
    ],
)
def test_a_mistaken_definition_is_refused_naming_it(values, message) -> None:
    with pytest.raises(ParameterError, match=message):
        load_params(overrides=[f"{k}={json.dumps(v)}" for k, v in values.items()])


def test_an_unknown_column_is_refused_naming_the_funnel(events_of) -> None:
    with pytest.raises(ParameterError, match="funnel 'f' step 2: there is no column 'pge_type'"):
        events_of([e("a", at("2021-01-23"))]).funnel([{}, {"pge_type": "x"}], name="f")


# -- the whole, against the oracle ----------------------------------------------------------------

_day = st.sampled_from(
    [
        "2020-12-27",
        "2020-12-28",
        "2021-01-03",
        "2021-01-04",
        "2021-01-31",
        "2021-02-01",
        "2021-02-15",
        "2021-03-01",
    ]
)
_row = st.fixed_dictionaries(
    {
        "user": st.sampled_from(["a", "b", "c", "d", "e"]),
        "day": _day,
        "clock": st.sampled_from(["00:00:00", "10:00:00", "10:00:30", "23:59:59"]),
        "page": st.sampled_from(["search_page", "apartment_view", "home_page", ""]),
        "kind": st.sampled_from(["page_view", "click_book-now"]),
        "device": st.sampled_from(["phone", "desktop", ""]),
    }
)


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(_row, min_size=1, max_size=25), period=st.sampled_from(["day", "week", "month"])
)
def test_every_analysis_agrees_with_the_oracle_on_random_weeks(events_of, rows, period) -> None:
    table = [
        e(
            r["user"],
            at(r["day"], r["clock"]),
            page=r["page"],
            kind=r["kind"],
            device_class=r["device"],
        )
        for r in rows
    ]
    funnels = [
        {
            "name": "plain",
            "steps": [{"page_type": "search_page"}, {"event_type": "click_book-now"}],
        },
        {
            "name": "windowed",
            "steps": [{}, {"page_type": "apartment_view"}, {"event_type": "click_book-now"}],
            "window": "30 seconds",
            "breakdown": "device_class",
        },
    ]
    named = [{"name": "book", "condition": {"event_type": "click_book-now"}}]
    events = events_of(
        table,
        funnels=funnels,
        retention={"period": period, "periods": 4},
        trends={"period": period, "events": named, "breakdown": "device_class"},
        lifecycle={"period": period},
    )
    got = without_narrative(events.report().data["analyses"])
    rows_ = analysed(events)
    expected = {
        "funnels": [
            oracle.funnel(rows_, "plain", [{"page_type": ["search_page"]}, BOOK]),
            oracle.funnel(rows_, "windowed", [{}, VIEW, BOOK], 30, "device_class"),
        ],
        "retention": oracle.retention(rows_, period, periods=4),
        "trends": oracle.trends(rows_, period, [("book", BOOK)], "device_class"),
        "lifecycle": oracle.lifecycle(rows_, period),
    }
    assert got == expected
    for p in got["lifecycle"]["periods"]:  # active = new + returning + resurrecting
        active = next(t for t in got["trends"]["periods"] if t["period"] == p["period"])
        assert active["active_users"] == p["new"] + p["returning"] + p["resurrecting"]


_FIRST_DAY = (date(1, 1, 1) - date(1970, 1, 1)).days
_LAST_DAY = (date(9999, 12, 31) - date(1970, 1, 1)).days


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(_FIRST_DAY, _LAST_DAY), min_size=1, max_size=50))
def test_the_engines_month_number_is_the_calendars(days: list[int]) -> None:
    """A month's number in the engine (its calendar) equals Python's, on any day of the years
    1-9999, month ends and leap days included."""
    import ibis
    import pyarrow as pa

    from helpers import periods

    edges = [(date(y, m, 1) - date(1970, 1, 1)).days + k for y, m in
             ((2000, 3), (1900, 3), (2021, 1), (1, 2), (9999, 12)) for k in (-1, 0)]  # fmt: skip
    cells = [*days, *edges]
    table = ibis.memtable(pa.table({"d": pa.array(cells, pa.int64())}))
    found = table.select(m=periods.index_of_day("month", table.d)).to_pyarrow()
    assert found.column("m").to_pylist() == [periods.index_of_day("month", d) for d in cells]
    assert [periods.label("month", periods.index_of_day("month", d)) for d in edges[:2]] == [
        "2000-02-01", "2000-03-01"
    ]
