"""Period over period: a report's KPIs beside an earlier report's, with the change, and a
two-proportion z-test for the rates. The statistics are checked against arithmetic written
out by hand; the refusals through the real CLI."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from conftest import event, run_cli, write_csv

from helpers import views
from helpers.comparison import attach, compare, load_previous, precedes
from helpers.errors import ReportError
from helpers.notebook import write_report
from helpers.params import ReportParams
from helpers.report import validate

ROOT = Path(__file__).resolve().parent.parent


def _pair(report_of, now: dict, before: dict) -> tuple[dict, dict]:
    """Two copies of a real report.json whose objectives are set to ``now`` and ``before``."""
    base = report_of([event()]).data
    current, previous = copy.deepcopy(base), copy.deepcopy(base)
    current["objectives"].update(now)
    previous["objectives"].update(before)
    return current, previous


def test_a_known_change_in_a_share_of_users_is_more_than_noise(report_of) -> None:
    current, previous = _pair(
        report_of,
        {"users_total": 1000, "users_clicked_book_now": 150},
        {"users_total": 1000, "users_clicked_book_now": 100},
    )
    kpi = compare(current, previous, "before.json").kpis["users_clicked_book_now"]
    assert (kpi.current, kpi.previous, kpi.change, kpi.relative_change) == (150, 100, 50, 0.5)
    # By hand: p1 = 150/1000 = 0.15, p0 = 100/1000 = 0.10, difference 0.05.
    # Pooled rate (150 + 100) / 2000 = 0.125; pooled SE = sqrt(0.125 * 0.875 * (1/1000 +
    # 1/1000)) = sqrt(0.00021875) = 0.0147902; z = 0.05 / 0.0147902 = 3.38062.
    # Two-sided p = erfc(z / sqrt 2) = 0.000723.
    # Unpooled SE = sqrt(0.15 * 0.85 / 1000 + 0.10 * 0.90 / 1000) = sqrt(0.0002175)
    # = 0.0147479; margin 1.959964 * 0.0147479 = 0.0289054; CI 0.0210946 to 0.0789054.
    test = kpi.rate.test
    assert kpi.rate.rate == 0.15 and kpi.rate.previous_rate == 0.10
    assert test.difference == pytest.approx(0.05)
    assert test.z == pytest.approx(3.38062, abs=1e-5)
    assert test.p_value == pytest.approx(math.erfc(3.38062 / math.sqrt(2)), rel=1e-4)
    assert test.p_value == pytest.approx(0.000723, abs=1e-6)
    assert test.ci_low == pytest.approx(0.0210946, abs=1e-6)
    assert test.ci_high == pytest.approx(0.0789054, abs=1e-6)
    assert test.significant is True


def test_a_small_change_in_a_share_of_users_is_noise(report_of) -> None:
    current, previous = _pair(
        report_of,
        {"users_total": 1000, "users_with_request_id": 104},
        {"users_total": 1000, "users_with_request_id": 100},
    )
    test = compare(current, previous, "before.json").kpis["users_with_request_id"].rate.test
    # By hand: pooled rate 204/2000 = 0.102; SE = sqrt(0.102 * 0.898 * 0.002) = 0.0135349;
    # z = 0.004 / 0.0135349 = 0.295532; p = erfc(0.295532 / sqrt 2) = 0.76759.
    assert test.z == pytest.approx(0.295532, abs=1e-5)
    assert test.p_value == pytest.approx(0.76759, abs=1e-4)
    assert test.ci_low < 0 < test.ci_high
    assert test.significant is False


def test_counts_without_a_base_have_no_test_and_missing_kpis_are_left_out(report_of) -> None:
    current, previous = _pair(
        report_of,
        {"users_total": 40, "users_clicked_book_now": None},
        {"users_total": 50},
    )
    kpis = compare(current, previous, "before.json").kpis
    assert kpis["users_total"].change == -10 and kpis["users_total"].relative_change == -0.2
    assert kpis["users_total"].rate is None
    assert kpis["short_sessions.sessions"].rate is None
    assert "users_clicked_book_now" not in kpis  # null now: nothing to compare


def test_the_comparison_is_in_report_json_and_the_html_shows_its_numbers(
    report_of, tmp_path: Path
) -> None:
    before = report_of([event(), event(session_id="s2", event_type="click_book-now")])
    now = report_of([event(session_id=f"s{i}") for i in range(3)])
    compared = attach(now, before.data, "before/report.json")
    validate(compared.data)
    block = compared.data["comparison"]
    assert block["previous"]["path"] == "before/report.json"
    assert block["kpis"]["users_total"] | {"rate": None} == {
        "pointer": "/objectives/users_total", "unit": "users", "current": 3, "previous": 2,
        "change": 1, "relative_change": 0.5, "rate": None,
    }  # fmt: skip
    # By hand: 0 of 3 clicked now, 1 of 2 before: difference -0.5.
    clicked = block["kpis"]["users_clicked_book_now"]["rate"]["test"]
    assert clicked["difference"] == pytest.approx(-0.5)
    markup = views.summary(compared).markup
    assert "Compared with the previous report" in markup
    assert 'data-key="/comparison/kpis/users_total/previous" data-value="2"' in markup
    assert "was <span" in markup and "(+1, +50.0%)" in markup
    assert now.data["comparison"] is None  # an uncompared report says so


def test_precedes_follows_the_periods_and_the_users(report_of) -> None:
    early = report_of([event(datetime="2021-01-22 10:00:00")]).data
    late = report_of([event(datetime="2021-01-23 10:00:00")]).data
    assert precedes(early, late) and not precedes(late, early) and not precedes(late, late)
    visitors = copy.deepcopy(late)
    visitors["parameters"]["user_column"] = "visitor_id"
    assert not precedes(early, visitors)



@pytest.fixture(scope="module")
def visitors_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("visitors")
    source = write_csv(directory / "events.csv", [event()])
    write_report(ReportParams(source=str(source), user_column="visitor_id"), directory / "out")
    return directory / "out" / "report.json"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d, v: d / "missing.json", "does not exist"),
        (lambda d, v: _write(d / "broken.json", "{not json"), "is not JSON"),
        (lambda d, v: _write(d / "other.json", '{"a": 1}'), "is not a report.json"),
        (lambda d, v: v, "counts users by 'visitor_id', this report by 'session_id'"),
    ],
    ids=["missing", "not-json", "not-a-report", "other-users"],
)
def test_a_compare_to_file_that_cannot_be_compared_is_refused_in_one_paragraph(
    tmp_path: Path, visitors_report: Path, make, message: str
) -> None:
    source = write_csv(tmp_path / "events.csv", [event()])
    target = make(tmp_path, visitors_report)
    result = run_cli("run", "--json-only", "--source", str(source), "--out", str(tmp_path / "out"),
                  "--compare-to", str(target))  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert "--compare-to" in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "out" / "report.json").exists()


def test_compare_to_through_the_cli_writes_the_comparison(tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", [event(), event(session_id="s2")])
    second = write_csv(tmp_path / "b.csv", [event(event_type="click_book-now")])
    assert run_cli("run", "--json-only", "--source", str(first), "--out", str(tmp_path / "a")
                ).returncode == 0  # fmt: skip
    result = run_cli("run", "--json-only", "--source", str(second), "--out", str(tmp_path / "b"),
                  "--compare-to", str(tmp_path / "a" / "report.json"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    block = json.loads((tmp_path / "b" / "report.json").read_text())["comparison"]
    assert block["kpis"]["users_total"]["previous"] == 2
    assert block["kpis"]["users_total"]["current"] == 1
    assert block["kpis"]["users_clicked_book_now"]["rate"]["rate"] == 1.0


def test_load_previous_reads_a_report_directory(report_of, tmp_path: Path) -> None:
    write_report(ReportParams(source=str(write_csv(tmp_path / "e.csv", [event()]))), tmp_path)
    assert load_previous(tmp_path)["objectives"]["users_total"] == 1
    with pytest.raises(ReportError, match="does not exist"):
        load_previous(tmp_path / "nowhere")


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
