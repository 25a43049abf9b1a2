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

from helpers import analyses, html, objectives, small_cells
from helpers.glossary import WORDS, words
from helpers.grains import NO_OM_SOURCE
from helpers.params import ReportParams
from helpers.report import Report

#: Plain-words labels for the KPI tiles and the objectives' sub-counts: the glossary's.
LABELS = WORDS
#: The eight questions as the report asks them: objective -> (heading, what it counts).
QUESTIONS = {
    "users_by_device_class": (
        "Which devices do our users use?",
        "Each user is counted once, by the device of their first event that names one.",
    ),
    "users_by_first_om_source": (
        "Which marketing channel brought each user first?",
        "First touch: the channel of the user's first event that has one; organic users have "
        "none.",
    ),
    "short_sessions": (
        "How many sessions are over almost before they start?",
        "Sessions lasting no longer than the short-session limit, and where they start and end.",
    ),
    "users_search_then_apartment_view": (
        "Who goes from searching to looking at an apartment?", None,
    ),
    "users_clicked_book_now": ("Who clicked Book now?", None),
    "users_search_start_request_draft": (
        "Who started on search and went on to draft a request?", None,
    ),
    "price_filter": (
        "Do users filter for prices above or below the threshold?",
        "Sessions that filtered in another currency are left out, and counted.",
    ),
    "users_with_request_id": ("How many users reached a request?", None),
}  # fmt: skip
#: What each sub-count of the objectives counts: their charts show one unit only.
_SESSION_COUNTS = {
    "sessions", "started_on_search_page", "ended_on_apartment_view",
    "sessions_ignored_other_currency",
}  # fmt: skip
#: The breakdowns' own names for "none" (the other names are values from the data).
_NONE_NAMES = {"users_by_device_class": "unknown", "users_by_first_om_source": NO_OM_SOURCE}
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
    report = small_cells.for_people(report)
    doc = report.document
    return Html(
        html.render(
            "templates/summary.html.j2",
            doc=doc,
            labels=LABELS,
            no_om_source=NO_OM_SOURCE,
            excluded=sum(doc.data_quality.rows_excluded.model_dump().values()),
            what_if=what_if(report),
            contents=contents(report),
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
    report = small_cells.for_people(report)
    value = report.objectives[key]
    rows = []
    if isinstance(value, dict):
        # Breakdown keys are values from the data (an om_source may well be "users"): as-is,
        # but for the breakdown's own name for "none". Small values folded into one row
        # (small_cells) have no place in report.json: their name is None.
        minimum = report.document.parameters.min_group_users
        rows = [
            (words(name) if key in _LABELLED or name == _NONE_NAMES.get(key) else name,
             name, count)
            if name != small_cells.OTHER else (name, None, small_cells.shown(count, minimum))
            for name, count in value.items()
            if name not in _SETTINGS
        ]  # fmt: skip
    # One unit per chart: short_sessions charts its sessions, price_filter its users; a folded
    # row shown as "fewer than 5" is no bar.
    unit = "sessions" if key == "short_sessions" else "users"
    charted = [
        r for r in rows
        if (r[1] in _SESSION_COUNTS) == (unit == "sessions") and isinstance(r[2], int)
    ]  # fmt: skip
    title, lead = QUESTIONS.get(key, (words(key), None))
    return _noted(
        report,
        key,
        html.render(
            "templates/objective.html.j2",
            key=key,
            number=list(QUESTIONS).index(key) + 1 if key in QUESTIONS else None,
            title=title,
            lead=lead,
            value=value,
            rows=rows,
            charted=charted,
            unit=unit,
            definition=definition(key),
            labels=LABELS,
            users_total=report.objectives["users_total"],
            missing=report.data_quality["objectives_unavailable"].get(key, []),
        ))


def data_quality(report: Report) -> Html:
    """Rows read, analysed, excluded by reason, and invalid params and prices."""
    report = small_cells.for_people(report)
    return Html(html.render("templates/data_quality.html.j2", doc=report.document))


def contents(report: Report) -> list[tuple[str, list[tuple[str, str]]]]:
    """The table of contents: (group, [(anchor, heading)]), each anchor an ``id`` that the
    sections' own templates write."""
    doc = report.document
    groups = [("The eight questions", [
        (key, f"{i}. {title}") for i, (key, (title, _)) in enumerate(QUESTIONS.items(), 1)
    ])]  # fmt: skip
    named = (("insights", "Beyond the eight questions"), ("analyses", "Your questions"))
    for section, name in named:
        groups.append((name, [(a.key, a.title) for a in analyses.in_section(section)]))
    about = [("data-quality", "Data quality"), ("glossary", "Glossary")]
    if doc.comparison is not None:
        about.insert(0, ("comparison", "Compared with the previous report"))
    groups.append(("About these figures", about))
    return groups


def glossary() -> Html:
    """Every code name the report can show, in plain words: the glossary's one registry."""
    return Html(html.render("templates/glossary.html.j2", entries=sorted(WORDS.items())))


def insight(report: Report, key: str, *, heading: bool = False) -> Html:
    """One analysis: its narrative, its definition, its tables and charts."""
    report = small_cells.for_people(report)
    analysis = analyses.get(key)
    result = getattr(getattr(report.document, analysis.section), key)
    if result is None:  # the events lack a column it needs
        missing = report.data_quality["analyses_unavailable"].get(key, [])
        return Html(html.render("templates/unavailable.html.j2", analysis=analysis,
                                missing=missing, heading=heading))  # fmt: skip
    return _noted(report, key, analysis.html(result, heading=heading))


def _noted(report: Report, key: str, markup: str) -> Html:
    """``markup`` and, when small groups were left out of it, the note that says so."""
    note = small_cells.note_of(report, key)
    markup = small_cells.repointed(report, key, markup)
    return Html(markup + (html.render("templates/small_cells.html.j2", note=note) if note else ""))


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
