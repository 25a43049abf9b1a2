"""report.json: the contract's shape, the invariants behind its numbers, and safe writing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import jsonschema
import pytest
from conftest import event, examples, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import build_report
from helpers import outputs as outputs_module
from helpers.outputs import write_outputs
from helpers.params import ReportParams
from helpers.report import report_schema, validate

SPEC_EXAMPLE = {
    "schema_version": "1.0.0",
    "generated_at": "2026-11-22T10:00:00Z",
    "source": {"kind": "csv", "name": "sample_events.csv", "sha256": "0" * 64},
    "parameters": {"user_column": "session_id", "environments": ["production"],
                   "exclude_internal_traffic": True, "short_session_seconds": 5,
                   "price_threshold": 1200, "price_currency": "EUR"},
    "data_quality": {"rows_read": 0, "rows_analysed": 0,
                     "rows_excluded": {"invalid_datetime": 0, "missing_session_id": 0,
                                       "missing_user_id": 0, "non_production_env": 0,
                                       "internal_ip": 0, "duplicate_event": 0},
                     "params_invalid": 0, "price_invalid": 0},
    "objectives": {
        "users_total": 0,
        "users_by_device_class": {"desktop": 0, "phone": 0},
        "users_by_first_om_source": {"adwords": 0, "no_om_source": 0},
        "short_sessions": {"max_duration_seconds": 5, "users": 0, "sessions": 0,
                           "started_on_search_page": 0, "ended_on_apartment_view": 0},
        "users_search_then_apartment_view": 0,
        "users_clicked_book_now": 0,
        "users_search_start_request_draft": 0,
        "price_filter": {"threshold": 1200, "currency": "EUR", "users_above": 0,
                         "users_below": 0, "users_at_threshold": 0,
                         "sessions_ignored_other_currency": 0},
        "users_with_request_id": 0,
    },
}


def _keys(value: object, prefix: str = "") -> set[str]:
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, child in value.items():
        path = f"{prefix}.{key}" if prefix else key
        found.add(path)
        if key not in ("users_by_device_class", "users_by_first_om_source"):
            found |= _keys(child, path)
    return found


def test_the_spec_example_follows_the_schema() -> None:
    validate(SPEC_EXAMPLE)


@pytest.mark.parametrize(
    ("path", "bad"),
    [
        (("objectives", "users_total"), 1.5),
        (("objectives", "users_by_device_class"), {"phone": "3"}),
        (("data_quality", "rows_excluded"), {"invalid_datetime": 0}),
        (("schema_version",), "2.0.0"),
    ],
)
def test_the_schema_refuses_broken_reports(path: tuple[str, ...], bad: object) -> None:
    broken = json.loads(json.dumps(SPEC_EXAMPLE))
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = bad
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_a_report_has_every_key_of_the_contract_even_when_zero(report_of) -> None:
    data = report_of([event(env="development")]).data
    assert _keys(SPEC_EXAMPLE) <= _keys(data)
    counts = [v for k, v in data["data_quality"]["rows_excluded"].items()]
    assert all(type(v) is int for v in counts)
    assert type(data["objectives"]["users_total"]) is int


def test_reports_carry_insights_that_the_schema_checks(report_of) -> None:
    data = report_of([event(), event(session_id="b", test_groups='{"t": "A"}')]).data
    assert data["schema_version"] == "1.5.0"
    assert list(data["insights"]) == [
        "funnel", "attribution", "sessions", "events_per_session", "paths", "activity",
        "ab_tests", "user_definitions",
    ]  # fmt: skip
    broken = json.loads(json.dumps(data))
    broken["insights"]["funnel"]["steps"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_the_schema_ships_inside_the_package() -> None:
    assert report_schema()["title"] == "Customer activity report"


def test_outputs_are_replaced_atomically(report_of, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "out"
    first = report_of([event()])
    write_outputs(first, out)
    before = (out / "report.json").read_text()

    def broken_writer(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(outputs_module.pacsv, "write_csv", broken_writer)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(report_of([event(), event(session_id="b")]), out)
    # The previous pair is intact and no temporary file is left behind.
    assert sorted(p.name for p in out.iterdir()) == ["rejected_rows.csv", "report.json"]
    assert (out / "report.json").read_text() == before


# -- invariants -----------------------------------------------------------------------------------

_events = st.lists(
    st.fixed_dictionaries({
        "session_id": st.sampled_from(["s1", "s2", "s3", "s4", ""]),
        "visitor_id": st.sampled_from(["v1", "v2", ""]),
        "page_type": st.sampled_from(["search_page", "apartment_view", "booking_page", ""]),
        "event_type": st.sampled_from(
            ["page_view", "click_book-now", "request_draft-created", "click_filter-price"]
        ),
        "device_class": st.sampled_from(["phone", "desktop", ""]),
        "om_source": st.sampled_from(["adwords", "AdWords", "", "facebook"]),
        "env": st.sampled_from(["production", "production", "development"]),
        "is_internal_ip": st.sampled_from(["FALSE", "FALSE", "TRUE"]),
        "params": st.sampled_from([
            "{}", "{bad", '{"event_content": {"price": 1300, "currency": "EUR"}}',
            '{"event_content": {"price": "1200", "currency": "eur"}}',
            '{"event_content": {"price": 900, "currency": "GBP"}}',
            '{"event_content": {"price": true}}', '{"page": {"request_id": "R-1"}}',
        ]),
    }),
    min_size=1,
    max_size=25,
)


def _with_unique_times(rows: list[dict]) -> list[dict]:
    # Distinct times, so row order carries no information the spec lets through.
    return [
        event(**row, datetime=f"2021-01-23 10:{i // 60:02d}:{i % 60:02d}.{i % 7}00 UTC")
        for i, row in enumerate(rows)
    ]


def _report(tmp_path: Path, rows: list[dict], name: str, **params):
    path = write_csv(tmp_path / f"{name}.csv", rows)
    return build_report(ReportParams.build({"source": str(path), **params}))


# Each example runs the whole pipeline: no per-example deadline; tmp_path is shared on purpose.
_SLOW = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture]}
_USER_COLUMNS = st.sampled_from(["session_id", "visitor_id"])


@settings(max_examples=examples(20), **_SLOW)
@given(rows=_events, seed=st.integers(0, 10_000), user_column=_USER_COLUMNS)
def test_invariants_on_random_events(tmp_path: Path, rows, seed: int, user_column: str) -> None:
    rows = _with_unique_times(rows)
    base = _report(tmp_path, rows, "base", user_column=user_column)
    o, q = base.objectives, base.data_quality

    assert sum(o["users_by_device_class"].values()) == o["users_total"]
    assert sum(o["users_by_first_om_source"].values()) == o["users_total"]
    assert q["rows_read"] == q["rows_analysed"] + sum(q["rows_excluded"].values())
    assert base.rejected.num_rows == sum(q["rows_excluded"].values())
    assert o["short_sessions"]["users"] <= o["users_total"]

    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    assert _report(tmp_path, shuffled, "shuffled", user_column=user_column).objectives == o

    copies = random.Random(seed).sample(rows, k=min(3, len(rows)))
    doubled = _report(tmp_path, rows + copies, "doubled", user_column=user_column)
    assert doubled.objectives == o
    assert doubled.data_quality["rows_read"] == q["rows_read"] + len(copies)
    # A copy is excluded as a duplicate unless an earlier reason already excluded its original.
    added = sum(doubled.data_quality["rows_excluded"].values()) - sum(q["rows_excluded"].values())
    assert added == len(copies)

    noise = [
        dict(rows[0], env="development", session_id="dev-only"),
        dict(rows[0], is_internal_ip="true", session_id="internal-only"),
    ]
    noisy = _report(tmp_path, rows + noise, "noisy", user_column=user_column)
    assert noisy.objectives == o


# -- agreement with an independent reference implementation ---------------------------------------


@settings(max_examples=examples(25), **_SLOW)
@given(
    rows=_events,
    user_column=_USER_COLUMNS,
    same_second=st.booleans(),
    short_session_seconds=st.sampled_from([0, 5, 30]),
)
def test_pipeline_agrees_with_the_reference_implementation(
    tmp_path: Path, rows, user_column: str, same_second: bool, short_session_seconds: int
) -> None:
    from oracle import reference_report

    # Many ties when same_second: then only the input order can break them.
    rows = [
        event(**row, datetime=f"2021-01-23 10:00:{0 if same_second else i % 60:02d} UTC")
        for i, row in enumerate(rows)
    ]
    params = {"user_column": user_column, "short_session_seconds": short_session_seconds}
    path = write_csv(tmp_path / "events.csv", rows)
    ours = build_report(ReportParams.build({"source": str(path), **params}))
    reference = reference_report(path, **params)
    spec_quality = {k: ours.data_quality[k] for k in reference["data_quality"]}
    assert spec_quality == reference["data_quality"]
    assert ours.objectives == reference["objectives"]


def _counts(value: object) -> list[object]:
    """Every number in a report block, however nested (a boolean counts as one too)."""
    if isinstance(value, dict):
        return [c for v in value.values() for c in _counts(v)]
    if isinstance(value, list):
        return [c for v in value for c in _counts(v)]
    return [value] if isinstance(value, int | float) else []


def test_counts_are_integers_and_parameters_are_reported_as_given(report_of) -> None:
    rows = [
        event(session_id="a", device_class="phone", om_source="ads"),
        event(session_id="b", params={"event_content": {"price": 1300, "currency": "EUR"}}),
    ]
    report = report_of(
        rows, environments=["production", "Development"], exclude_internal_traffic=False,
        short_session_seconds=2.5, price_currency="gbp", price_threshold=1499.5,
    )  # fmt: skip
    objectives = dict(report.objectives)
    thresholds = {
        "max_duration_seconds": objectives["short_sessions"].pop("max_duration_seconds"),
        "threshold": objectives["price_filter"].pop("threshold"),
    }
    assert thresholds == {"max_duration_seconds": 2.5, "threshold": 1499.5}
    counts = _counts(objectives) + _counts(report.data_quality)
    assert counts and all(type(c) is int for c in counts)
    assert report.data["parameters"] == {
        **report.data["parameters"],
        "environments": ["production", "Development"],
        "exclude_internal_traffic": False,
        "short_session_seconds": 2.5,
        "price_currency": "gbp",
        "price_threshold": 1499.5,
    }
    # A whole threshold stays a whole number in the JSON, as it was given.
    whole = json.dumps(report_of(rows).data)
    assert '"threshold": 1200,' in whole and '"max_duration_seconds": 5,' in whole
