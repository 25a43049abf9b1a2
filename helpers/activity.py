"""The activity model: what the report knows about an event log's columns, in one place.

An event is **when** (``datetime``), **who** (the user column), **what** (``event_type``), **on
what** (``page_type``) and metadata (``params`` JSON and any other column). Only ``datetime``
and the user column are required; every other canonical column is optional, and each objective
and analysis says here which columns it needs. ``columns`` maps canonical names to a source's
own headers; after :func:`canonical` the canonical names are the column names everywhere.

>>> sorted(OBJECTIVE_NEEDS["users_search_start_request_draft"])
['event_type', 'page_type']
"""

from __future__ import annotations

from collections.abc import Mapping

import ibis.expr.types as ir

from helpers.errors import SourceError

#: Every column the report gives a meaning to, after mapping and header normalisation.
CANONICAL_COLUMNS = (
    "datetime",
    "session_id",
    "page_type",
    "event_type",
    "params",
    "om_source",
    "device_class",
    "env",
    "is_internal_ip",
    "visitor_id",
    "test_groups",
)
#: The one column every log must have besides the user column.
DATETIME = "datetime"

#: The columns each objective reads; an objective whose columns are absent is null in
#: report.json and listed in ``data_quality.objectives_unavailable``.
OBJECTIVE_NEEDS: dict[str, tuple[str, ...]] = {
    "users_total": (),
    "users_by_device_class": ("device_class",),
    "users_by_first_om_source": ("om_source",),
    "short_sessions": ("page_type",),
    "users_search_then_apartment_view": ("page_type",),
    "users_clicked_book_now": ("event_type",),
    "users_search_start_request_draft": ("page_type", "event_type"),
    "price_filter": ("params",),
    "users_with_request_id": ("params",),
}

#: Names cleaning gives the columns it derives: a source column of the same name cannot be
#: named by a condition or a breakdown (it stays in the duplicate check and the rejected rows).
DERIVED_COLUMNS = (
    "user_id", "ts_us", "reason", "price", "params_invalid", "price_invalid",
    "currency_matches", "has_request_id",
)  # fmt: skip


def normalise_header(name: str) -> str:
    """``' Session ID '`` -> ``'session_id'``: trimmed, lower-cased, spaces turned into ``_``."""
    return "_".join(name.strip().lower().split(" "))


def missing(needs: tuple[str, ...], present: frozenset[str]) -> list[str]:
    """The columns of ``needs`` that the events do not have, in the model's order."""
    return [c for c in needs if c not in present]


def canonical(raw: ir.Table, columns: Mapping[str, str], *, origin: str) -> ir.Table:
    """``raw`` with the source's headers renamed to canonical names as ``columns`` maps them.

    ``columns`` maps a canonical name to a source header, matched after the same normalisation
    as every header. A source column that already carries a canonical name mapped elsewhere
    (a ``datetime`` column beside ``{datetime: timestamp}``) is kept as an extra column named
    ``<name>_unmapped``, so it still counts in the duplicate check.
    """
    from helpers.sources import ROW  # sources reads files; this module only names columns

    if not columns:
        return raw
    headers = [c for c in raw.columns if c != ROW]
    renames: dict[str, str] = {}  # source header -> canonical name
    for name, header in columns.items():
        wanted = normalise_header(header)
        if wanted not in headers:
            raise SourceError(
                f"{origin}: columns maps {name} to {header!r}, but there is no such header. "
                f"Headers found: {', '.join(headers)}."
            )
        if wanted in renames:
            raise SourceError(
                f"{origin}: columns maps both {renames[wanted]} and {name} to {header!r}; "
                f"a header can give one column only. Headers found: {', '.join(headers)}."
            )
        renames[wanted] = name
    mapped = set(renames.values())
    selected = []
    for header in raw.columns:
        if header in renames:
            selected.append(raw[header].name(renames[header]))
        elif header in mapped:
            selected.append(raw[header].name(_free_name(f"{header}_unmapped", raw.columns)))
        else:
            selected.append(raw[header])
    return raw.select(*selected)


def check_mapping(columns: Mapping[str, str]) -> dict[str, str]:
    """The ``columns`` parameter, checked: canonical names only, each mapped to a header."""
    unknown = [name for name in columns if name not in CANONICAL_COLUMNS]
    if unknown:
        raise ValueError(
            f"{', '.join(map(repr, unknown))} is not a column the report knows; map one of "
            f"{', '.join(CANONICAL_COLUMNS)} to a header of yours, e.g. "
            f"{{datetime: timestamp, event_type: event}}"
        )
    checked = {}
    for name, header in columns.items():
        if not isinstance(header, str) or not header.strip():
            raise ValueError(f"{name} must be mapped to a header (text), not {header!r}")
        checked[name] = header
    return checked


def require(present: list[str], user_column: str, *, origin: str) -> None:
    """Refuse a log without a datetime column or without the user column, saying what to do."""
    if DATETIME not in present:
        raise SourceError(
            f"{origin}: no datetime column. Headers found: {', '.join(present) or 'none'}. "
            f"Say which column holds the time of each event, e.g. "
            f"--set 'columns={{datetime: timestamp}}'."
        )
    if user_column not in present:
        raise SourceError(
            f"{origin}: user_column is {user_column!r} but the events have no such column "
            f"(columns: {', '.join(present)}). Name the column that identifies a user, e.g. "
            f"--set user_column=user_id, or map one with columns."
        )


def _free_name(name: str, taken: list[str]) -> str:
    while name in taken:
        name += "_"
    return name
