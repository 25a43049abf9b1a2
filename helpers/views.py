"""Views: what the notebook and its HTML show, drawn from a computed :class:`Report`.

Each function returns :class:`Html`, which Jupyter displays and nbconvert keeps in the exported
page; the markup comes from the autoescaped templates in ``helpers/templates/`` and, for each
analysis, beside its module (``helpers/analyses/<name>.html.j2``). Every figure carries its
JSON Pointer in report.json (``data-key``) and its exact value (``data-value``), so tests can
check that the HTML and the notebook show report.json's numbers.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass

from helpers import analyses, html, objectives
from helpers.glossary import WORDS
from helpers.grains import NO_OM_SOURCE
from helpers.params import ReportParams
from helpers.report import Report

#: Plain-words labels for the KPI tiles and the objectives' sub-counts: the glossary's.
LABELS = WORDS
#: Settings shown in the objectives' blocks, not counts.
_SETTINGS = {"max_duration_seconds", "threshold", "currency"}
#: Objectives whose sub-counts are named by us (the others by values from the data).
_LABELLED = {"short_sessions", "price_filter"}


@dataclass(frozen=True)
class Html:
    """A piece of HTML that Jupyter displays and nbconvert keeps in the exported page."""

    markup: str

    def _repr_html_(self) -> str:
        return self.markup


def summary(report: Report) -> Html:
    """The eight answers as tiles, the period covered and one data-quality line."""
    doc = report.document
    return Html(
        html.render(
            "templates/summary.html.j2",
            doc=doc,
            labels=LABELS,
            no_om_source=NO_OM_SOURCE,
            excluded=sum(doc.data_quality.rows_excluded.model_dump().values()),
            what_if=what_if(report),
            changes={k.pointer: (name, k) for name, k in doc.comparison.kpis.items()}
            if doc.comparison else {},
        )
    )


def what_if(report: Report) -> list[tuple[str, str]]:
    """The reported parameters that differ from the defaults, as (name, value) to show: a
    report that counts visitors or includes development traffic says so at the top."""
    defaults = ReportParams().reported()
    shown = []
    for name, value in report.data["parameters"].items():
        if value != defaults.get(name):
            text = ", ".join(map(str, value)) if isinstance(value, list) else value
            if isinstance(value, dict):
                text = ", ".join(f"{k}: {v}" for k, v in value.items())
            shown.append((name, str(text)))
    return shown


def section(report: Report, key: str) -> Html:
    """One objective: its definition (the function's docstring), its numbers, a chart."""
    value = report.objectives[key]
    rows = []
    if isinstance(value, dict):
        # Breakdown keys are values from the data (an om_source may well be "users"): as-is.
        rows = [
            (LABELS.get(name, name) if key in _LABELLED else name, name, count)
            for name, count in value.items()
            if name not in _SETTINGS
        ]
    return Html(
        html.render(
            "templates/objective.html.j2",
            key=key,
            value=value,
            rows=rows,
            definition=definition(key),
            labels=LABELS,
            users_total=report.objectives["users_total"],
            missing=report.data_quality["objectives_unavailable"].get(key, []),
        )
    )


def data_quality(report: Report) -> Html:
    """Rows read, analysed, excluded by reason, and invalid params and prices."""
    return Html(html.render("templates/data_quality.html.j2", doc=report.document))


def insight(report: Report, key: str, *, heading: bool = False) -> Html:
    """One analysis: its narrative, its definition, its tables and charts."""
    analysis = analyses.get(key)
    result = getattr(getattr(report.document, analysis.section), key)
    if result is None:  # the events lack a column it needs
        missing = report.data_quality["analyses_unavailable"].get(key, [])
        return Html(html.render("templates/unavailable.html.j2", analysis=analysis,
                                missing=missing, heading=heading))  # fmt: skip
    return Html(analysis.html(result, heading=heading))


def insights(report: Report) -> Iterator[Html]:
    """Every analysis beyond the objectives, in report order, each under its heading."""
    for analysis in analyses.in_section("insights"):
        yield insight(report, analysis.key, heading=True)


def questions(report: Report) -> Iterator[Html]:
    """The analyst's own questions (funnels, retention, trends, lifecycle), each under its
    heading."""
    for analysis in analyses.in_section("analyses"):
        yield insight(report, analysis.key, heading=True)


def definition(key: str) -> str:
    """The spec's definition of an objective: its function's docstring."""
    return inspect.cleandoc(getattr(objectives, key).__doc__ or "")
