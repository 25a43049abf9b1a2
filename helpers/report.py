"""Report: assemble report.json from the grains and the analyses, and check it.

:func:`assemble` builds the typed :class:`~helpers.contract.Document` (every block of
report.json) from what the run computed, and :func:`validate` checks a document against the
shipped JSON Schema. :class:`helpers.Events` drives the run; ``helpers.outputs`` writes the
files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from importlib import resources
from typing import Any

import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from helpers import objectives as obj
from helpers.analyses import Result
from helpers.clean import EXCLUSION_REASONS
from helpers.contract import (
    SCHEMA_VERSION,
    DataQuality,
    Document,
    Objectives,
    Period,
    PriceFilter,
    ShortSessions,
)
from helpers.grains import Grains
from helpers.sources import ROW

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_REASON_COLUMN = 1  # of the rejected rows: source_row, reason, then the raw columns


@dataclass(frozen=True)
class Report:
    """A computed report: the typed document and the rejected rows behind its exclusion counts."""

    document: Document
    rejected: pa.Table  # the raw rows excluded, with source_row and reason

    @cached_property
    def data(self) -> dict[str, Any]:
        """report.json as plain JSON values, keys in the contract's order."""
        return self.document.model_dump(mode="json")

    @property
    def objectives(self) -> dict[str, Any]:
        return self.data["objectives"]

    @property
    def data_quality(self) -> dict[str, Any]:
        return self.data["data_quality"]


def assemble(
    grains: Grains,
    *,
    source: dict[str, Any],
    rows_read: int,
    rejected: pa.Table,
    insights: dict[str, Result],
    analyses: dict[str, Any],
) -> Report:
    """The report of a run: its numbers, computed from ``grains``, checked against the schema."""
    facts = grains.facts
    document = Document(
        schema_version=SCHEMA_VERSION,
        generated_at=_now(),
        source=source,
        parameters=grains.params.reported(),
        period=Period(first_event=_iso(facts["first"]), last_event=_iso(facts["last"])),
        data_quality=data_quality(rows_read, facts, rejected),
        objectives=objectives(grains),
        insights=insights,
        analyses=analyses,
    )
    report = Report(document=document, rejected=rejected)
    validate(report.data)
    return report


def objectives(grains: Grains) -> Objectives:
    """The eight objectives, executed: the counts of one table in one query (the users
    table's in one aggregate, the short sessions' in another, ...), not a query each."""
    events, users, sessions, params = grains.events, grains.users, grains.sessions, grains.params
    short_sessions = obj.short_sessions(events, sessions, params)
    price_filter = obj.price_filter(events, params)
    counts = _ints({
        "users_total": obj.users_total(users),
        "users_search_then_apartment_view": obj.users_search_then_apartment_view(users),
        "users_clicked_book_now": obj.users_clicked_book_now(users),
        "users_search_start_request_draft": obj.users_search_start_request_draft(users),
        "users_with_request_id": obj.users_with_request_id(users),
        **{("short_sessions", name): expr for name, expr in short_sessions.items()},
        **{("price_filter", name): expr for name, expr in price_filter.items()},
    })  # fmt: skip
    return Objectives(
        users_total=counts["users_total"],
        users_by_device_class=_counts(obj.users_by_device_class(users), "device_class"),
        users_by_first_om_source=_counts(obj.users_by_first_om_source(users), "om_source"),
        short_sessions=ShortSessions(
            max_duration_seconds=params.short_session_seconds,
            **{name: counts["short_sessions", name] for name in short_sessions},
        ),
        users_search_then_apartment_view=counts["users_search_then_apartment_view"],
        users_clicked_book_now=counts["users_clicked_book_now"],
        users_search_start_request_draft=counts["users_search_start_request_draft"],
        price_filter=PriceFilter(
            threshold=params.price_threshold,
            currency=params.price_currency,
            **{name: counts["price_filter", name] for name in price_filter},
        ),
        users_with_request_id=counts["users_with_request_id"],
    )


def data_quality(rows_read: int, facts: dict[str, Any], rejected: pa.Table) -> DataQuality:
    """Rows read, analysed and excluded by reason; flagged cells; notes in plain words."""
    by_reason = dict.fromkeys(EXCLUSION_REASONS, 0)
    # By position: the data may have a "reason" column of its own after ours.
    for count in pc.value_counts(rejected.column(_REASON_COLUMN)).to_pylist():
        by_reason[count["values"]] = count["counts"]
    quality = {
        "rows_read": rows_read,
        "rows_analysed": int(facts["rows"]),
        "rows_excluded": by_reason,
        "params_invalid": int(facts["params_invalid"] or 0),
        "price_invalid": int(facts["price_invalid"] or 0),
        "datetime_before_2000": int(facts["before_2000"] or 0),
        "datetime_in_the_future": int(facts["in_the_future"] or 0),
    }
    # Nothing is lost: a mismatch here is a bug in cleaning, never acceptable output.
    if quality["rows_analysed"] + sum(by_reason.values()) != rows_read:
        raise AssertionError(f"rows do not reconcile: {quality}")
    return DataQuality(**quality, notes=_notes(quality))


def _notes(quality: dict[str, Any]) -> list[str]:
    """Plain-words remarks on what the numbers rest on."""
    notes = []
    if quality["rows_read"] == 0:
        notes.append("The source holds no events (a header only): every figure is zero.")
    elif quality["rows_analysed"] == 0:
        notes.append(
            "Every row was excluded (see rows_excluded and rejected_rows.csv): "
            "every figure is zero."
        )
    if quality["datetime_before_2000"] or quality["datetime_in_the_future"]:
        notes.append(
            f"{quality['datetime_before_2000']:,} events are dated before 2000 and "
            f"{quality['datetime_in_the_future']:,} in the future; they are analysed as dated."
        )
    return notes


def rejected_rows(table: ir.Table, reasons: ir.Table) -> ir.Table:
    """The raw rows excluded, in input order: ``source_row`` (row 1 is the header, so the first
    event is row 2, the row number a spreadsheet shows), ``reason``, then the raw columns.

    A raw column named like one of ours (the data may have its own ``reason``) is called
    ``<name> (in the data)`` here; :func:`rejected_file_rows` gives it back its own name.
    """
    # The raw columns travel under positional names until the end: none can meet ours.
    raw_names = _raw_names(table)
    numbered = table.select(ROW, *[table[c].name(f"_{i}") for i, c in enumerate(raw_names)])
    rows = numbered.join(reasons, ROW).order_by(ROW)
    return rows.select(
        (rows[ROW] + 2).name("source_row"),
        rows.reason,
        *[
            rows[f"_{i}"].name(f"{c} (in the data)" if c in ("source_row", "reason") else c)
            for i, c in enumerate(raw_names)
        ],
    )


def rejected_file_rows(rejected: ir.Table, table: ir.Table) -> pa.Table:
    """:func:`rejected_rows` executed, every raw column under its own name, as the rejected
    rows file holds them."""
    return rejected.to_pyarrow().rename_columns(["source_row", "reason", *_raw_names(table)])


def _raw_names(table: ir.Table) -> list[str]:
    return [c for c in table.columns if c != ROW]


def validate(data: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless ``data`` follows the shipped report schema."""
    _validator().validate(data)


def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json, shipped in the package beside this module."""
    return json.loads(resources.files("helpers").joinpath("report.schema.json").read_text())


@cache
def _validator() -> Any:
    schema = report_schema()
    return _import_jsonschema().validators.validator_for(schema)(schema)


def _import_jsonschema() -> Any:
    # jsonschema imports rfc3987_syntax, when installed (Jupyter brings it), only to check the
    # "iri" formats; building its grammar costs 0.8 s, a tenth of a 1M-row run. Our schemas
    # use no formats, so jsonschema is imported without it, and the block is lifted after.
    blocked = "rfc3987_syntax" not in sys.modules and "jsonschema" not in sys.modules
    if blocked:
        sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import jsonschema
    finally:
        if blocked:
            del sys.modules["rfc3987_syntax"]
    return jsonschema


def _counts(expr: ir.Table, key: str) -> dict[str, int]:
    rows = expr.to_pyarrow().to_pylist()
    rows.sort(key=lambda r: (-r["users"], r[key]))
    return {r[key]: int(r["users"]) for r in rows}


def _ints(exprs: dict[Any, ir.Scalar]) -> dict[Any, int]:
    """Counts (0 for null), executed as one aggregate per table they count: each is a
    reduction of one table (``users.count(where=...)``), and those of the same table are
    measures of one query."""
    by_table: dict[ops.Relation, dict[str, ir.Scalar]] = {}
    for i, expr in enumerate(exprs.values()):
        (table,) = expr.op().relations
        by_table.setdefault(table, {})[f"m{i}"] = expr  # a name every engine takes as it is
    values: dict[str, Any] = {}
    for table, measures in by_table.items():
        values.update(table.to_expr().aggregate(**measures).to_pyarrow().to_pylist()[0])
    return {
        key: int(value) if (value := values[f"m{i}"]) is not None else 0
        for i, key in enumerate(exprs)
    }


def _iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    moment = _EPOCH + timedelta(microseconds=int(micros))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
