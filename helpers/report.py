"""Report: run the pipeline once and assemble report.json, validated against its JSON Schema.

:func:`build_report` is the one computation behind every number the notebook, the HTML and
report.json show; :mod:`helpers.outputs` writes its files.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from helpers import objectives as obj
from helpers.backend import Engine, connect
from helpers.clean import EXCLUSION_REASONS, clean_events
from helpers.errors import ReportError, SourceError
from helpers.insights import insights
from helpers.params import ReportParams
from helpers.sources import ROW, RawEvents, read_events, table_events

_log = logging.getLogger(__name__)

SCHEMA_VERSION = "1.1.0"  # 1.1: the insights object

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_YEAR_2000_US = 946_684_800_000_000


@dataclass(frozen=True)
class Report:
    """A computed report: the JSON document and the rejected rows behind its exclusion counts."""

    data: dict[str, Any]
    rejected: pa.Table  # the raw rows excluded, with source_row and reason

    @property
    def objectives(self) -> dict[str, Any]:
        return self.data["objectives"]

    @property
    def data_quality(self) -> dict[str, Any]:
        return self.data["data_quality"]


def build_report(params: ReportParams, *, raw: RawEvents | None = None) -> Report:
    """Load, clean and answer every objective for ``params``; validate the result.

    Each stage is logged (``helpers.report``, DEBUG) with its time, and shown as a progress
    bar on stderr when that is a terminal.
    """
    with _progress() as stage, _damaged_files_named() as scanned_files:
        with stage("reading the events"):
            engine = connect(
                params.backend, spark_master=params.spark_master, memory_limit=params.memory_limit
            )
            table, source, files = _raw_events(engine, params, raw)
            scanned_files.extend(files)
            rows_read = _int(table.count())
        with stage("cleaning"):
            cleaned = clean_events(table, params)
            events = cleaned.events  # materialised by cleaning
        with stage("users and sessions"):
            # Each grain once; every objective reads these instead of rescanning events.
            users = obj.users(events).cache()
            sessions = obj.sessions(events).cache()
        with stage("rejected rows"):
            rejected = _rejected_rows(table, cleaned.rejected)
        with stage("the eight objectives"):
            facts = _event_facts(events)
            data = {
                "schema_version": SCHEMA_VERSION,
                "generated_at": _now(),
                "source": source,
                "parameters": params.reported(),
                "period": _period(facts),
                "data_quality": _data_quality(rows_read, facts, rejected),
                "objectives": _objectives(events, users, sessions, params),
            }
        with stage("insights"):
            data["insights"] = insights(
                events,
                users,
                sessions,
                control_groups=params.control_groups,
                short_session_seconds=params.short_session_seconds,
            )
        with stage("checking report.json against its schema"):
            validate(data)
    return Report(data=data, rejected=rejected)


_STAGES = 7


@contextmanager
def _damaged_files_named() -> Iterator[list[str]]:
    """Give a list to fill with the files the engine reads as it runs. A Parquet file is
    checked when found, but its pages are read only then: an engine error naming one of
    them becomes a SourceError that says which file is damaged."""
    files: list[str] = []
    try:
        yield files
    except ReportError:
        raise
    except Exception as exc:
        damaged = next((f for f in files if f in str(exc)), None)
        if damaged is None:
            raise
        raise SourceError(
            f"{damaged} could not be read ({type(exc).__name__}: {exc}). The file is damaged "
            f"or incomplete: export it again."
        ) from None


@contextmanager
def _progress() -> Iterator[Any]:
    """A ``stage(name)`` context for each step of a run: timed into the log, and a bar on
    stderr when a person is watching (a terminal); papermill and batch runs stay quiet."""
    bar = tqdm(
        total=_STAGES, unit="stage", leave=False, disable=None,  # None: only on a terminal
        bar_format="{desc:<40} {bar:20} {n_fmt}/{total_fmt} stages [{elapsed}]",
    )

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        bar.set_description_str(name)
        started = time.perf_counter()
        yield
        _log.debug("%s: %.2f s", name, time.perf_counter() - started)
        bar.update()

    with bar:
        yield stage


def _raw_events(
    engine: Engine, params: ReportParams, raw: RawEvents | None
) -> tuple[ir.Table, dict[str, Any], list[str]]:
    """The raw events as a table of the engine, report.json's source block, and the files the
    engine reads as it runs."""
    if params.table is not None and raw is None:
        try:
            table = engine.con.table(params.table)
        except Exception as exc:  # each backend raises its own "no such table"
            raise SourceError(
                f"the {engine.name} backend has no table {params.table!r} ({exc}). "
                f"Check the table parameter (with its schema, e.g. analytics.events)."
            ) from None
        source = {"kind": "table", "name": params.table}
        return table_events(table, origin=params.table), source, []
    raw = raw if raw is not None else read_events(params.source_path, **params.sheet_options())
    return engine.load(raw), raw.source, [str(f.path) for f in raw.parquet]


def validate(data: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError unless ``data`` follows the shipped report schema."""
    _validator().validate(data)


def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json, shipped in the package beside this module."""
    return _schema("report.schema.json")


@cache
def _validator() -> Any:
    jsonschema = _import_jsonschema()
    from referencing import Registry, Resource

    # report.schema.json refers to insights.schema.json by its $id: register both.
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema))
        for schema in (_schema("report.schema.json"), _schema("insights.schema.json"))
    )
    schema = report_schema()
    return jsonschema.validators.validator_for(schema)(schema, registry=registry)


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


@cache
def _schema(name: str) -> dict[str, Any]:
    return json.loads(resources.files("helpers").joinpath(name).read_text())


# -- assembling ----------------------------------------------------------------------------------


def _objectives(
    events: ir.Table, users: ir.Table, sessions: ir.Table, params: ReportParams
) -> dict[str, Any]:
    return {
        "users_total": _int(obj.users_total(users)),
        "users_by_device_class": _counts(obj.users_by_device_class(users), "device_class"),
        "users_by_first_om_source": _counts(obj.users_by_first_om_source(users), "om_source"),
        "short_sessions": {
            "max_duration_seconds": params.short_session_seconds,
            **_ints(obj.short_sessions(events, sessions, params)),
        },
        "users_search_then_apartment_view": _int(obj.users_search_then_apartment_view(users)),
        "users_clicked_book_now": _int(obj.users_clicked_book_now(users)),
        "users_search_start_request_draft": _int(obj.users_search_start_request_draft(users)),
        "price_filter": {
            "threshold": params.price_threshold,
            "currency": params.price_currency,
            **_ints(obj.price_filter(events, params)),
        },
        "users_with_request_id": _int(obj.users_with_request_id(users)),
    }


def _event_facts(events: ir.Table) -> dict[str, Any]:
    """Counts and the time span of the analysed events, in one scan: what the period and the
    data quality blocks report."""
    # Implausible times are kept (the spec analyses them) but counted, so they are seen.
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000) + 86_400_000_000
    return events.aggregate(
        rows=events.count(),
        params_invalid=events.params_invalid.sum(),
        price_invalid=events.price_invalid.sum(),
        before_2000=events.count(where=events.ts_us < _YEAR_2000_US),
        in_the_future=events.count(where=events.ts_us > now_us),
        first=events.ts_us.min(),
        last=events.ts_us.max(),
    ).to_pyarrow().to_pylist()[0]


def _data_quality(rows_read: int, facts: dict[str, Any], rejected: pa.Table) -> dict[str, Any]:
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
    quality["notes"] = _notes(quality)
    # Nothing is lost: a mismatch here is a bug in cleaning, never acceptable output.
    if quality["rows_analysed"] + sum(by_reason.values()) != rows_read:
        raise AssertionError(f"rows do not reconcile: {quality}")
    return quality


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


def _period(facts: dict[str, Any]) -> dict[str, str | None]:
    return {"first_event": _iso(facts["first"]), "last_event": _iso(facts["last"])}


def _rejected_rows(table: ir.Table, reasons: ir.Table) -> pa.Table:
    """The raw rows excluded, in input order, with their row in the source and their reason.

    Row 1 is the header, so the first event is row 2: the row number a spreadsheet shows.
    """
    # The raw columns travel under positional names: the data may have its own "reason" or
    # "source_row" column, kept beside ours under its own name in the file.
    raw_names = [c for c in table.columns if c != ROW]
    numbered = table.select(ROW, *[table[c].name(f"_{i}") for i, c in enumerate(raw_names)])
    rows = numbered.join(reasons, ROW).order_by(ROW)
    rows = rows.select(
        (rows[ROW] + 2).name("source_row"),
        rows.reason,
        *[rows[f"_{i}"] for i in range(len(raw_names))],
    )
    return rows.to_pyarrow().rename_columns(["source_row", "reason", *raw_names])


_REASON_COLUMN = 1  # of the rejected rows: source_row, reason, then the raw columns


def _counts(expr: ir.Table, key: str) -> dict[str, int]:
    rows = expr.to_pyarrow().to_pylist()
    rows.sort(key=lambda r: (-r["users"], r[key]))
    return {r[key]: int(r["users"]) for r in rows}


def _ints(exprs: dict[str, ir.Scalar]) -> dict[str, int]:
    return {name: _int(expr) for name, expr in exprs.items()}


def _int(expr: ir.Scalar) -> int:
    value = expr.execute()
    return int(value) if value is not None else 0


def _iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    moment = _EPOCH + timedelta(microseconds=int(micros))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")

