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

from helpers import insights as insights_module
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
    flags = {
        key: q[key]
        for key in ("params_invalid", "price_invalid", "datetime_before_2000",
                    "datetime_in_the_future")
        if key in q
    }
    notes = "".join(f'<p class="car-note">{html.escape(n)}</p>' for n in q.get("notes", []))
    return Html(
        _table(("data_quality",), rows, "data_quality")
        + "<p>Rows excluded, by the first reason that applies:</p>"
        + _table(("data_quality", "rows_excluded"), q["rows_excluded"], "data_quality")
        + _table(("data_quality",), flags, "data_quality")
        + notes
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


def _bar_chart(
    counts: dict[str, int], key: str, *, log: bool = False, vertical: bool = False
) -> str:
    if not counts:
        return '<p class="car-note">Nothing to chart: no users.</p>'
    labels = [_label(name, key) for name in counts]
    size = (6.4, 3.2) if vertical else (6.4, 0.45 * len(labels) + 0.9)
    fig, ax = plt.subplots(figsize=size, dpi=100)
    try:
        if vertical:
            ax.bar(labels, list(counts.values()), color="#4c72b0")
            ax.set_ylabel("count")
        else:
            ax.barh(labels[::-1], list(counts.values())[::-1], color="#4c72b0")
            ax.set_xlabel("count (log scale)" if log else "count")
            if log:
                ax.set_xscale("symlog")
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
        f"{excluded:,} excluded (see Data quality). "
        + " ".join(html.escape(note) for note in q.get("notes", []))
    )


# -- beyond the eight questions -------------------------------------------------------------------

#: Which function's docstring defines each insight.
_INSIGHT_FUNCTIONS = {
    "funnel": "funnel", "attribution": "attribution", "sessions": "session_insights",
    "paths": "paths", "activity": "activity", "ab_tests": "ab_tests",
    "user_definitions": "user_definitions",
}


def insight(report: Report, name: str) -> Html:
    """One analysis beyond the objectives: narrative, definition, chart and table."""
    result = report.data["insights"][name]
    doc = inspect.cleandoc(getattr(insights_module, _INSIGHT_FUNCTIONS[name]).__doc__ or "")
    body = _INSIGHT_RENDERERS[name](result, ("insights", name))
    return Html(
        f'<p class="car-narrative">{html.escape(result.get("narrative") or "")}</p>'
        f"{_definition_html(doc)}{body}"
    )


def _funnel(result: dict[str, Any], at: tuple[str, ...]) -> str:
    steps = result["steps"]
    rows = [
        [html.escape(s["step"]), _figure(pointer(*at, "steps", str(i), "users"), s["users"]),
         _pct(s["conversion_from_first"]), _pct(s["conversion_from_previous"]),
         f"{s['drop_off']:,}"]
        for i, s in enumerate(steps)
    ]
    chart = _bar_chart({s["step"]: s["users"] for s in steps}, "funnel")
    by_device = [
        [html.escape(device), *(f"{s['users']:,}" for s in value["steps"])]
        for device, value in result["by_device_class"].items()
    ]
    return (
        _grid(["step", "users", "of first step", "of previous step", "dropped"], rows) + chart
        + "<p>Users reaching each step, by device class:</p>"
        + _grid(["device class", *(s["step"] for s in steps)], by_device)
    )


def _attribution(result: dict[str, Any], at: tuple[str, ...]) -> str:
    rows = []
    for i, c in enumerate(result["channels"]):
        first, last = c["first_touch"], c["last_touch"]
        rows.append([
            html.escape(c["channel"]),
            _figure(pointer(*at, "channels", str(i), "first_touch", "users"), first["users"]),
            f"{first['clicked_book_now']:,}", f"{first['created_request_draft']:,}",
            f"{last['users']:,}", f"{last['clicked_book_now']:,}",
            f"{last['created_request_draft']:,}",
        ])
    chart = _bar_chart({c["channel"]: c["first_touch"]["users"] for c in result["channels"]},
                       "users by first touch")
    return _grid(["channel", "first touch: users", "book now", "request draft",
                  "last touch: users", "book now", "request draft"], rows) + chart


def _sessions(result: dict[str, Any], at: tuple[str, ...]) -> str:
    facts = [
        ["sessions", _figure(pointer(*at, "sessions_total"), result["sessions_total"])],
        ["one-event sessions", _figure(pointer(*at, "one_event_sessions"),
                                       result["one_event_sessions"])],
        [f"multi-event sessions of at most {result['short_session_seconds']} s",
         _figure(pointer(*at, "multi_event_short_sessions"),
                 result["multi_event_short_sessions"])],
        ["median duration", _seconds(result["median_seconds"])],
        ["90th percentile", _seconds(result["p90_seconds"])],
        ["bounce rate", _pct(result["bounce_rate"])],
    ]
    histogram = {b["bucket"]: b["sessions"] for b in result["duration_histogram"]}
    return _grid(["", ""], facts) + _bar_chart(histogram, "sessions by duration (s)", log=True)


def _paths(result: dict[str, Any], at: tuple[str, ...]) -> str:
    rows = [
        [html.escape(p["path"]), _figure(pointer(*at, "top", str(i), "users"), p["users"]),
         _pct(p["share"])]
        for i, p in enumerate(result["top"])
    ]
    return _grid(["first page types of the journey", "users", "share"], rows)


def _activity(result: dict[str, Any], at: tuple[str, ...]) -> str:
    hours = {f"{h['hour']:02d}": h["events"] for h in result["by_hour"]}
    days = [
        [html.escape(str(d.get("day"))), f"{d['events']:,}", f"{d['active_users']:,}"]
        for d in result["by_day"]
    ]
    return _bar_chart(hours, "events per hour (UTC)", vertical=True) + (
        _grid(["day", "events", "active users"], days) if days else ""
    )


def _ab_tests(result: dict[str, Any], at: tuple[str, ...]) -> str:
    if not result["tests"]:
        return f'<p class="car-note">{html.escape(result.get("note") or "No A/B tests.")}</p>'
    parts = []
    for t, test in enumerate(result["tests"]):
        rows = []
        for g, group in enumerate(test["groups"]):
            versus = group.get("vs_control") or {}
            book = versus.get("book_now")
            rows.append([
                html.escape(group["group"]) + (" (control)" if not versus else ""),
                _figure(pointer(*at, "tests", str(t), "groups", str(g), "users"), group["users"]),
                _pct(group["book_now_rate"]), _pct(group["request_draft_rate"]),
                _difference(book) if book else "",
                f"{book['p_value']:.4f}" if book else "",
            ])
        srm = test.get("sample_ratio") or {}
        parts.append(
            f"<h4>{html.escape(test['test'])}</h4>"
            + _grid(["group", "users", "book-now rate", "request-draft rate",
                     "book-now vs control (95% CI)", "p-value"], rows)
            + f'<p class="car-note">{test["users_in_several_groups"]:,} users seen in several '
            f"groups were excluded. Sample ratio: "
            + ("<strong>mismatch</strong>" if srm.get("mismatch") else "as expected")
            + (f" (p = {srm['p_value']:.3g})." if srm else ".") + "</p>"
        )
    return "".join(parts)


def _user_definitions(result: dict[str, Any], at: tuple[str, ...]) -> str:
    rows = []
    for name in ("session_id", "visitor_id"):
        value = result.get(name)
        if value:
            rows.append([
                f"users as {name}",
                _figure(pointer(*at, name, "users_total"), value["users_total"]),
                f"{value['users_clicked_book_now']:,}", f"{value['users_with_request_id']:,}",
            ])
    return _grid(["definition", "users", "clicked book now", "with a request id"], rows)


_INSIGHT_RENDERERS = {
    "funnel": _funnel, "attribution": _attribution, "sessions": _sessions, "paths": _paths,
    "activity": _activity, "ab_tests": _ab_tests, "user_definitions": _user_definitions,
}


def _grid(header: list[str], rows: list[list[str]]) -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="{"car-num" if i else ""}">{c}</td>'
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f'<div class="car-scroll"><table class="car-table"><thead><tr>{head}</tr></thead>' \
           f"<tbody>{body}</tbody></table></div>"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.1f} s"


def _difference(versus: dict[str, Any]) -> str:
    return (
        f"{versus['difference'] * 100:+.1f} pts "
        f"[{versus['ci_low'] * 100:+.1f}, {versus['ci_high'] * 100:+.1f}]"
    )
