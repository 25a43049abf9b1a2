"""Privacy: forgotten users, personal columns and pseudonyms (issue 18).

Event data is personal data. Three rules apply to every run:

- **Forgotten users** (``forget``): the ids listed in a file are matched inside the engine
  (by their SHA-256, never by pulling events into Python); their rows are counted
  under ``forgotten_user`` and written nowhere.
- **Personal columns**: extra columns whose names say they hold personal data
  (:data:`PERSONAL_NAMES`: ``ip``, ``email``, ``phone``...) and ``params`` JSON fields named
  the same way never reach an output, unless named in ``keep_columns``.
- **Pseudonyms** (``pseudonymise``): an id that reaches an output is replaced by a keyed hash,
  HMAC-SHA-256 of the id under a key from the environment variable ``pseudonym_env``
  names, or a random key of the run (so pseudonyms cannot be linked across runs).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import itertools
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from helpers.activity import CANONICAL_COLUMNS, normalise_header
from helpers.errors import ParameterError

#: The exclusion reason of a forgotten user's rows.
FORGOTTEN = "forgotten_user"
#: The id columns a forgotten id is looked for in (besides the user column).
ID_COLUMNS = ("session_id", "visitor_id")
#: Header of the id column in a CSV forget file (a one-column CSV may name it anything).
FORGET_CSV_COLUMNS = ("id", "user_id", "visitor_id", "session_id")

#: Words that make a column (or a JSON field) personal: a name is personal when one of its
#: parts, split at ``_``, ``-``, ``.`` and spaces, or two neighbouring parts joined, is one
#: of these (``client_ip``, ``ip_address``, ``user_email``, ``e_mail``, ``phone_number``).
PERSONAL_NAMES = frozenset({
    "ip", "ipv4", "ipv6", "ipaddress", "ipaddr", "remoteaddr", "xforwardedfor",
    "email", "mail", "emailaddress", "phone", "telephone", "mobile", "msisdn",
    "firstname", "lastname", "fullname", "surname", "username",
    "address", "street", "postcode", "zipcode", "birthdate", "dateofbirth", "dob",
    "iban", "creditcard", "cardnumber", "ssn", "passport", "password",
})  # fmt: skip
_PARTS = re.compile(r"[_\-.\s]+")
#: What a pseudonym looks like: a prefix and 16 hex digits (64 bits of the HMAC).
_PSEUDONYM_DIGITS = 16


# -- forgotten users ----------------------------------------------------------------------------


def read_forget(path: str | os.PathLike[str]) -> list[str]:
    """The ids of a forget file: one id per line (trimmed as cells are; blank lines skipped),
    or, for a ``.csv`` file, the column ``id`` (or ``user_id``, ``visitor_id``,
    ``session_id``; or the only column) below a header line. Never logged nor shown."""
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ParameterError(
            f"forget: the file {file} does not exist. Give the path of a text file with one "
            f"user or visitor id per line (or a CSV with an 'id' column)."
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        why = "it is not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise ParameterError(
            f"forget: the file {file} cannot be read ({why}). Save it as UTF-8 text with one "
            f"user or visitor id per line (or a CSV with an 'id' column)."
        ) from None
    if file.suffix.lower() != ".csv":
        ids = [_trim(line) for line in text.splitlines()]
    else:
        rows = list(csv.reader(io.StringIO(text)))
        header = [normalise_header(h) for h in rows[0]] if rows else []
        named = [c for c in FORGET_CSV_COLUMNS if c in header]
        if not named and len(header) != 1:
            raise ParameterError(
                f"forget: the CSV file {file} has no id column: name one 'id' (or user_id, "
                f"visitor_id, session_id), or give one column only. Columns found: "
                f"{', '.join(header) or 'none'}."
            )
        at = header.index(named[0]) if named else 0
        ids = [_trim(row[at]) for row in rows[1:] if len(row) > at]
    return sorted({i for i in ids if i})


def _trim(text: str) -> str:
    # ASCII whitespace only, as cleaning trims cells (a zero-width space is part of an id).
    return text.strip(" \t\r\n\v\f")


def forgotten(t: ir.Table, ids: list[str], user_column: str) -> ir.BooleanValue | None:
    """Whether a row (trimmed cells) belongs to a forgotten user: its user column,
    session_id or visitor_id is one of ``ids``. Matched inside the engine by SHA-256 (the
    engine's own), so that its plans and logs (Spark's UI, an error's query) hold digests,
    never the ids, and no event leaves the engine. None when there is nothing to forget."""
    if not ids:
        return None
    digests = [hashlib.sha256(i.encode("utf-8")).hexdigest() for i in ids]
    columns = [c for c in dict.fromkeys((user_column, *ID_COLUMNS)) if c in t.columns]
    engine = t.get_backend().name
    match = ibis.literal(False)
    for column in columns:
        match = match | _sha256_hex(engine, t[column]).isin(digests).fill_null(False)
    return match


def _sha256_hex(engine: str, text: ir.StringValue) -> ir.StringValue:
    """The SHA-256 of ``text``'s UTF-8 bytes as 64 lower-case hex digits, in the engine.
    Ibis compiles this for DuckDB and Spark; PostgreSQL spells it with its own functions."""
    if engine != "postgres":
        return text.hexdigest("sha256")
    return _pg_encode(_pg_sha256(_pg_convert_to(text, "UTF8")), "hex")


@ibis.udf.scalar.builtin(name="convert_to")
def _pg_convert_to(text: str, encoding: str) -> dt.binary:  # type: ignore[empty-body]
    """PostgreSQL's convert_to: text as bytes in an encoding."""


@ibis.udf.scalar.builtin(name="sha256")
def _pg_sha256(data: dt.binary) -> dt.binary:  # type: ignore[empty-body]
    """PostgreSQL's sha256 of bytes (PostgreSQL 11 and later)."""


@ibis.udf.scalar.builtin(name="encode")
def _pg_encode(data: dt.binary, form: str) -> str:  # type: ignore[empty-body]
    """PostgreSQL's encode: bytes as text (hex)."""


def forgotten_lines(rejected: pa.Table, ids: list[str]) -> tuple[pa.Table, int]:
    """The rejected rows without the JSON Lines lines that are not objects (they have no
    cells to match) whose text holds a forgotten id anywhere, and how many those were. Such
    lines are few and are read into the report anyway: they are searched here, so that the
    ids never go to the engine as text."""
    if not ids or "line" not in rejected.column_names[:4] or not rejected.num_rows:
        return rejected, 0
    lines = rejected.column("line").to_pylist()
    keep = [line is None or not any(i in line for i in ids) for line in lines]
    return rejected.filter(pa.array(keep)), keep.count(False)


# -- personal columns ---------------------------------------------------------------------------


def is_personal(name: str, keep: list[str] | tuple[str, ...] = ()) -> bool:
    """Whether a column or JSON field named ``name`` holds personal data by its name (see
    :data:`PERSONAL_NAMES`). The report's own columns are never personal by name (ids are
    handled by pseudonyms); a name in ``keep`` is kept."""
    if name in CANONICAL_COLUMNS or name in keep or normalise_header(name) in keep:
        return False
    parts = [p for p in _PARTS.split(name.lower()) if p]
    joined = {a + b for a, b in itertools.pairwise(parts)}
    return bool(PERSONAL_NAMES & {*parts, *joined, "".join(parts)})


def personal_columns(columns: list[str], keep: list[str]) -> list[str]:
    """The columns among ``columns`` that are personal by name and not kept."""
    return [c for c in columns if not c.startswith("_") and is_personal(c, keep)]


def without_personal_fields(text: str | None, keep: list[str], found: set[str]) -> str | None:
    """A ``params`` JSON text without its personal fields (at any depth), adding their paths
    (``params.user.email``) to ``found``. Text with none, or that is not JSON, is unchanged."""
    if text is None:
        return text
    try:
        value = json.loads(text)
    except ValueError:
        return text
    before = len(found)
    cleaned = _drop_fields(value, "params", keep, found)
    return text if len(found) == before else json.dumps(cleaned, ensure_ascii=False)


def _drop_fields(value: Any, path: str, keep: list[str], found: set[str]) -> Any:
    if isinstance(value, dict):
        kept = {}
        for key, item in value.items():
            where = f"{path}.{key}"
            if is_personal(str(key)) and where not in keep:  # a field is kept by its path
                found.add(where)
            else:
                kept[key] = _drop_fields(item, where, keep, found)
        return kept
    if isinstance(value, list):
        return [_drop_fields(item, path, keep, found) for item in value]
    return value


def strip_personal(
    table: pa.Table, keep: list[str], params_header: str
) -> tuple[pa.Table, list[str]]:
    """The rejected rows without personal columns and with ``params`` (under its source
    header) without personal fields; and what was dropped, columns then fields."""
    dropped = personal_columns(table.column_names, keep)
    table = table.drop_columns(dropped)
    fields: set[str] = set()
    if params_header in table.column_names and table.num_rows:
        column = table.column(params_header).to_pylist()
        cleaned = [without_personal_fields(v, keep, fields) for v in column]
        if fields:
            at = table.column_names.index(params_header)
            table = table.set_column(at, params_header, pa.array(cleaned, pa.string()))
    return table, [*dropped, *sorted(fields)]


# -- pseudonyms ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pseudonyms:
    """Keyed pseudonyms of one run: the same id always gives the same pseudonym under one
    key. The key never leaves this object (not in its repr, nor in any output)."""

    key: bytes = field(repr=False)
    outputs: frozenset[str] = frozenset()
    keyed: bool = False  # the key came from the environment (pseudonyms link across runs)

    @classmethod
    def of(cls, outputs: list[str], key_env: str | None) -> Pseudonyms:
        """The run's pseudonyms: a key from the environment variable ``key_env`` names, or,
        without one, a random key (pseudonyms of two runs cannot be linked)."""
        if key_env is None:
            return cls(key=secrets.token_bytes(32), outputs=frozenset(outputs))
        value = os.environ.get(key_env, "")
        if not value.strip():
            raise ParameterError(
                f"pseudonym_env names the environment variable {key_env}, which is "
                f"{'empty' if key_env in os.environ else 'not set'}. Set it to a long random "
                f"secret (e.g. `export {key_env}=$(openssl rand -hex 32)`), or leave "
                f"pseudonym_env out for a random key per run."
            )
        return cls(key=value.encode("utf-8"), outputs=frozenset(outputs), keyed=True)

    def applies_to(self, output: str) -> bool:
        return output in self.outputs

    def of_id(self, value: str | None) -> str | None:
        """``value``'s pseudonym: ``p_`` and the first 16 hex digits of its HMAC-SHA-256."""
        if value is None:
            return None
        digest = hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return "p_" + digest[:_PSEUDONYM_DIGITS]

    def column(self, column: pa.ChunkedArray) -> pa.Array:
        """A text column's values replaced by their pseudonyms (null stays null)."""
        values = pc.cast(column, pa.string()).to_pylist()
        unique = {v: self.of_id(v) for v in set(values)}
        return pa.array([unique[v] for v in values], pa.string())


def pseudonymised_rows(
    table: pa.Table, pseudonyms: Pseudonyms, id_headers: list[str]
) -> pa.Table:
    """Rejected rows with every id column (their source headers) pseudonymised, and the
    text of JSON Lines lines that are not objects (which may hold ids) withheld."""
    for header in id_headers:
        if header in table.column_names:
            at = table.column_names.index(header)
            table = table.set_column(at, header, pseudonyms.column(table.column(header)))
    if "line" in table.column_names[:4]:  # ours: source_row, [source_file], reason, line
        at = table.column_names.index("line")
        lines = table.column(at).to_pylist()
        withheld = [None if v is None else f"(withheld: {len(v)} characters)" for v in lines]
        table = table.set_column(at, "line", pa.array(withheld, pa.string()))
    return table
