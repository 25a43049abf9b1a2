"""Views: what the notebook and its HTML show, drawn from a computed :class:`Report`.

Every figure is rendered with ``data-key`` (its JSON Pointer, RFC 6901, in report.json) and
``data-value`` (the exact number), so tests can check that the HTML and the notebook show
report.json's numbers.
Every string that comes from the data is HTML-escaped. Charts are inline PNGs (matplotlib),
so the exported HTML needs no network.
"""

from __future__ import annotations

import base64
import html
import inspect
import io
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: charts are rendered to PNG bytes
import matplotlib.pyplot as plt

from helpers import objectives
from helpers.report import Report

#: Plain-words labels for the KPI tiles and sub-counts.
_LABELS = {
    "users_total": "users",
    "users_search_then_apartment_view": "started on search, then viewed an apartment",
    "users_clicked_book_now": "clicked book now",
    "users_search_start_request_draft": "started on search and created a request draft",
    "users_with_request_id": "have a request id",
    "users": "users with a short session",
    "sessions": "short sessions",
    "started_on_search_page": "short sessions starting on search_page",
    "ended_on_apartment_view": "short sessions ending on apartment_view",
    "users_above": "users above the threshold",
    "users_below": "users below the threshold",
    "users_at_threshold": "users at the threshold",
    "sessions_ignored_other_currency": "sessions ignored (other currency)",
}
_SETTINGS = {"max_duration_seconds", "threshold", "currency"}
_LABELLED = {"short_sessions", "price_filter"}


@dataclass(frozen=True)
class Html:
    """A piece of HTML that Jupyter displays and nbconvert keeps in the exported page."""

    markup: str

    def _repr_html_(self) -> str:
        return self.markup


def summary(report: Report) -> Html:
    """The eight answers as tiles, the period covered and one data-quality line."""
    o = report.objectives
    tiles = [
        _tile(pointer("objectives", "users_total"), o["users_total"], "users analysed"),
        _tile(
            pointer("objectives", "short_sessions", "sessions"),
            o["short_sessions"]["sessions"],
            f"short sessions (≤ {o['short_sessions']['max_duration_seconds']} s)",
        ),
        *(
            _tile(pointer("objectives", key), o[key], _LABELS[key])
            for key in (
                "users_search_then_apartment_view",
                "users_clicked_book_now",
                "users_search_start_request_draft",
                "users_with_request_id",
            )
        ),
        _tile(
            pointer("objectives", "price_filter", "users_above"),
            o["price_filter"]["users_above"],
            f"users filtering above {o['price_filter']['threshold']} "
            f"{o['price_filter']['currency']}",
        ),
    ]
    top_device = next(iter(o["users_by_device_class"]), None)
    top_source = next(iter(o["users_by_first_om_source"]), None)
    source_label = (
        "users who came organically (no om_source)"
        if top_source == objectives.NO_OM_SOURCE
        else f"users whose first source is {top_source}"
    )
    if top_device is not None:
        tiles.append(
            _tile(
                pointer("objectives", "users_by_device_class", top_device),
                o["users_by_device_class"][top_device],
                f"users first seen on {top_device}",
            )
        )
    if top_source is not None:
        tiles.append(
            _tile(
                pointer("objectives", "users_by_first_om_source", top_source),
                o["users_by_first_om_source"][top_source],
                source_label,
            )
        )
    return Html(
        f'<div class="car-kpis">{"".join(tiles)}</div>'
        f'<p class="car-note">{_period_line(report)} {_quality_line(report)}</p>'
    )


def section(report: Report, key: str) -> Html:
    """One objective: its definition (the function's docstring), its numbers, a chart."""
    value = report.objectives[key]
    parts = [_definition_html(definition(key))]
    if isinstance(value, int):
        parts.append(_tile(pointer("objectives", key), value, _LABELS.get(key, key)))
        parts.append(_share(value, report.objectives["users_total"]))
    else:
        counts = {k: v for k, v in value.items() if k not in _SETTINGS}
        parts.append(_table(("objectives", key), counts, key))
        parts.append(_bar_chart(counts, key))
    return Html("".join(parts))


def data_quality(report: Report) -> Html:
    """Rows read, analysed, excluded by reason, and invalid params and prices."""
    q = report.data_quality
    rows = {"rows_read": q["rows_read"], "rows_analysed": q["rows_analysed"]}
    flags = {"params_invalid": q["params_invalid"], "price_invalid": q["price_invalid"]}
    return Html(
        _table(("data_quality",), rows, "data_quality")
        + "<p>Rows excluded, by the first reason that applies:</p>"
        + _table(("data_quality", "rows_excluded"), q["rows_excluded"], "data_quality")
        + _table(("data_quality",), flags, "data_quality")
        + '<p class="car-note">Excluded rows are written, with their reason and row number, '
        "to <code>rejected_rows.csv</code> beside this report. Rows with invalid params are "
        "still analysed, as if their params were empty.</p>"
    )


def definition(key: str) -> str:
    """The spec's definition of an objective: its function's docstring."""
    return inspect.cleandoc(getattr(objectives, key).__doc__ or "")


# -- pieces --------------------------------------------------------------------------------------


def _definition_html(text: str) -> str:
    """A docstring as HTML: paragraphs, ``- `` bullet lists, and ````code```` spans."""
    blocks = []
    for block in text.split("\n\n"):
        items, prose = [], []
        for line in block.splitlines():
            if line.startswith("- "):
                items.append(line[2:])
            elif items and line.startswith("  "):
                items[-1] += " " + line.strip()
            else:
                prose.append(line.strip())
        if prose:
            blocks.append(f"<p>{_inline(' '.join(prose))}</p>")
        if items:
            blocks.append("<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + "</ul>")
    return f'<div class="car-definition">{"".join(blocks)}</div>'


def _inline(text: str) -> str:
    escaped = html.escape(text)
    parts = escaped.split("``")
    return "".join(f"<code>{part}</code>" if i % 2 else part for i, part in enumerate(parts))


def pointer(*path: str) -> str:
    """The JSON Pointer of a value in report.json: ``pointer("objectives", "users_total")``."""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in path)


def _figure(key: str, value: Any) -> str:
    return (
        f'<span class="car-value" data-key="{html.escape(key)}" data-value="{value}">'
        f"{value:,}</span>"
    )


def _tile(key: str, value: int, label: str) -> str:
    return (
        f'<div class="car-kpi">{_figure(key, value)}'
        f'<span class="car-label">{html.escape(label)}</span></div>'
    )


def _share(value: int, total: int) -> str:
    share = f"{value / total:.1%}" if total else "n/a"
    return f'<p class="car-note">{share} of {total:,} users.</p>'


def _label(name: str, key: str) -> str:
    # Breakdown keys are values from the data (an om_source may well be "users"): shown as-is.
    return _LABELS.get(name, name) if key in _LABELLED else name


def _table(prefix: tuple[str, ...], counts: dict[str, int], key: str) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(_label(name, key))}</td>"
        f'<td class="car-num">{_figure(pointer(*prefix, name), value)}</td></tr>'
        for name, value in counts.items()
    )
    return f'<table class="car-table"><tbody>{rows}</tbody></table>'


def _bar_chart(counts: dict[str, int], key: str) -> str:
    if not counts:
        return '<p class="car-note">Nothing to chart: no users.</p>'
    labels = [_label(name, key) for name in counts]
    height = 0.45 * len(labels) + 0.9
    fig, ax = plt.subplots(figsize=(6.4, height), dpi=100)
    try:
        ax.barh(labels[::-1], list(counts.values())[::-1], color="#4c72b0")
        ax.set_xlabel("count")
        ax.set_title(key.replace("_", " "))
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
    finally:
        plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(key)} chart" src="data:image/png;base64,{data}"/>'


def _period_line(report: Report) -> str:
    period = report.data.get("period", {})
    first, last = period.get("first_event"), period.get("last_event")
    if not first:
        return "No events were analysed."
    return f"Events from {html.escape(first)} to {html.escape(last)} (UTC)."


def _quality_line(report: Report) -> str:
    q = report.data_quality
    excluded = sum(q["rows_excluded"].values())
    return (
        f"{_figure(pointer('data_quality', 'rows_analysed'), q['rows_analysed'])} of "
        f"{_figure(pointer('data_quality', 'rows_read'), q['rows_read'])} rows analysed; "
        f"{excluded:,} excluded (see Data quality)."
    )
