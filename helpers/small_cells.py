"""Small cells and pseudonyms in what people read: a transformation of the report the
notebook's views receive (issue 18), so the views and templates stay as they are.

- :func:`for_people` is the report as the HTML and the notebook show it: a breakdown value,
  a path, an A/B group or a cohort with fewer than ``min_group_users`` users (but more than
  none) is not shown on its own. In the objectives' breakdowns such values are folded into
  one row, :data:`OTHER`, showing their sum ("fewer than 5" when that sum is small too); in an
  analysis' tables they are left out and a note says how many and how many users they hold.
  The objectives' totals and every other figure are never suppressed; report.json keeps
  exact numbers (it is written before this transformation).
- :func:`pseudonymised_document` replaces the ids that an analysis shows (the values of a
  breakdown by an id column) with the run's pseudonyms.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

from helpers.analyses.funnels import NO_VALUE
from helpers.contract import Document
from helpers.fmt import count as show_count
from helpers.html import pointer
from helpers.privacy import ID_COLUMNS, Pseudonyms
from helpers.report import Report

#: The row small values of an objective's breakdown are folded into.
OTHER = "other (small groups)"
#: The objectives with breakdowns by values from the data.
BREAKDOWNS = ("users_by_device_class", "users_by_first_om_source")


@dataclass(frozen=True)
class Folded:
    """What the views leave out: a note per objective or analysis key, and, per key, the
    lists whose items moved up (their JSON Pointer and the index in report.json of each
    item shown), so that every figure still carries its own place in report.json."""

    notes: dict[str, str] = field(default_factory=dict)
    moved: dict[str, list[tuple[str, list[int]]]] = field(default_factory=dict)


def for_people(report: Report, min_users: int | None = None) -> Report:
    """``report`` as the HTML and the notebook show it: small groups folded, ids
    pseudonymised (when ``pseudonymise`` names them). ``min_users`` defaults to the
    ``min_group_users`` parameter. A report already transformed is returned as it is."""
    if report.small_cells is not None:
        return report
    k = report.document.parameters.min_group_users if min_users is None else min_users
    document = report.document
    pseudonyms = report.pseudonyms
    if pseudonyms is not None and pseudonyms.applies_to("html"):
        document = pseudonymised_document(document, pseudonyms)
    folded = Folded()
    if k > 0:
        document, folded = _suppressed(document, k)
    return dataclasses.replace(report, document=document, small_cells=folded)


def shown(count: int | str, min_users: int) -> int | str:
    """How a folded count is shown: itself, or "fewer than K" when it is small."""
    if isinstance(count, int) and 0 < count < min_users:
        return f"fewer than {min_users}"
    return count


def note_of(report: Report, key: str) -> str | None:
    """The note on what ``key``'s tables leave out, if anything was left out."""
    return report.small_cells.notes.get(key) if isinstance(report.small_cells, Folded) else None


def repointed(report: Report, key: str, markup: str) -> str:
    """``markup`` whose figures' JSON Pointers name their items' places in report.json,
    where the view showed a list without its small items."""
    if not isinstance(report.small_cells, Folded):
        return markup
    for at, indices in report.small_cells.moved.get(key, []):
        pattern = re.compile("(" + re.escape(f'data-key="{at}/') + r")(\d+)(?=[/\"])")
        markup = pattern.sub(_to(indices), markup)
    return markup


def _to(indices: list[int]) -> Any:
    """A substitution giving a shown item's index its index in report.json."""
    return lambda m: m.group(1) + str(indices[int(m.group(2))])


def _small(n: int, k: int) -> bool:
    return 0 < n < k


def _suppressed(document: Document, k: int) -> tuple[Document, Folded]:
    objectives = document.objectives
    update: dict[str, Any] = {}
    for key in BREAKDOWNS:
        values = getattr(objectives, key)
        if values is not None and any(_small(n, k) for n in values.values()):
            kept = {v: n for v, n in values.items() if not _small(n, k)}
            kept[OTHER] = sum(n for n in values.values() if _small(n, k))
            update[key] = kept
    folded = Folded()
    insights = _section(document.insights, "insights", k, folded, _INSIGHTS)
    analyses = _section(document.analyses, "analyses", k, folded, _ANALYSES)
    document = document.model_copy(update={
        "objectives": objectives.model_copy(update=update),
        "insights": insights, "analyses": analyses,
    })  # fmt: skip
    for key in update:
        folded.notes[key] = (
            f"Values with fewer than {k} users are folded into \u201c{OTHER}\u201d; "
            f"report.json keeps every value."
        )
    return document, folded


@dataclass
class _Cut:
    """What one rule leaves out: the users of each group left out, the lists that moved."""

    k: int
    at: tuple[Any, ...]
    left_out: list[int] = field(default_factory=list)
    moved: list[tuple[str, list[int]]] = field(default_factory=list)


def _section(section: Any, name: str, k: int, folded: Folded, rules: dict[str, Any]) -> Any:
    update = {}
    for key, rule in rules.items():
        result = getattr(section, key, None)
        if result is None:
            continue
        cut = _Cut(k=k, at=(name, key))
        update[key] = rule(result, cut)
        if cut.moved:
            folded.moved[key] = cut.moved
        left_out = cut.left_out
        if left_out:
            folded.notes[key] = (
                f"{len(left_out)} group{'s' if len(left_out) > 1 else ''} with fewer than "
                f"{k} users each ({show_count(sum(left_out))} users in all) "
                f"{'are' if len(left_out) > 1 else 'is'} not shown; report.json keeps them."
            )
    return section.model_copy(update=update)


def _kept(items: list[Any], users: Any, cut: _Cut, *at: Any) -> list[Any]:
    """``items`` (the list at ``cut.at + at`` in report.json) without the small ones
    (``users(item)`` their users), which ``cut`` notes."""
    kept, indices = [], []
    for i, item in enumerate(items):
        n = users(item)
        if _small(n, cut.k):
            cut.left_out.append(n)
        else:
            kept.append(item)
            indices.append(i)
    if len(kept) < len(items):
        cut.moved.append((pointer((*cut.at, *at)), indices))
    return kept


def _paths(result: Any, cut: _Cut) -> Any:
    return result.model_copy(update={"top": _kept(result.top, lambda p: p.users, cut, "top")})


def _ab_tests(result: Any, cut: _Cut) -> Any:
    tests = [
        t.model_copy(update={"groups": _kept(t.groups, lambda g: g.users, cut, "tests", i,
                                             "groups")})
        for i, t in enumerate(result.tests)
    ]  # fmt: skip
    return result.model_copy(update={"tests": tests})


def _attribution(result: Any, cut: _Cut) -> Any:
    def users(c: Any) -> int:
        small = [n for n in (c.first_touch.users, c.last_touch.users) if _small(n, cut.k)]
        return max(small) if small else 0

    return result.model_copy(
        update={"channels": _kept(result.channels, users, cut, "channels")}
    )


def _funnel(result: Any, cut: _Cut) -> Any:
    update = {}
    for name in ("by_device_class", "by_first_om_source"):  # by key: nothing moves
        groups = getattr(result, name)
        kept = [(v, g) for v, g in groups.items() if not _small(g.users_total, cut.k)]
        cut.left_out += [g.users_total for g in groups.values() if _small(g.users_total, cut.k)]
        update[name] = dict(kept)
    return result.model_copy(update=update)


def _retention(result: Any, cut: _Cut) -> Any:
    return result.model_copy(
        update={"cohorts": _kept(result.cohorts, lambda c: c.users, cut, "cohorts")}
    )


def _breakdown(result: Any, users: Any, cut: _Cut, *at: Any) -> Any:
    if result.breakdown is None:
        return result
    values = _kept(result.breakdown.values, users, cut, *at, "breakdown", "values")
    return result.model_copy(
        update={"breakdown": result.breakdown.model_copy(update={"values": values})}
    )


def _funnels(result: Any, cut: _Cut) -> Any:
    funnels = [
        _breakdown(f, lambda v: v.users_total, cut, i) for i, f in enumerate(result.root)
    ]
    return result.model_copy(update={"root": funnels})


def _trends(result: Any, cut: _Cut) -> Any:
    return _breakdown(result, lambda v: v.users, cut)


_INSIGHTS = {
    "funnel": _funnel, "attribution": _attribution, "paths": _paths, "ab_tests": _ab_tests,
}  # fmt: skip
_ANALYSES = {"funnels": _funnels, "retention": _retention, "trends": _trends}


def pseudonymised_document(document: Document, pseudonyms: Pseudonyms) -> Document:
    """``document`` with the values of every breakdown by an id column (the user column,
    session_id, visitor_id) replaced by their pseudonyms."""
    ids = {"user_id", *ID_COLUMNS, document.parameters.user_column}
    analyses = document.analyses
    update: dict[str, Any] = {}
    if analyses.funnels is not None:
        funnels = [_pseudonymised(f, ids, pseudonyms) for f in analyses.funnels.root]
        update["funnels"] = analyses.funnels.model_copy(update={"root": funnels})
    if analyses.trends is not None:
        update["trends"] = _pseudonymised(analyses.trends, ids, pseudonyms)
    return document.model_copy(update={"analyses": analyses.model_copy(update=update)})


def _pseudonymised(result: Any, ids: set[str], pseudonyms: Pseudonyms) -> Any:
    breakdown = result.breakdown
    if breakdown is None or breakdown.column not in ids:
        return result
    values = [
        v if v.value == NO_VALUE else v.model_copy(update={"value": pseudonyms.of_id(v.value)})
        for v in breakdown.values
    ]
    return result.model_copy(update={"breakdown": breakdown.model_copy(update={"values": values})})
