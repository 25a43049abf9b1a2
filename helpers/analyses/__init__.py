"""Analyses: every question the report answers beyond the eight objectives, one module each.

The registry below is the only list of them: report.json's ``insights``, its JSON Schema, the
notebook's and the HTML's sections and :class:`helpers.Events`' methods all read it. It finds
the analyses itself: every module of this package whose name does not start with ``_``
defines ``ANALYSIS`` (see ``_base.py`` for what an analysis module holds). Adding an analysis
means adding its module, its template and its test, nothing else.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from typing import Any

from pydantic import Field, create_model

from helpers.analyses._base import Analysis, Model, Result, since
from helpers.grains import Grains

__all__ = [
    "ANALYSES", "Analysis", "Result", "analysis_of", "compute_all", "get", "in_section",
    "insights_model", "section_model", "unavailable",
]  # fmt: skip

_log = logging.getLogger("helpers.report")


def _discover() -> tuple[Analysis, ...]:
    found = [
        importlib.import_module(f"{__name__}.{module.name}").ANALYSIS
        for module in pkgutil.iter_modules(__path__)
        if not module.name.startswith("_")
    ]
    keys = [a.key for a in found]
    if len(set(keys)) != len(keys):
        raise RuntimeError(f"two analyses share a key: {sorted(keys)}")
    return tuple(sorted(found, key=lambda a: a.order))


#: Every analysis, in report order.
ANALYSES: tuple[Analysis, ...] = _discover()


def get(key: str) -> Analysis:
    """The analysis registered under ``key``."""
    for analysis in ANALYSES:
        if analysis.key == key:
            return analysis
    raise KeyError(f"no analysis {key!r}; there are {', '.join(a.key for a in ANALYSES)}")


def analysis_of(result: Any) -> Analysis:
    """The analysis whose result ``result`` is."""
    return next(a for a in ANALYSES if isinstance(result, a.result))


def in_section(section: str) -> tuple[Analysis, ...]:
    """The analyses written in one block of report.json (``insights`` or ``analyses``)."""
    return tuple(a for a in ANALYSES if a.section == section)


def compute_all(grains: Grains, section: str = "insights") -> dict[str, Any]:
    """Every analysis of ``section``'s result, in report order (each one's time logged at
    DEBUG, as ``--debug`` shows it)."""
    results = {}
    for analysis in in_section(section):
        started = time.perf_counter()
        results[analysis.key] = None if analysis.missing(grains) else analysis.compute(grains)
        _log.debug("  %s: %.2f s", analysis.key, time.perf_counter() - started)
    return results


def unavailable(grains: Grains) -> dict[str, list[str]]:
    """The analyses that cannot be computed, with the columns each needs and the log lacks."""
    return {a.key: a.missing(grains) for a in ANALYSES if a.missing(grains)}


_DESCRIPTIONS = {
    "insights": "Behavioural analytics beyond the eight objectives. Counts are integers; rates "
    "and shares are fractions in [0, 1] (null when their denominator is 0); every analysis "
    "carries a narrative written from its own numbers.",
    "analyses": "The analyst's own questions, defined in the parameters: funnels, retention "
    "cohorts, trends and stickiness, lifecycle. null means not observed or no denominator, "
    "never zero; counts are integers.",
}


def section_model(section: str) -> type[Model]:
    """The model of one block of report.json: one field per analysis, in report order."""
    return create_model(  # type: ignore[call-overload, no-any-return]
        section.capitalize(),
        __config__=Model.model_config,
        __doc__=_DESCRIPTIONS[section],
        **{a.key: _field(a) for a in in_section(section)},
    )


def _field(analysis: Analysis) -> tuple[Any, Any]:
    # Always present; an analysis that needs optional columns is null on a log without them.
    if not analysis.needs:
        return analysis.result, since(analysis.since) if analysis.since else ...
    note = {"description": f"null when the events have no {' or no '.join(analysis.needs)} column."}
    field = since(analysis.since, **note) if analysis.since else Field(**note)
    return analysis.result | None, field


def insights_model() -> type[Model]:
    """The model of report.json's ``insights``."""
    return section_model("insights")
