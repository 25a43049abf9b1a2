"""The house the analyses live in: the registry, the generated schemas, the entry point, the
views drawn from typed results, and the one formatter."""

from __future__ import annotations

import doctest
import json
import pkgutil
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from conftest import event

from helpers import Events, ReportParams, analyses, contract, fmt, open_events, views
from helpers.analyses.activity import Activity, Day, Hour
from helpers.errors import ParameterError
from helpers.params import SAMPLE_SOURCE

PACKAGE = Path(analyses.__file__).parent


# -- the registry ---------------------------------------------------------------------------------


def test_every_analysis_module_is_registered_once_in_report_order() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules([str(PACKAGE)]) if m.name[0] != "_")
    registered = sorted(a.compute.__module__.rsplit(".", 1)[-1] for a in analyses.ANALYSES)
    assert registered == modules
    orders = [a.order for a in analyses.ANALYSES]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert len({a.key for a in analyses.ANALYSES}) == len(analyses.ANALYSES)


@pytest.mark.parametrize("section", ["insights", "analyses"])
def test_each_section_model_and_schema_follow_the_registry(section: str) -> None:
    members = analyses.in_section(section)
    assert members, section
    keys = [a.key for a in members]
    assert list(analyses.section_model(section).model_fields) == keys
    schema = json.loads((PACKAGE.parent / f"{section}.schema.json").read_text())
    # Analyses added after their section itself are not required of older reports.
    assert schema.get("required", []) == [a.key for a in members if a.since is None]
    assert list(schema["properties"]) == keys and schema["additionalProperties"] is False
    assert {a.section for a in analyses.ANALYSES} == {"insights", "analyses"}


@pytest.mark.parametrize("analysis", analyses.ANALYSES, ids=lambda a: a.key)
def test_each_analysis_has_its_template_and_a_plain_words_definition(analysis) -> None:
    assert (PACKAGE.parent / analysis.template).is_file()
    assert analysis.title.endswith("?")
    # Shown to stakeholders: no developer markup (Sphinx roles, directives).
    assert analysis.definition and not re.search(r":\w+:`", analysis.definition)
    # A method parameter must be a report parameter (it is validated as one).
    assert set(analysis.parameters) <= set(ReportParams.model_fields)
    assert analysis.spec is None or analysis.spec in ReportParams.model_fields


@pytest.mark.parametrize(
    "name", ["report.schema.json", "insights.schema.json", "analyses.schema.json"]
)
def test_the_committed_schemas_are_the_generated_ones(name: str) -> None:
    committed = json.loads(resources.files("helpers").joinpath(name).read_text())
    assert committed == contract.schemas()[name], (
        f"helpers/{name} differs from the models: run `python -m helpers schemas`"
    )


def test_keys_added_after_1_0_are_not_required_of_older_reports() -> None:
    schema = contract.schemas()["report.schema.json"]
    assert schema["required"] == [
        "schema_version", "generated_at", "source", "parameters", "data_quality", "objectives",
    ]  # fmt: skip
    quality = schema["$defs"]["DataQuality"]
    assert "notes" in quality["properties"] and "notes" not in quality["required"]


# -- the entry point ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> Events:
    return open_events(str(SAMPLE_SOURCE))


def test_open_events_gives_the_tables_and_the_report_of_the_same_numbers(sample) -> None:
    report = sample.report()
    users = sample.users.to_pandas()
    assert len(users) == users.user_id.nunique() == report.objectives["users_total"]
    assert sample.events.count().execute() == report.data_quality["rows_analysed"]
    rejected = sample.rejected.to_pandas()
    assert len(rejected) == sum(report.data_quality["rows_excluded"].values())
    assert list(rejected.columns[:2]) == ["source_row", "reason"]
    assert (rejected.source_row.diff().dropna() > 0).all()  # input order
    for analysis in analyses.ANALYSES:
        method = getattr(sample, analysis.compute.__name__)
        computed = method().model_dump(mode="json")
        assert computed == report.data[analysis.section][analysis.key], analysis.key
    assert sample.objectives().model_dump(mode="json") == report.objectives


def test_an_analysis_method_takes_its_own_parameters_only(sample) -> None:
    flipped = sample.ab_tests(control_groups={"search_ranking": "B"})
    assert [t.control_group for t in flipped.tests] == ["B"]
    assert sample.ab_tests().tests[0].control_group == "A"  # the events' own stay as they were
    with pytest.raises(ParameterError, match=r"ab_tests\(\) takes control_groups, not user_col"):
        sample.ab_tests(user_column="visitor_id")
    with pytest.raises(ParameterError, match="short_session_seconds"):
        sample.session_durations(short_session_seconds=-1)


def test_the_methods_are_discoverable(sample) -> None:
    names = dir(sample)
    for analysis in analyses.ANALYSES:
        assert analysis.compute.__name__ in names
        assert getattr(sample, analysis.compute.__name__).__doc__ == analysis.compute.__doc__
    with pytest.raises(AttributeError, match="no attribute 'funnell'"):
        sample.funnell  # noqa: B018


def test_open_events_checks_parameters_as_the_cli_does(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"unknown parameter.*'user_colum'"):
        open_events(str(SAMPLE_SOURCE), user_colum="visitor_id")
    by_params = open_events(ReportParams(user_column="visitor_id"))
    assert by_params.params.user_column == "visitor_id"
    assert open_events({"price_threshold": 1500}).params.price_threshold == 1500


def test_a_result_shows_itself_in_a_notebook(events_of) -> None:
    events = events_of([event(session_id="a"), event(session_id="b", page_type="apartment_view")])
    markup = events.paths()._repr_html_()
    assert "home_page" not in markup and "apartment_view" in markup
    assert 'data-key="/insights/paths/top/0/users"' in markup


# -- views from typed results ---------------------------------------------------------------------


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_activity_over_several_days_shows_each_date() -> None:
    # The day column once read a key the results did not have and showed "None".
    by_hour = [Hour(hour=h, events=1 if h == 3 else 0, active_users=1 if h == 3 else 0)
               for h in range(24)]  # fmt: skip
    result = Activity(
        events_total=3, active_users_total=2, days=2, busiest_hour=3, by_hour=by_hour,
        by_day=[Day(date="2021-01-23", events=2, active_users=1),
                Day(date="2021-01-24", events=1, active_users=1)],
    )  # fmt: skip
    parser = _Text()
    parser.feed(analyses.get("activity").html(result))
    text = " ".join(parser.text)
    assert "2021-01-23" in text and "2021-01-24" in text and "None" not in text


def test_every_definition_reaches_the_page_as_html_not_markup(sample) -> None:
    report = sample.report()
    page = "".join(i.markup for i in (*views.insights(report), *views.questions(report)))
    page += "".join(views.section(report, key).markup for key in report.objectives)
    assert "<code>" in page
    for leak in (":func:", "``", "**"):
        assert leak not in page, leak
    for analysis in analyses.ANALYSES:
        assert f'<h2 id="{analysis.key}">{analysis.title}</h2>' in page


def test_strings_from_the_data_are_escaped(events_of) -> None:
    hostile = '<script>alert("x")</script>'
    events = events_of([event(session_id="a", om_source=hostile)])
    markup = events.attribution()._repr_html_()
    assert "<script>" not in markup and "&lt;script&gt;" in markup


# -- one formatter --------------------------------------------------------------------------------


def test_the_formatter_examples_hold() -> None:
    assert doctest.testmod(fmt).failed == 0


@pytest.mark.parametrize(
    ("value", "shown"), [
        (0.0, "0.0 s"), (59.94, "59.9 s"), (60, "1.0 min"), (70.8, "1.2 min"),
        (3599, "60.0 min"), (3600, "1 h"), (5400, "1.5 h"), (86400, "1 day"),
        (129600, "1.5 days"), (7 * 86400, "7 days"),
    ]
)
def test_one_duration_format_everywhere(value: float, shown: str) -> None:
    assert fmt.seconds(value) == shown


def test_a_funnel_of_your_own_shows_itself(events_of) -> None:
    events = events_of([
        event(session_id="a"), event(session_id="a", page_type="apartment_view"),
        event(session_id="b"),
    ])  # fmt: skip
    mine = events.funnel([{"page_type": "search_page"}, {"page_type": "apartment_view"}])
    assert [s.users for s in mine.steps] == [2, 1]
    markup = mine._repr_html_()
    assert "<h3>funnel</h3>" in markup and 'data-key="/analyses/funnels/0/steps/1/users"' in markup


def test_the_readmes_links_stay_inside_the_repository() -> None:
    """A link of the README (the specification's included) resolves to a file of the
    repository, never to ``../shared/...`` outside it."""
    root = Path(__file__).resolve().parent.parent
    links = re.findall(r"\]\(([^)#]+)", (root / "README.md").read_text(encoding="utf-8"))
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert "docs/definitions.md" in local
    for link in local:
        target = (root / link).resolve()
        assert target.is_relative_to(root) and target.exists(), link
