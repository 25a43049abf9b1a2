"""Batch index: one page and one JSON file over the runs of a batch (``OUT/<name>/``).

:func:`write_index` reads each run's report.json and writes ``OUT/index.json`` (typed by
:class:`BatchIndex`) and ``OUT/index.html`` (self-contained): a row per run with its source,
period, the parameters that differ from the defaults, the KPIs and a relative link to its
report, and the KPIs' trend lines across the runs, one chart per unit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field

from helpers import html
from helpers.analyses._base import Model
from helpers.comparison import KPIS, value_at
from helpers.glossary import words
from helpers.outputs import REPORT_FILE
from helpers.run import HTML_FILE

INDEX_JSON, INDEX_HTML = "index.json", "index.html"


class BatchRun(Model):
    """One run of the batch, as its report.json gives it."""

    name: str = Field(description="The run's directory below the batch's output directory.")
    source: dict[str, Any] = Field(description="The run's source block.")
    first_event: str | None = Field(description="The run's first analysed event, UTC.")
    last_event: str | None = Field(description="The run's last analysed event, UTC.")
    parameters: dict[str, Any] = Field(description="Its parameters that differ from defaults.")
    kpis: dict[str, int | None] = Field(description="KPI name -> value (null: not answered).")
    users_total: int = Field(description="The run's users, the base of the shares.")
    report_json: str = Field(description="Its report.json, relative to the index.")
    report_html: str | None = Field(description="Its report.html, relative; null: JSON only.")


class BatchIndex(Model):
    """The runs of a batch in the order they ran."""

    runs: list[BatchRun]


def index(out: Path, runs: list[Path]) -> BatchIndex:
    """The index of the runs written into ``runs`` (directories below ``out``)."""
    from helpers.params import ReportParams

    defaults = ReportParams().reported()
    rows = []
    for run in runs:
        data = json.loads((run / REPORT_FILE).read_text(encoding="utf-8"))
        name = run.relative_to(out).as_posix()
        rows.append(BatchRun(
            name=name,
            source=data["source"],
            first_event=data["period"]["first_event"],
            last_event=data["period"]["last_event"],
            parameters={k: v for k, v in data["parameters"].items() if v != defaults.get(k)},
            kpis={kpi: value_at(data, where) for kpi, (where, _, _) in KPIS.items()},
            users_total=data["objectives"]["users_total"],
            report_json=f"{name}/{REPORT_FILE}",
            report_html=f"{name}/{HTML_FILE}" if (run / HTML_FILE).is_file() else None,
        ))  # fmt: skip
    return BatchIndex(runs=rows)


def write_index(out: Path, runs: list[Path]) -> list[Path]:
    """Write ``out``'s index.json and index.html for ``runs``; return their paths."""
    out = out.resolve()
    batch = index(out, [r.resolve() for r in runs])
    json_path, html_path = out / INDEX_JSON, out / INDEX_HTML
    json_path.write_text(
        json.dumps(batch.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    html_path.write_text(
        html.render("templates/index.html.j2", batch=batch, units=_units(), trends=_trends(batch)),
        encoding="utf-8",
    )
    return [json_path, html_path]


def _units() -> dict[str, str]:
    return {name: unit for name, (_, unit, _) in KPIS.items()}


def _trends(batch: BatchIndex) -> list[tuple[str, list[str], dict[str, list[Any]]]]:
    """The charts: (unit, x labels, {KPI: values}); one unit per chart, so users and sessions
    never share an axis; the shares of users (the KPIs with a rate over users) in their own."""
    x = [run.name for run in batch.runs]
    charts: dict[str, dict[str, list[Any]]] = {}
    for name, (_, unit, base) in KPIS.items():
        values = [run.kpis[name] for run in batch.runs]
        if all(v is None for v in values):
            continue
        charts.setdefault(unit, {})[words(name)] = values
        if base == ("objectives", "users_total"):
            charts.setdefault("share of users", {})[words(name)] = [
                None if v is None or not run.users_total else v / run.users_total
                for v, run in zip(values, batch.runs, strict=True)
            ]
    return [(unit, x, series) for unit, series in charts.items()]

