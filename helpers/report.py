"""Report: assemble report.json from the grains and the analyses, and check it.

:func:`assemble` builds the typed :class:`~helpers.contract.Document` (every block of
report.json) from what the run computed, and :func:`validate` checks a document against the
shipped JSON Schema. :class:`helpers.Events` drives the run; ``helpers.outputs`` writes the
files.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, cached_property
from importlib import resources
from typing import Any

import ibis.expr.operations as ops
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from helpers import analyses as registry
from helpers import objectives as obj
from helpers.activity import OBJECTIVE_NEEDS, normalise_header
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
from helpers.datetimes import suggested_format
from helpers.errors import DataError
from helpers.grains import Grains
from helpers.params import ReportParams
from helpers.privacy import FORGOTTEN, Pseudonyms
from helpers.sources import FILE, HIDDEN, INVALID, LINE, ROW

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Report:
    """A computed report: the typed document and the rejected rows behind its exclusion counts."""

    document: Document
    rejected: pa.Table  # the raw rows excluded, with source_row and reason
    # The run's pseudonyms (their key never reaches an output; the views use them).
    pseudonyms: Pseudonyms | None = field(default=None, repr=False, compare=False)
    # As people see it (helpers.small_cells.for_people): what the views leave out (a
    # small_cells.Folded); None for the report as report.json holds it.
    small_cells: Any = field(default=None, compare=False)

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
    forgotten: int = 0,
    personal: list[str] | None = None,
    pseudonyms: Pseudonyms | None = None,
) -> Report:
    """The report of a run: its numbers, computed from ``grains``, checked against the schema.
    ``forgotten`` rows (a forgotten user's) are counted though not among ``rejected``."""
    facts = grains.facts
    answers = objectives(grains)
    document = Document(
        schema_version=SCHEMA_VERSION,
        generated_at=_now(),
        source=source,
        parameters=grains.params.reported(),
        period=Period(first_event=_iso(facts["first"]), last_event=_iso(facts["last"])),
        data_quality=data_quality(
            rows_read, facts, rejected,
            objectives_unavailable=objectives_unavailable(grains),
            analyses_unavailable=registry.unavailable(grains),
            forgotten=forgotten, personal=personal,
            breakdowns={
                "om_source": answers.users_by_first_om_source or {},
                "device_class": answers.users_by_device_class or {},
            },
        ),
        objectives=answers,
        insights=insights,
        analyses=analyses,
    )
    if pseudonyms is not None and pseudonyms.applies_to("report_json"):
        # Here, not at the top: privacy's views part builds on the analyses' models.
        from helpers.small_cells import pseudonymised_document

        document = pseudonymised_document(document, pseudonyms)
    report = Report(document=document, rejected=rejected, pseudonyms=pseudonyms)
    validate(report.data)
    return report


def objectives(grains: Grains) -> Objectives:
    """The eight objectives, executed; null where the events lack a column one needs."""
    return _objectives(grains).model_copy(update=dict.fromkeys(objectives_unavailable(grains)))


def objectives_unavailable(grains: Grains) -> dict[str, list[str]]:
    """The objectives whose columns the events lack, with those columns."""
    return {
        key: missing
        for key, needs in OBJECTIVE_NEEDS.items()
        if (missing := [c for c in needs if c in grains.absent])
    }


def _objectives(grains: Grains) -> Objectives:
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


def data_quality(
    rows_read: int,
    facts: dict[str, Any],
    rejected: pa.Table,
    *,
    objectives_unavailable: dict[str, list[str]] | None = None,
    analyses_unavailable: dict[str, list[str]] | None = None,
    forgotten: int = 0,
    personal: list[str] | None = None,
    breakdowns: dict[str, dict[str, int]] | None = None,
) -> DataQuality:
    """Rows read, analysed and excluded by reason; flagged cells; what cannot be answered for
    want of columns; personal columns dropped; notes in plain words, among them the values
    of a breakdown (``column -> {value: users}``) that differ only in case."""
    by_reason = dict.fromkeys(EXCLUSION_REASONS, 0)
    by_reason[FORGOTTEN] = forgotten
    for count in pc.value_counts(rejected.column(_reason_column(rejected))).to_pylist():
        by_reason[count["values"]] = count["counts"]
    quality = {
        "rows_read": rows_read,
        "rows_analysed": int(facts["rows"]),
        "rows_excluded": by_reason,
        "params_invalid": int(facts["params_invalid"] or 0),
        "price_invalid": int(facts["price_invalid"] or 0),
        "datetime_before_2000": int(facts["before_2000"] or 0),
        "datetime_in_the_future": int(facts["in_the_future"] or 0),
        "objectives_unavailable": objectives_unavailable or {},
        "analyses_unavailable": analyses_unavailable or {},
        "personal_columns_dropped": personal or [],
    }
    # Nothing is lost: a mismatch here is a bug in cleaning, never acceptable output.
    if quality["rows_analysed"] + sum(by_reason.values()) != rows_read:
        raise AssertionError(f"rows do not reconcile: {quality}")
    notes = _notes(quality) + [
        note for column, counts in (breakdowns or {}).items()
        if (note := case_variants_note(column, counts))
    ]  # fmt: skip
    return DataQuality(**quality, notes=notes)


def case_variants_note(column: str, counts: dict[str, int]) -> str | None:
    """A note naming the values of ``column`` that differ only in case (``AdWords`` and
    ``adwords``): the specification counts them apart, and they are left so, but a reader
    should know they may be one channel tracked two ways. None when there are none.

    >>> case_variants_note("om_source", {"AdWords": 3, "adwords": 1, "facebook": 2})[-84:]
    'requires: AdWords (3 users) and adwords (1 user). If they are one, fix the tracking.'
    """
    groups: dict[str, list[str]] = {}
    for value in counts:
        groups.setdefault(value.casefold(), []).append(value)
    clashes = [values for values in groups.values() if len(values) > 1]
    if not clashes:
        return None
    listed = "; ".join(" and ".join(map(_users_of(counts), values)) for values in clashes)
    return (
        f"{column} values that differ only in case are counted apart, as the specification "
        f"requires: {listed}. If they are one, fix the tracking."
    )


def _users_of(counts: dict[str, int]) -> Any:
    return lambda v: f"{v} ({counts[v]:,} user{'' if counts[v] == 1 else 's'})"


def _reason_column(rejected: pa.Table) -> int:
    # By position: the data may have a "reason" column of its own after ours (source_row,
    # source_file for a set of files, reason).
    return 2 if rejected.column_names[1:2] == ["source_file"] else 1


def check_datetimes(rows_read: int, rejected: pa.Table, params: ReportParams) -> None:
    """Refuse to report when most rows (more than half of those read) have a datetime that
    cannot be read: every figure would rest on the few that can. The message shows three
    such cells and the ``datetime_format`` that would read them, when their shape says."""
    reasons = rejected.column(_reason_column(rejected))
    invalid = rejected.filter(pc.equal(reasons, "invalid_datetime"))
    if not rows_read or invalid.num_rows * 2 <= rows_read:
        return
    header = normalise_header(params.columns.get("datetime", "datetime"))
    cells = invalid.column(header).to_pylist() if header in invalid.column_names else []
    examples = list(dict.fromkeys(c for c in cells if c is not None))[:3]
    suggestion = suggested_format([str(c) for c in examples])
    given = f"datetime_format {params.datetime_format!r}" if params.datetime_format else (
        "the default formats (ISO 8601, Google Sheets serial numbers)"
    )
    advice = (
        f"These look like --set datetime_format='{suggestion}'."
        if suggestion and suggestion != params.datetime_format
        else "Give --set datetime_format=epoch_s, epoch_ms, epoch_us or a strftime pattern "
        "such as '%d.%m.%Y %H:%M' that describes them."
    )
    raise DataError(
        f"{invalid.num_rows:,} of {rows_read:,} rows have a datetime that {given} cannot read "
        f"(invalid_datetime), e.g. {', '.join(map(repr, examples)) or 'blank cells'}. A report "
        f"on the rest would mislead, so none was written. {advice}"
    )


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
    needs: dict[str, list[str]] = {}
    unavailable = {**quality["objectives_unavailable"], **quality["analyses_unavailable"]}
    for key, columns in unavailable.items():
        needs.setdefault(" and ".join(columns), []).append(key)
    for columns, keys in needs.items():
        notes.append(
            f"The events have no {columns} column, so these are not answered: "
            f"{', '.join(keys)}. Map a column of yours to it with the columns parameter."
        )
    if quality["datetime_before_2000"] or quality["datetime_in_the_future"]:
        notes.append(
            f"{quality['datetime_before_2000']:,} events are dated before 2000 and "
            f"{quality['datetime_in_the_future']:,} in the future; they are analysed as dated."
        )
    return notes


def rejected_rows(table: ir.Table, reasons: ir.Table) -> ir.Table:
    """The raw rows excluded, in input order: ``source_row``, ``source_file`` when the data
    set has several files, ``reason``, ``line`` for JSON Lines, then the raw columns.

    ``source_row`` is the row's line in its file as an editor or a spreadsheet shows it (a
    CSV's header is line 1, so its first row is 2; a JSON Lines file's first line is 1;
    blank lines count); for a table or a Google Sheet, the row's place + 2. ``source_file``
    is the file's path below the directory the files share. ``line`` is the text of a JSON
    Lines line that is not a JSON object (``invalid_json_line``; blank for the others).

    A raw column named like one of ours (the data may have its own ``reason``) is called
    ``<name> (in the data)`` here; :func:`rejected_file_rows` gives it back its own name.
    """
    # The raw columns travel under positional names until the end: none can meet ours.
    raw_names = _raw_names(table)
    located = [c for c in (LINE, FILE, INVALID) if c in table.columns]
    numbered = table.select(
        ROW, *located, *[table[c].name(f"_{i}") for i, c in enumerate(raw_names)]
    )
    rows = numbered.join(reasons, ROW).order_by(ROW)
    ours = _our_names(table)
    return rows.select(
        (rows[LINE] if LINE in located else rows[ROW] + 2).name("source_row"),
        *([rows[FILE].name("source_file")] if FILE in located else []),
        rows.reason,
        *([rows[INVALID].name("line")] if INVALID in located else []),
        *[
            rows[f"_{i}"].name(f"{c} (in the data)" if c in ours else c)
            for i, c in enumerate(raw_names)
        ],
    )


def rejected_file_rows(rejected: ir.Table, table: ir.Table) -> pa.Table:
    """:func:`rejected_rows` executed, every raw column under its own name, as the rejected
    rows file holds them."""
    return rejected.to_pyarrow().rename_columns([*_our_names(table), *_raw_names(table)])


def _our_names(table: ir.Table) -> list[str]:
    return [
        "source_row",
        *(["source_file"] if FILE in table.columns else []),
        "reason",
        *(["line"] if INVALID in table.columns else []),
    ]


def _raw_names(table: ir.Table) -> list[str]:
    return [c for c in table.columns if c not in HIDDEN]


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
        # A count over no rows is null (pandas' NaN on Spark): zero.
        key: 0 if (value := values[f"m{i}"]) is None or value != value else int(value)
        for i, key in enumerate(exprs)
    }


def _iso(micros: int | None) -> str | None:
    if micros is None:
        return None
    moment = _EPOCH + timedelta(microseconds=int(micros))
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
