"""JSON Lines: one JSON object per line (``.jsonl``, ``.ndjson``, optionally ``.gz``), as event
trackers export them, read as all-text columns.

The rules, the same on every engine (Spark runs :func:`parse_line` itself, see
:mod:`helpers.spark_files`):

- The top-level keys are the columns: their union over the file, in order of first
  appearance (the caller normalises them as it normalises CSV headers). A key missing on a
  line is blank (``""``).
- A string value is its text; ``null`` is blank; any other value (a number, ``true``,
  ``false``, an object, a list) is its text exactly as written in the line: ``1.50`` stays
  ``1.50`` and ``{"a": [1, 2.0]}`` keeps its spacing, escapes and key order. The text is the
  line's own substring: the value is parsed only to find where it ends (and that it is JSON).
- A key given twice on one line: the last value wins (as ``JSON.parse`` and Python's ``json``
  do), and the column keeps the place of the first.
- A line that is not a JSON object (broken JSON, an array, a number, ``NaN``, bytes that are
  not UTF-8) is an invalid line: its columns are blank and its text (without the line break)
  goes to :data:`INVALID` so that cleaning can reject it as ``invalid_json_line``.
- A UTF-8 byte-order mark at the start of the file is ignored. Blank lines (JSON whitespace
  only: space, tab, CR) are not events and not rows, but they are counted in the line
  numbers, so a row's line is the one an editor shows. Lines end at ``\\n`` (a ``\\r`` before
  it is part of a CRLF ending).
- A NUL byte anywhere refuses the file, naming its line, as it does a CSV file.

The file is read in blocks and parsed in batches of :data:`_BATCH_LINES` lines into Arrow, so
memory holds the Arrow columns and one batch of Python values, never the whole file as Python
objects.
"""

from __future__ import annotations

import gzip
import json
import json.decoder
import json.scanner
import re
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from helpers.csvs import refuse_nul
from helpers.errors import SourceError

#: The column holding an invalid line's text (null on a valid line), hidden from the data
#: under a name with a space, which no normalised key has (see helpers.sources.HIDDEN).
INVALID = "_ invalid line"
#: Returned by :func:`parse_line` for a blank line.
BLANK = "blank"

_BOM = b"\xef\xbb\xbf"
_BLOCK = 1 << 22
_BATCH_LINES = 16_384
_WHITESPACE = b" \t\r"
_SKIP = re.compile(r"[ \t\n\r]*").match
_SPACE = " \t\n\r"


class _PerProcess(dict):
    """A cache that pickles as an empty one: a Spark executor gets this module's functions by
    value (see helpers.spark_files), and a scanner cannot be pickled, so each process makes
    its own on first use."""

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return (_PerProcess, ())


_SCANNERS: dict[str, Any] = _PerProcess()


def read_jsonl(path: Path) -> tuple[list[str], pa.Table, np.ndarray]:
    """The file's keys (in order of first appearance), its rows as a table of text columns
    named by position (``c0``, ``c1``...) plus :data:`INVALID`, and each row's line number."""
    keys: dict[str, int] = {}
    batches: list[pa.Table] = []
    rows: list[dict[str, str]] = []
    invalid: list[str | None] = []
    lines: list[int] = []
    numbers: list[np.ndarray] = []
    for number, raw in _numbered_lines(path):
        parsed = parse_line(raw, first=number == 1)
        if parsed is BLANK:
            continue
        pairs, text = parsed
        for key in pairs:
            keys.setdefault(key, len(keys))
        rows.append(pairs)
        invalid.append(text)
        lines.append(number)
        if len(rows) == _BATCH_LINES:
            batches.append(_batch(keys, rows, invalid))
            numbers.append(np.asarray(lines, dtype=np.int64))
            rows, invalid, lines = [], [], []
    batches.append(_batch(keys, rows, invalid))
    numbers.append(np.asarray(lines, dtype=np.int64))
    table = stack_blank_filled(batches)
    # Keys first seen in a later batch are blank in the earlier ones: the order stays.
    table = table.select([*[f"c{i}" for i in range(len(keys))], INVALID])
    return list(keys), table, np.concatenate(numbers)


def parse_line(raw: bytes, *, first: bool = False) -> Any:
    """One line (its bytes, without the ``\\n``): :data:`BLANK`, or ``(pairs, invalid)``:
    the key -> text pairs and None for a JSON object, ``({}, the line's text)`` for anything
    else. ``first``: the file's first line, which may start with a byte-order mark."""
    if first and raw.startswith(_BOM):
        raw = raw[len(_BOM):]
    if not raw.strip(_WHITESPACE):
        return BLANK
    text = raw[:-1] if raw.endswith(b"\r") else raw
    try:
        line = text.decode("utf-8")
    except UnicodeDecodeError:
        return {}, text.decode("utf-8", errors="replace")
    try:
        return _object(line), None
    except (ValueError, StopIteration, IndexError):
        return {}, line


def _object(line: str) -> dict[str, str]:
    """The top-level pairs of a JSON object text; ValueError (or StopIteration, IndexError)
    when the text is anything else."""
    if not _SCANNERS:
        decoder = json.JSONDecoder(parse_constant=_not_json)
        _SCANNERS["value"] = json.scanner.make_scanner(decoder)
        _SCANNERS["string"] = json.decoder.scanstring
    scan, string, skip = _SCANNERS["value"], _SCANNERS["string"], _SKIP
    # Each step looks at one character first: the regular expression only runs where there
    # is whitespace to skip (this loop is the reader's cost: a third less with that).
    i = 0 if line[0] == "{" else skip(line, 0).end()
    if line[i] != "{":
        raise ValueError("not an object")
    i += 1
    if line[i] in _SPACE:
        i = skip(line, i).end()
    pairs: dict[str, str] = {}
    if line[i] == "}":
        i += 1
    else:
        while True:
            if line[i] != '"':
                raise ValueError("a key must be a string")
            key, i = string(line, i + 1, True)
            if line[i] != ":":
                i = skip(line, i).end()
                if line[i] != ":":
                    raise ValueError("':' expected")
            i += 1
            if line[i] in _SPACE:
                i += 1  # one space, as most writers put it: no regular expression
                if line[i] in _SPACE:
                    i = skip(line, i).end()
            if line[i] == '"':
                value, i = string(line, i + 1, True)
            else:
                parsed, end = scan(line, i)
                value = "" if parsed is None else line[i:end]  # as written
                i = end
            pairs[key] = value  # a repeated key: the last value wins, the first place stays
            c = line[i]
            if c in _SPACE:
                i = skip(line, i).end()
                c = line[i]
            if c == ",":
                i += 1
                if line[i] in _SPACE:
                    i += 1
                    if line[i] in _SPACE:
                        i = skip(line, i).end()
                continue
            if c != "}":
                raise ValueError("',' or '}' expected")
            i += 1
            break
    if i != len(line) and skip(line, i).end() != len(line):
        raise ValueError("text after the object")
    return pairs


def _not_json(name: str) -> None:
    # Python's json reads NaN and Infinity; JSON (and JSON.parse) does not.
    raise ValueError(f"{name} is not JSON")


def _batch(keys: dict[str, int], rows: list[dict[str, str]], invalid: list[str | None]) -> pa.Table:
    columns = {
        f"c{i}": pa.array([r.get(key, "") for r in rows], pa.string()) for key, i in keys.items()
    }
    columns[INVALID] = pa.array(invalid, pa.string())
    return pa.table(columns)


def stack_blank_filled(tables: list[pa.Table]) -> pa.Table:
    """Tables stacked by column name, columns in order of first appearance; a column a table
    lacks is blank (``""``) there, as a cell left empty is. :data:`INVALID` stays null."""
    names: dict[str, None] = {}
    for table in tables:
        names.update(dict.fromkeys(table.column_names))
    filled = []
    for table in tables:
        for name in names:
            if name not in table.column_names:
                blank = pa.nulls(table.num_rows, pa.string())
                if name != INVALID:
                    blank = pc.fill_null(blank, "")
                table = table.append_column(name, blank)
        filled.append(table.select(list(names)))
    if not filled:
        return pa.table({})
    return pa.concat_tables(filled)


def _numbered_lines(path: Path):
    """``(line number, bytes)`` for every line of the file, blank ones included."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    number, rest = 0, b""
    try:
        with opener(path, "rb") as fh:
            while block := fh.read(_BLOCK):
                # Lines end at \n only here: the count before the block is `number`, plus
                # the breaks inside `rest`, which refuse_nul counts as its own.
                refuse_nul(path, rest + block, number, what="JSON Lines")
                parts = (rest + block).split(b"\n")
                rest = parts.pop()
                for raw in parts:
                    number += 1
                    yield number, raw
    except (OSError, EOFError) as exc:
        raise SourceError(f"{path} could not be read: {exc}.") from None
    if rest:
        yield number + 1, rest
