"""Behavioural insights on tiny hand-made tables run through the real pipeline, and the sample."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import COLUMNS, event
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import Events, open_events
from helpers import objectives as obj
from helpers.analyses import _stats as stats
from helpers.analyses import ab_tests as ab
from helpers.analyses import compute_all
from helpers.analyses import funnel as funnel_module
from helpers.analyses.funnels import user_levels
from helpers.params import SAMPLE_SOURCE, ReportParams
from helpers.synthetic import write_synthetic_events

AB_COLUMNS = [*COLUMNS, "test_groups"]
Z_975 = 1.959963984540054  # the standard normal's 97.5th percentile


def load(path: Path | str, **params: Any) -> Events:
    """An events file read, cleaned and summarised exactly as the report does."""
    return open_events(str(path), **params)


def dump(result: Any) -> dict[str, Any]:
    """An analysis result as report.json holds it."""
    return result.model_dump(mode="json")


def everything(events: Events) -> dict[str, Any]:
    """Every analysis, as report.json's insights."""
    return {key: dump(result) for key, result in compute_all(events.grains).items()}


@pytest.fixture
def tables(events_of: Callable[..., Events]) -> Callable[..., Events]:
    """``tables([event(...)], columns=[...], user_column=...)``: the pipeline's tables."""
    return events_of


def at(seconds: float, day: str = "2021-01-23") -> str:
    """A timestamp ``seconds`` after 10:00:00 UTC, written as the sheet export writes it."""
    whole, fraction = divmod(round(seconds * 1000), 1000)
    hours, rest = divmod(10 * 3600 + whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{day} {hours:02d}:{minutes:02d}:{secs:02d}.{fraction:03d} UTC"


def step_users(funnel_steps: list[dict[str, Any]]) -> list[int]:
    return [s["users"] for s in funnel_steps]


@cache
def insights_schema() -> dict[str, Any]:
    return json.loads(resources.files("helpers").joinpath("insights.schema.json").read_text())


# -- 1. funnel ----------------------------------------------------------------------------------


def step_event(session: str, t: float, page_type: str, event_type: str, **cells):
    return event(session_id=session, datetime=at(t), page_type=page_type,
                 event_type=event_type, **cells)  # fmt: skip


def _step(page_type: str, event_type: str):
    """An event maker for one funnel step; cells given to it override the defaults."""

    def make(session: str, t: float, **cells) -> dict[str, str]:
        return step_event(session, t, **{"page_type": page_type, "event_type": event_type, **cells})

    return make


search = _step("search_page", "page_view")
view = _step("apartment_view", "page_view")
book = _step("apartment_view", "click_book-now")
draft = _step("booking_page", "request_draft-created")


def test_funnel_steps_out_of_order_do_not_count(tables) -> None:
    rows = [
        # a: clicks book-now before searching, then searches and views: steps 1-2 only
        book("a", 0), search("a", 1), view("a", 2),
        # b: everything in order: all four steps
        search("b", 0), view("b", 1), book("b", 2), draft("b", 3),
        # c: views an apartment, then searches: the view came first, step 1 only
        view("c", 0), search("c", 1),
        # d: the draft comes before the book-now click: steps 1-3
        search("d", 0), view("d", 1), draft("d", 2), book("d", 3),
        # e: never searches
        event(session_id="e", page_type="home_page", event_type="click_book-now"),
    ]  # fmt: skip
    t = tables(rows)
    funnel = dump(t.marketplace_funnel())
    assert funnel["users_total"] == 5
    assert step_users(funnel["steps"]) == [4, 3, 2, 1]
    first, second, third, fourth = funnel["steps"]
    assert (first["conversion_from_first"], first["conversion_from_previous"]) == (1.0, 0.8)
    assert first["drop_off"] == 1  # e never reached the search page
    assert (second["conversion_from_first"], second["drop_off"]) == (0.75, 1)
    assert third["conversion_from_previous"] == pytest.approx(2 / 3, abs=1e-6)
    assert (fourth["conversion_from_first"], fourth["conversion_from_previous"]) == (0.25, 0.5)


def test_funnel_steps_follow_the_earliest_qualifying_event(tables) -> None:
    rows = [
        # The book-now click on the search page precedes the apartment view: only the later
        # click counts, so the user still reaches step 3.
        search("a", 0), book("a", 1, page_type="search_page"), view("a", 2), book("a", 3),
        # Same datetime: ties keep the input order, so the view is after the search.
        search("b", 5), view("b", 5),
        # Same datetime, view first in the input: not after the search.
        view("c", 5), search("c", 5),
    ]  # fmt: skip
    t = tables(rows)
    steps = [{column: [value]} for _, column, value in funnel_module.STEPS]
    levels = user_levels(t.events, steps, None, where="test").to_pyarrow().to_pylist()
    assert {r["user_id"]: r["level"] for r in levels} == {"a": 3, "b": 2, "c": 1}


def test_funnel_breakdowns_sum_to_the_totals(tables) -> None:
    rows = [
        search("a", 0, device_class="phone"), view("a", 1, om_source="adwords"),
        search("b", 0, device_class="phone", om_source="facebook"), view("b", 1), book("b", 2),
        search("c", 0, device_class="desktop"),
        view("d", 0, device_class=""),
    ]  # fmt: skip
    t = tables(rows)
    funnel = dump(t.marketplace_funnel())
    assert step_users(funnel["steps"]) == [3, 2, 1, 0]
    assert set(funnel["by_device_class"]) == {"phone", "desktop", "unknown"}
    assert step_users(funnel["by_device_class"]["phone"]["steps"]) == [2, 2, 1, 0]
    assert funnel["by_first_om_source"]["adwords"]["users_total"] == 1
    assert step_users(funnel["by_first_om_source"]["no_om_source"]["steps"]) == [1, 0, 0, 0]
    for key in ("by_device_class", "by_first_om_source"):
        groups = funnel[key].values()
        assert sum(g["users_total"] for g in groups) == funnel["users_total"] == 4
        for i, total in enumerate(step_users(funnel["steps"])):
            assert sum(g["steps"][i]["users"] for g in groups) == total


# -- 2. attribution -----------------------------------------------------------------------------


def test_first_and_last_touch_differ_for_a_user_with_two_sources(tables) -> None:
    rows = [
        event(session_id="a", datetime=at(0), om_source=""),
        event(session_id="a", datetime=at(1), om_source="adwords"),
        event(session_id="a", datetime=at(2), om_source="facebook", event_type="click_book-now"),
        event(session_id="a", datetime=at(3), om_source=""),
        event(session_id="b", om_source="facebook", event_type="request_draft-created"),
        event(session_id="c", om_source=""),
    ]
    t = tables(rows)
    result = dump(t.attribution())
    channels = {c["channel"]: c for c in result["channels"]}
    assert set(channels) == {"adwords", "facebook", "no_om_source"}
    assert channels["adwords"]["first_touch"] == {
        "users": 1, "clicked_book_now": 1, "created_request_draft": 0, "book_now_rate": 1.0,
    }  # fmt: skip
    assert channels["adwords"]["last_touch"]["users"] == 0
    assert channels["facebook"]["first_touch"]["users"] == 1
    assert channels["facebook"]["last_touch"] == {
        "users": 2, "clicked_book_now": 1, "created_request_draft": 1, "book_now_rate": 0.5,
    }  # fmt: skip
    assert channels["no_om_source"]["first_touch"]["users"] == 1
    assert result["users_first_touch_differs"] == 1
    for touch in ("first_touch", "last_touch"):
        assert sum(c[touch]["users"] for c in result["channels"]) == result["users_total"] == 3


# -- 3. sessions --------------------------------------------------------------------------------


def two_events(session: str, seconds: float) -> list[dict[str, str]]:
    return [
        event(session_id=session, datetime=at(0)),
        event(session_id=session, datetime=at(seconds), event_type="click_gallery"),
    ]


def test_session_durations_one_event_apart_from_short_multi_event(tables) -> None:
    rows = [
        event(session_id="one", datetime=at(0)),
        *two_events("zero", 0),
        *two_events("five", 5),
        *two_events("five-and-a-half", 5.5),
        *two_events("hundred", 100),
        *two_events("long", 2000),
    ]
    t = tables(rows)
    result = dump(t.session_durations())
    histogram = {b["bucket"]: b["sessions"] for b in result["duration_histogram"]}
    assert histogram == {
        "one event": 1, "0": 1, "(0, 1]": 0, "(1, 5]": 1, "(5, 30]": 1, "(30, 60]": 0,
        "(60, 300]": 1, "(300, 1800]": 0, "> 1800": 1,
    }  # fmt: skip
    assert sum(histogram.values()) == result["sessions_total"] == 6
    assert (result["one_event_sessions"], result["multi_event_sessions"]) == (1, 5)
    # The one-event session and the multi-event ones up to 5 s are counted apart...
    assert result["multi_event_short_sessions"] == 2
    # ...and together they are the objectives' short sessions.
    short = obj.short_sessions(t.events, t.sessions, ReportParams())["sessions"].execute()
    assert result["one_event_sessions"] + result["multi_event_short_sessions"] == short


def linear_quantile(values: list[float], q: float) -> float:
    """The q-quantile with linear interpolation between the nearest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_median_and_p90_of_session_durations(tables) -> None:
    durations = [0, 5, 5.5, 100, 2000]  # multi-event sessions; plus one one-event session
    rows = [event(session_id="one", datetime=at(0))]
    for i, seconds in enumerate(durations):
        rows += two_events(f"s{i}", seconds)
    t = tables(rows)
    result = dump(t.session_durations())
    everything = [0, *durations]
    # By hand: 6 durations, median at rank 2.5 -> (5 + 5.5) / 2; p90 at rank 4.5.
    assert result["median_seconds"] == pytest.approx(5.25) == linear_quantile(everything, 0.5)
    assert result["p90_seconds"] == pytest.approx(1050) == linear_quantile(everything, 0.9)
    # Multi-event only: median at rank 2 -> 5.5; p90 at rank 3.6 -> 100 + 0.6 * 1900.
    assert result["multi_event_median_seconds"] == pytest.approx(5.5)
    assert result["multi_event_p90_seconds"] == pytest.approx(1240)


def test_bounce_is_a_session_of_one_page_view_and_nothing_else(tables) -> None:
    rows = [
        event(session_id="bounce", event_type="page_view"),
        *two_events("view-and-click", 3),
        event(session_id="only-a-click", event_type="click_gallery"),
        event(session_id="two-views", datetime=at(0)),
        event(session_id="two-views", datetime=at(9), page_type="apartment_view"),
    ]
    t = tables(rows)
    result = dump(t.session_durations())
    assert (result["bounces"], result["bounce_rate"]) == (1, 0.25)


# -- events per session --------------------------------------------------------------------------


def test_events_per_session_by_hand(tables) -> None:
    sizes = {"a": 1, "b": 2, "c": 6, "d": 25}
    rows = [event(session_id=s, datetime=at(i)) for s, n in sizes.items() for i in range(n)]
    result = dump(tables(rows).events_per_session())
    assert (result["sessions_total"], result["events_total"], result["most"]) == (4, 34, 25)
    assert result["mean"] == 8.5
    # Counts 1, 2, 6, 25: the median halfway between 2 and 6; p90 at rank 2.7 of 0..3.
    assert result["median"] == 4.0 == linear_quantile([1, 2, 6, 25], 0.5)
    assert result["p90"] == pytest.approx(19.3) == linear_quantile([1, 2, 6, 25], 0.9)
    histogram = {b["bucket"]: (b["sessions"], b["share"]) for b in result["histogram"]}
    assert histogram == {
        "1": (1, 0.25), "2": (1, 0.25), "3-5": (0, 0.0), "6-10": (1, 0.25), "11-20": (0, 0.0),
        "more than 20": (1, 0.25),
    }  # fmt: skip
    assert result["narrative"].startswith("4 sessions hold 34 events, 8.5 on average")


def test_events_per_session_of_no_sessions(tables) -> None:
    result = dump(tables([event(env="development")]).events_per_session())
    assert (result["sessions_total"], result["mean"], result["median"]) == (0, None, None)
    assert [b["share"] for b in result["histogram"]] == [None] * 6
    assert result["narrative"] == "There are no sessions."


# -- 4. paths -----------------------------------------------------------------------------------


def pages(session: str, *page_types: str) -> list[dict[str, str]]:
    return [
        event(session_id=session, datetime=at(i), page_type=p) for i, p in enumerate(page_types)
    ]


def test_paths_collapse_repeats_and_skip_null_page_types(tables) -> None:
    rows = [
        # null page types are skipped before collapsing: search, search, search -> search
        *pages("a", "search_page", "search_page", "", "search_page", "apartment_view",
               "apartment_view", "search_page", "booking_page", "home_page"),
        *pages("b", "", "home_page"),
        *pages("c", "", ""),
    ]  # fmt: skip
    t = tables(rows)
    result = dump(t.paths())
    assert result["top"] == [
        {"path": "home_page", "users": 1, "share": 0.5},
        {"path": "search_page > apartment_view > search_page > booking_page", "users": 1,
         "share": 0.5},
    ]  # fmt: skip
    assert (result["users_with_page_type"], result["users_without_page_type"]) == (2, 1)


def test_paths_keep_the_ten_most_common(tables) -> None:
    kinds = ["home_page", "search_page", "apartment_view", "booking_page"]
    pairs = [(a, b) for a in kinds for b in kinds if a != b]  # 12 distinct paths
    rows, user = [], 0
    for i, pair in enumerate(pairs):
        repeat = {0: 3, 3: 2}.get(i, 1)  # pair 3: search_page, home_page
        for _ in range(repeat):
            rows += pages(f"u{user}", *pair)
            user += 1
    t = tables(rows)
    result = dump(t.paths())
    assert result["distinct_paths"] == 12
    assert len(result["top"]) == 10
    assert [r["users"] for r in result["top"]][:3] == [3, 2, 1]
    assert result["top"][0]["path"] == "home_page > search_page"
    assert result["top"][1]["path"] == "search_page > home_page"
    # Ties are broken alphabetically.
    ones = [r["path"] for r in result["top"][2:]]
    assert ones == sorted(ones)
    assert result["top"][2]["path"] == "apartment_view > booking_page"


# -- 5. activity --------------------------------------------------------------------------------


def test_hourly_and_daily_counts(tables) -> None:
    rows = [
        event(session_id="a", datetime="2021-01-23T01:30:00+01:00"),  # 00:30 UTC
        event(session_id="a", datetime="2021-01-23 00:59:59.999 UTC"),
        event(session_id="b", datetime="2021-01-23 01:00:00 UTC"),
        event(session_id="c", datetime="2021-01-24 23:10:00 UTC"),
    ]
    t = tables(rows)
    result = dump(t.activity())
    assert len(result["by_hour"]) == 24
    nonzero = {
        h["hour"]: (h["events"], h["active_users"]) for h in result["by_hour"] if h["events"]
    }
    assert nonzero == {0: (2, 1), 1: (1, 1), 23: (1, 1)}
    assert (result["events_total"], result["active_users_total"], result["days"]) == (4, 3, 2)
    assert result["busiest_hour"] == 0
    assert result["by_day"] == [
        {"date": "2021-01-23", "events": 3, "active_users": 2},
        {"date": "2021-01-24", "events": 1, "active_users": 1},
    ]


def test_one_day_has_no_daily_breakdown(tables) -> None:
    t = tables([event(session_id="a", datetime=at(0)), event(session_id="b", datetime=at(3600))])
    result = dump(t.activity())
    assert (result["days"], result["by_day"], result["busiest_hour"]) == (1, [], 10)


# -- 6. A/B tests -------------------------------------------------------------------------------


def assigned(session: str, group: str | None, test: str = "search_ranking", **cells):
    groups = "" if group is None else json.dumps({test: group})
    return event(session_id=session, test_groups=groups, **cells)


def ab_users(groups: dict[str, tuple[int, int]]) -> list[dict[str, str]]:
    """Rows for users per group: {group: (users, of whom clicked book-now)}."""
    rows = []
    for group, (users, clicked) in groups.items():
        for i in range(users):
            kind = "click_book-now" if i < clicked else "page_view"
            rows.append(assigned(f"{group}{i}", group, event_type=kind))
    return rows


def test_two_proportion_z_test_and_confidence_interval_by_hand(tables) -> None:
    t = tables(ab_users({"A": (4, 1), "B": (5, 4)}), AB_COLUMNS)
    result = dump(t.ab_tests())
    (test,) = result["tests"]
    assert (test["test"], test["control_group"], test["users"]) == ("search_ranking", "A", 9)
    a, b = test["groups"]
    assert (a["group"], a["users"], a["clicked_book_now"], a["book_now_rate"]) == ("A", 4, 1, 0.25)
    assert (b["group"], b["users"], b["clicked_book_now"], b["book_now_rate"]) == ("B", 5, 4, 0.8)
    assert a["vs_control"] is None

    p1, n1, p0, n0 = 4 / 5, 5, 1 / 4, 4
    difference = p1 - p0
    unpooled = math.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
    pooled_p = (4 + 1) / (5 + 4)
    pooled = math.sqrt(pooled_p * (1 - pooled_p) * (1 / n1 + 1 / n0))
    z = difference / pooled
    p_value = 2 * (1 - 0.5 * (1 + math.erf(abs(z) / math.sqrt(2))))
    got = b["vs_control"]["book_now"]
    assert got["difference"] == pytest.approx(0.55)
    assert got["relative_difference"] == pytest.approx(0.55 / 0.25)
    assert got["ci_low"] == pytest.approx(difference - Z_975 * unpooled)
    assert got["ci_high"] == pytest.approx(difference + Z_975 * unpooled)
    assert got["z"] == pytest.approx(z)
    assert got["p_value"] == pytest.approx(p_value)
    assert got["p_value"] == pytest.approx(0.0989, abs=1e-4)  # z = 0.55 / (1 / 3) = 1.65
    assert got["significant"] is False
    # Nobody created a request draft: both rates 0, so the test has nothing to reject.
    assert b["vs_control"]["request_draft"]["p_value"] == 1.0


def test_a_user_in_two_groups_of_a_test_is_excluded_and_counted(tables) -> None:
    rows = [
        assigned("a", "A"),
        assigned("b", "B"),
        assigned("c", "A", datetime=at(0)),
        assigned("c", "B", datetime=at(1), event_type="click_book-now"),
        assigned("c", None, datetime=at(2)),  # a blank cell assigns nothing
        # A second test in the same cell; c is in one group of it and stays in that test.
        event(session_id="c", datetime=at(3),
              test_groups=json.dumps({"search_ranking": "A", "new_gallery": "on"})),
        event(session_id="d", test_groups="not json"),
    ]  # fmt: skip
    t = tables(rows, AB_COLUMNS)
    result = dump(t.ab_tests())
    tests = {r["test"]: r for r in result["tests"]}
    assert list(tests) == ["new_gallery", "search_ranking"]
    ranking = tests["search_ranking"]
    assert ranking["users_in_several_groups"] == 1
    assert ranking["users"] == 2
    assert {g["group"]: g["users"] for g in ranking["groups"]} == {"A": 1, "B": 1}
    gallery = tests["new_gallery"]
    assert (gallery["users"], gallery["users_in_several_groups"]) == (1, 0)
    assert gallery["sample_ratio"] is None
    assert gallery["notes"] == ["only one group: nothing to compare"]
    assert result["users_with_assignment"] == 3


def test_sample_ratio_mismatch_is_flagged_for_a_70_30_split(tables) -> None:
    t = tables(ab_users({"A": (700, 70), "B": (300, 30)}), AB_COLUMNS)
    srm = dump(t.ab_tests())["tests"][0]["sample_ratio"]
    # By hand: expected 500 each, chi-square = 2 * 200**2 / 500 = 160 on 1 degree of freedom.
    assert srm["chi_square"] == pytest.approx(160)
    assert srm["p_value"] == pytest.approx(math.erfc(math.sqrt(160 / 2)))
    assert srm["mismatch"] is True
    balanced = dump(stats.sample_ratio_mismatch([510, 490]))
    assert balanced["mismatch"] is False
    assert balanced["p_value"] == pytest.approx(math.erfc(math.sqrt(0.4 / 2)))


def test_control_group_parameter_is_honoured(tables) -> None:
    t = tables(ab_users({"A": (4, 1), "B": (5, 4)}), AB_COLUMNS)
    default = dump(t.ab_tests())["tests"][0]
    flipped = dump(t.ab_tests(control_groups={"search_ranking": "B"}))["tests"][0]
    assert flipped["control_group"] == "B"
    a, b = flipped["groups"]
    assert b["vs_control"] is None
    assert a["vs_control"]["book_now"]["difference"] == pytest.approx(-0.55)
    b_vs_a = default["groups"][1]["vs_control"]["book_now"]
    assert a["vs_control"]["book_now"]["p_value"] == pytest.approx(b_vs_a["p_value"])
    # A control group that is not in the data falls back to the first group, with a note.
    missing = dump(t.ab_tests(control_groups={"search_ranking": "C"}))["tests"][0]
    assert missing["control_group"] == "A"
    assert missing["notes"] == ["control group 'C' is not in the data; using the first group"]


def test_without_test_groups_ab_tests_is_empty_with_a_note(tables) -> None:
    t = tables([event(session_id="a"), event(session_id="b")])
    result = dump(t.ab_tests())
    assert result == {
        "users_with_assignment": 0, "note": ab.NO_TEST_GROUPS_NOTE, "tests": [],
        "narrative": "The data has no A/B test assignments (test_groups), so no test is analysed.",
    }  # fmt: skip


# -- 7. user definitions ------------------------------------------------------------------------


def test_users_counted_as_sessions_and_as_visitors(tables) -> None:
    rows = [
        event(session_id="s1", visitor_id="v1", event_type="click_book-now"),
        event(session_id="s2", visitor_id="v1", event_type="click_book-now"),
        event(session_id="s3", visitor_id="v2", params={"page": {"request_id": "R-1"}}),
        event(session_id="s3", visitor_id="v2", datetime=at(5)),
        event(session_id="s4", visitor_id="", event_type="click_book-now"),
    ]
    t = tables(rows)
    result = dump(t.user_definitions())
    assert result["session_id"] == {
        "users_total": 4, "users_clicked_book_now": 3, "users_with_request_id": 1,
    }  # fmt: skip
    assert result["visitor_id"] == {
        "users_total": 2, "users_clicked_book_now": 1, "users_with_request_id": 1,
    }  # fmt: skip
    assert (result["rows_total"], result["rows_without_visitor_id"]) == (5, 1)


def test_without_visitor_id_there_is_no_visitor_count(tables) -> None:
    columns = [c for c in COLUMNS if c != "visitor_id"]
    t = tables([event(session_id="s1"), event(session_id="s2")], columns)
    result = dump(t.user_definitions())
    assert result["visitor_id"] is None
    assert result["session_id"]["users_total"] == 2
    assert "no visitor_id" in result["narrative"]


# -- the whole: insights() ----------------------------------------------------------------------


def test_insights_on_a_tiny_table_validates_and_narrates(tables) -> None:
    t = tables([search("a", 0), view("a", 1), book("a", 2), draft("a", 3)])
    result = everything(t)
    jsonschema.Draft202012Validator(insights_schema()).validate(result)
    assert all(result[name]["narrative"] for name in result)


def test_every_analysis_as_a_method_equals_the_report_s(tables) -> None:
    rows = [*pages("a", "search_page", "apartment_view"), *pages("b", "", ""), search("c", 0)]
    t = tables(rows)
    result = everything(t)
    assert result["paths"]["users_without_page_type"] == 1
    assert result["activity"]["active_users_total"] == 3
    assert dump(t.paths()) == result["paths"]
    assert dump(t.activity()) == result["activity"]
    assert dump(t.session_durations()) == result["sessions"]


def test_insights_of_no_events(tables) -> None:
    t = tables([event(session_id="a", env="development")])
    result = everything(t)
    jsonschema.Draft202012Validator(insights_schema()).validate(result)
    assert step_users(result["funnel"]["steps"]) == [0, 0, 0, 0]
    assert result["sessions"]["median_seconds"] is None
    assert result["activity"]["busiest_hour"] is None


@pytest.fixture(scope="module")
def sample() -> tuple[Events, dict[str, Any]]:
    t = load(SAMPLE_SOURCE)
    return t, everything(t)


def test_schema_is_valid_and_validates_the_sample(sample) -> None:
    _, result = sample
    jsonschema.Draft202012Validator.check_schema(insights_schema())
    jsonschema.Draft202012Validator(insights_schema()).validate(result)
    json.dumps(result, allow_nan=False)


def test_sample_is_internally_consistent(sample) -> None:
    t, result = sample
    users_total = t.users.count().execute()
    funnel = result["funnel"]
    assert funnel["users_total"] == users_total
    counts = step_users(funnel["steps"])
    assert counts == sorted(counts, reverse=True) and counts[-1] > 0
    for key in ("by_device_class", "by_first_om_source"):
        groups = funnel[key].values()
        assert sum(g["users_total"] for g in groups) == users_total
        for i, total in enumerate(counts):
            assert sum(g["steps"][i]["users"] for g in groups) == total
        for g in groups:
            group_counts = step_users(g["steps"])
            assert group_counts == sorted(group_counts, reverse=True)

    attribution = result["attribution"]
    for touch in ("first_touch", "last_touch"):
        assert sum(c[touch]["users"] for c in attribution["channels"]) == users_total
        clicked = sum(c[touch]["clicked_book_now"] for c in attribution["channels"])
        assert clicked == obj.users_clicked_book_now(t.users).execute()

    sessions = result["sessions"]
    assert sum(b["sessions"] for b in sessions["duration_histogram"]) == sessions["sessions_total"]
    assert sessions["median_seconds"] <= sessions["p90_seconds"]
    assert 0 < sessions["bounces"] <= sessions["one_event_sessions"]

    paths = result["paths"]
    assert len(paths["top"]) == 10
    assert [p["users"] for p in paths["top"]] == sorted((p["users"] for p in paths["top"]),
                                                        reverse=True)  # fmt: skip
    assert paths["users_with_page_type"] + paths["users_without_page_type"] == users_total

    activity = result["activity"]
    assert sum(h["events"] for h in activity["by_hour"]) == activity["events_total"]
    assert activity["events_total"] == t.events.count().execute()

    definitions = result["user_definitions"]
    assert definitions["session_id"]["users_total"] == users_total  # user_column=session_id
    assert definitions["visitor_id"]["users_total"] < users_total
    assert result["ab_tests"]["tests"] == [] or result["ab_tests"]["note"] is None


@pytest.fixture(scope="module")
def synthetic_50k(tmp_path_factory) -> Path:
    return write_synthetic_events(tmp_path_factory.mktemp("ab") / "events.csv", 50_000, seed=2021)


def test_planted_ab_effect_is_found_in_50k_synthetic_rows(synthetic_50k) -> None:
    t = load(synthetic_50k)
    result = everything(t)
    jsonschema.Draft202012Validator(insights_schema()).validate(result)
    (test,) = result["ab_tests"]["tests"]
    assert test["test"] == "search_ranking" and test["control_group"] == "A"
    a, b = test["groups"]
    assert (a["group"], b["group"]) == ("A", "B")
    assert b["book_now_rate"] > a["book_now_rate"]
    effect = b["vs_control"]["book_now"]
    assert effect["p_value"] < 0.05 and effect["ci_low"] > 0
    assert test["sample_ratio"]["mismatch"] is False
    # A user is a session here and a session carries one group: nobody is in two groups.
    assert test["users_in_several_groups"] == 0


def test_visitors_with_conflicting_groups_are_excluded(synthetic_50k) -> None:
    t = load(synthetic_50k, user_column="visitor_id")
    (test,) = dump(t.ab_tests())["tests"]
    assigned_users = ab.membership(t.events).count().execute()
    assert 0.001 < test["users_in_several_groups"] / assigned_users < 0.015
    assert test["users"] + test["users_in_several_groups"] == assigned_users



@given(
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=2, max_size=6),
    st.integers(min_value=1, max_value=10**6), st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6),
)  # fmt: skip
@settings(deadline=None)  # the first example imports scipy.stats
def test_the_statistics_are_scipy_stats_figures_exactly(sizes, n, n0, s, s0) -> None:
    """The tests compute scipy.stats' figures from scipy.special, sparing its 1 s import:
    the same functions scipy.stats calls, so the same floats, not nearly the same."""
    from scipy import stats as scipy_stats

    if sum(sizes):
        statistic, p_value = scipy_stats.chisquare(sizes)
        srm = stats.sample_ratio_mismatch(sizes)
        assert (srm.chi_square, srm.p_value) == (float(statistic), float(p_value))
    s, s0 = min(s, n), min(s0, n0)
    got = stats.compare_proportions(s, n, s0, n0)
    p1, p0 = s / n, s0 / n0
    margin = float(scipy_stats.norm.ppf(0.975)) * math.sqrt(p1 * (1 - p1) / n + p0 * (1 - p0) / n0)
    assert got.ci_high == (p1 - p0) + margin
    assert got.p_value == float(2 * scipy_stats.norm.sf(abs(got.z)))
