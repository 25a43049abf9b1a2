"""The report in a stakeholder's words: a table of contents whose links land, a glossary of
every code name the page shows, no docstring markup, one duration format, and case variants
of a channel flagged."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import event

from helpers import build_report, fmt, views
from helpers.comparison import attach
from helpers.glossary import WORDS, words
from helpers.params import ReportParams

ROOT = Path(__file__).resolve().parent.parent
DAY = ROOT / "tests" / "data" / "marketplace_day.csv.gz"


class _Text(HTMLParser):
    """The page's visible text (no styles), and every id."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.ids: list[str] = []
        self._style = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._style += tag == "style"
        self.ids += [v for k, v in attrs if k == "id" and v]

    def handle_endtag(self, tag: str) -> None:
        self._style -= tag == "style"

    def handle_data(self, data: str) -> None:
        if not self._style:
            self.text.append(data)


@pytest.fixture(scope="module")
def day():
    report = build_report(ReportParams(source=str(DAY)))
    return attach(report, report.data, "day/report.json")  # compared, so every part shows


@pytest.fixture(scope="module")
def page(day) -> str:
    parts = [views.summary(day), *[views.section(day, k) for k in views.QUESTIONS],
             *views.insights(day), *views.questions(day), views.data_quality(day),
             views.glossary()]  # fmt: skip
    return "".join(p.markup for p in parts)


def test_every_contents_link_lands_on_one_heading(page: str) -> None:
    parsed = _Text()
    parsed.feed(page)
    links = re.findall(r'<a href="#([^"]+)"', page)
    assert len(links) >= 8 + 8 + 4 + 3
    for anchor in links:
        assert parsed.ids.count(anchor) == 1, anchor


def test_every_code_name_on_the_page_is_in_the_glossary(page: str, day) -> None:
    parsed = _Text()
    parsed.feed(page)
    text = " ".join(parsed.text)
    names = set(re.findall(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?:-[a-z]+)?\b", text))
    # Values from the data are shown as written: the file's name and the A/B tests' keys.
    tests = day.data["insights"]["ab_tests"]["tests"]
    data_values = {DAY.name.split(".")[0], *(t["test"] for t in tests)}
    assert sorted(names - set(WORDS) - data_values) == []


def test_the_page_shows_words_not_codes_where_a_reader_reads(page: str) -> None:
    for code in ("invalid_datetime", "non_production_env", "params_invalid"):
        assert f"<td>{code}</td>" not in page  # data quality rows are named in words
        assert f"<td>{words(code)}</td>" in page
    assert "<td>search_page</td>" not in page  # the funnel's steps
    for leak in (":func:", ":class:", "``", "**"):
        assert leak not in page, leak


def test_the_median_session_reads_the_same_in_the_narrative_and_the_table(day) -> None:
    sessions = day.document.insights.sessions
    shown = fmt.seconds(sessions.median_seconds)
    markup = views.insight(day, "sessions").markup
    assert f"lasts {shown}" in sessions.narrative
    assert f"<td class=\"car-num\">{shown}</td>" in markup


def test_channels_that_differ_only_in_case_are_flagged_and_still_counted_apart(report_of) -> None:
    report = report_of([
        event(session_id="a", om_source="AdWords"), event(session_id="b", om_source="adwords"),
        event(session_id="c", om_source="adwords"), event(session_id="d", om_source="facebook"),
    ])  # fmt: skip
    assert report.objectives["users_by_first_om_source"] == {
        "adwords": 2, "AdWords": 1, "facebook": 1,
    }  # fmt: skip
    notes = [n for n in report.data_quality["notes"] if "differ only in case" in n]
    assert notes == [
        "om_source values that differ only in case are counted apart, as the specification "
        "requires: adwords (2 users) and AdWords (1 user). If they are one, fix the tracking."
    ]
    assert "differ only in case" in views.data_quality(report).markup
