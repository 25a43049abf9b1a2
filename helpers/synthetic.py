"""Deterministic synthetic web events that look like one real day of the marketplace.

The report is built from raw tracking events exported from a Google Sheet, one row per
event.  This module produces data of the same shape so that the bundled sample and the
benchmarks (up to ten million rows) exercise the same code paths, including the messy
corners that the cleaning step has to handle.  What the data looks like:

* **Sessions.**  Events come in sessions of mostly 2-15 events (about 12% are a single
  event, a few are long).  A session has one ``session_id`` (19 digits: the Unix second
  the session started followed by nine random digits, like the site's cookie id), one
  ``device_class``, one ``om_source`` and belongs to a ``visitor_id`` (``v-`` and 12 hex
  digits) that has 1-3 sessions.  A session's events lie within minutes; some sessions
  are over within five seconds.  Sessions start over 2021-01-23 (UTC) following a
  German-looking daily curve: quiet at night, busy around lunch and in the evening.
* **Journeys.**  A Markov chain over (``page_type``, ``event_type``) walks a visitor from
  ``home_page``, ``search_page`` or ``apartment_view`` through ``page_view``,
  ``click_filter-price`` (search page), ``click_gallery`` and sometimes
  ``click_book-now`` to ``booking_page`` and ``request_draft-created``.
* **params** is a JSON object ``{"event_content": {...}, "page": {...}}``.  Price-filter
  events carry a price (400-3000 with a spike at exactly 1200; sometimes a JSON string
  such as ``"1350"`` or ``"1200.5"``, about 1% invalid: ``null``, ``true``, ``"cheap"``, a
  list) and usually a currency (mostly ``EUR``, also ``eur``, ``GBP``, ``USD`` or no
  key).  Booking-page events carry ``{"page": {"request_id": "R-1234567"}}``, the id
  sometimes a number or ``""``.  About 0.2% of rows have unusable params: an empty
  cell, ``null``, ``[]`` or truncated JSON.
* **Attributes.**  ``om_source`` is blank for about 47% of sessions (organic), otherwise
  a campaign (rarely spelled with other capitals, e.g. ``AdWords``), and in some
  campaign sessions only tagged from the second event on.  ``device_class`` is mostly
  phone and desktop, ``env`` is about 1% ``development``, ``is_internal_ip`` is the
  Sheets-style ``FALSE``/``TRUE`` (about 1% ``TRUE``).  ``session_id`` is blank in about
  0.5% of rows, ``visitor_id`` in about 2%, ``page_type`` occasionally.
* **Export artefacts.**  ``datetime`` is BigQuery text (``2021-01-23 11:57:09.286 UTC``,
  trailing zeros of the fraction dropped, so ``.28`` and no fraction occur too).  Rows
  are in time order except about 2% that sit a few rows off (as when shards are
  concatenated) and about 0.2% that are exact duplicates of the row before.  Blank
  cells are empty strings.
* **A/B test.**  ``test_groups`` is the JSON text ``{"search_ranking": "A"}`` or ``"B"``:
  a visitor is assigned once, about 50/50, and every session of the visitor carries the
  same group, except that about 0.5% of visitors (some of those with several sessions)
  carry conflicting groups on different sessions.  About 1% of rows leave the cell blank.
  The planted effect: in group B a visitor on an apartment is more likely to click
  book-now (the Markov chain's book-now transitions are 35% more likely), so that
  sessions in B click book-now about a quarter more often than in A.

**Several days** (``days > 1``): the days run from Monday 2021-01-04, each day shaped as
above, with rows shared between days by a weekly pattern (busier at the weekend, see
``_WEEKDAY_TRAFFIC``).  Visitors come back on later days with stable ``visitor_id``s and new
session ids, some never come back, the others less often as weeks pass, and the A/B group
is the visitor's on every day (see :mod:`helpers.synthetic_population`).  The planted
change: from the middle day on (``days // 2``, 2021-01-18 for four weeks) the book-now
transitions are ``_CHANGE_FACTOR`` as likely, so book-now conversion drops visibly in the
trends.  ``days=1`` gives exactly the one-day data of before, byte for byte.

Everything is drawn from ``numpy.random.default_rng`` seeded with ``(seed, chunk)`` (the A/B
assignment from its own stream seeded with ``(seed, chunk, 1)``, so adding it left every
other draw as it was), so a given ``(rows, seed)`` always gives the same rows and the same
bytes on disk.  Rows are
produced in chunks of vectorised numpy/pyarrow work, which keeps memory flat however
many rows are asked for.
"""

from __future__ import annotations

import gzip
import operator
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from helpers.activity import CANONICAL_COLUMNS
from helpers.synthetic_population import Population

# Every column the report reads, required ones first: the input contract of helpers.sources.
COLUMNS: tuple[str, ...] = CANONICAL_COLUMNS

_SCHEMA = pa.schema([(name, pa.string()) for name in COLUMNS])

# Large enough that per-chunk overhead vanishes, small enough that a chunk's strings
# (a few hundred MB at most while the CSV text is built) keep peak memory flat.
_CHUNK_ROWS = 500_000

_DAY_START_EPOCH_S = 1_611_360_000  # 2021-01-23 00:00:00 UTC
_DAY_MS = 86_400_000
_WEEKS_START_EPOCH_S = 1_609_718_400  # 2021-01-04 00:00:00 UTC, a Monday
# Relative rows per weekday, Monday first: a holiday-rental site is busiest at the weekend.
_WEEKDAY_TRAFFIC = np.array([1.0, 0.97, 0.95, 0.98, 1.04, 1.22, 1.18])

# Relative traffic per UTC hour; the audience is mostly in Germany (UTC+1), so the
# lunch and evening peaks sit an hour earlier than local time.
_HOURLY_TRAFFIC = np.array(
    [2.0, 1.2, 0.8, 0.6, 0.7, 1.2, 2.5, 4.0, 5.0, 5.5, 6.0, 6.5,
     6.2, 6.0, 5.8, 5.8, 6.0, 6.5, 7.2, 7.5, 7.0, 5.5, 4.0, 2.8]
)  # fmt: skip
_HOUR_CDF = np.concatenate([[0.0], np.cumsum(_HOURLY_TRAFFIC) / _HOURLY_TRAFFIC.sum()])
_HOUR_EDGES_MS = np.arange(25, dtype=np.float64) * 3_600_000

# --- sessions -------------------------------------------------------------------------
_P_SINGLE_EVENT = 0.12
_MAX_EVENTS = 60
_P_SHORT_SESSION = 0.15  # of multi-event sessions: all events within 5 seconds
_MAX_SESSION_MS = 30 * 60_000
_VISITOR_SESSIONS_P = np.array([0.78, 0.16, 0.06])  # visitors with 1, 2, 3 sessions

# --- journeys -------------------------------------------------------------------------
# A journey is a walk over states, each one (page_type, event_type) pair; the walk rather
# than independent draws keeps journeys coherent (no booking without a book-now click).
_HOME, _SEARCH, _FILTER, _APT, _GALLERY, _BOOK_NOW, _BOOKING, _DRAFT = range(8)
_STATE_PAGE = np.array([0, 1, 1, 2, 2, 2, 3, 3])
_STATE_EVENT = np.array([0, 0, 1, 0, 2, 3, 0, 4])
_PAGE_TYPES = ["home_page", "search_page", "apartment_view", "booking_page", ""]
_EVENT_TYPES = [
    "page_view",
    "click_filter-price",
    "click_gallery",
    "click_book-now",
    "request_draft-created",
]
_BLANK_PAGE = len(_PAGE_TYPES) - 1
_LANDING_P = np.array([0.30, 0.42, 0.0, 0.28, 0.0, 0.0, 0.0, 0.0])
_TRANSITIONS = np.array(
    [
        # home search filter apt  gallery book-now booking draft
        [0.05, 0.70, 0.00, 0.25, 0.00, 0.00, 0.00, 0.00],  # home_page view
        [0.04, 0.08, 0.48, 0.40, 0.00, 0.00, 0.00, 0.00],  # search_page view
        [0.03, 0.10, 0.40, 0.47, 0.00, 0.00, 0.00, 0.00],  # price filter
        [0.05, 0.33, 0.00, 0.16, 0.37, 0.09, 0.00, 0.00],  # apartment_view view
        [0.04, 0.28, 0.00, 0.22, 0.38, 0.08, 0.00, 0.00],  # gallery click
        [0.00, 0.00, 0.00, 0.12, 0.00, 0.00, 0.88, 0.00],  # book-now click
        [0.05, 0.10, 0.00, 0.15, 0.00, 0.00, 0.00, 0.70],  # booking_page view
        [0.25, 0.45, 0.00, 0.10, 0.00, 0.00, 0.20, 0.00],  # draft created
    ]
)

# --- A/B test -------------------------------------------------------------------------
_AB_TEST_GROUPS = ["", '{"search_ranking": "A"}', '{"search_ranking": "B"}']  # blank, A, B
_P_AB_CONFLICT = 0.005  # of all visitors: their sessions carry conflicting groups
_P_BLANK_TEST_GROUPS = 0.01
# Group B's planted effect: the book-now transitions (from an apartment view and from a
# gallery click) are this much more likely before the rows are normalised again.
_BOOK_NOW_LIFT = 1.35
_TRANSITIONS_B = _TRANSITIONS.copy()
_TRANSITIONS_B[[_APT, _GALLERY], _BOOK_NOW] *= _BOOK_NOW_LIFT


def _cdf(transitions: np.ndarray) -> np.ndarray:
    return np.cumsum(transitions / transitions.sum(axis=1, keepdims=True), axis=1)


# Indexed by [group (0 = A, 1 = B), current state].
_TRANSITIONS_CDF = np.stack([_cdf(_TRANSITIONS), _cdf(_TRANSITIONS_B)])

# The planted change of several days: from the middle day on, book-now is this much as likely.
_CHANGE_FACTOR = 0.6


def _changed(transitions: np.ndarray) -> np.ndarray:
    after = transitions.copy()
    after[[_APT, _GALLERY], _BOOK_NOW] *= _CHANGE_FACTOR
    return after


_TRANSITIONS_CDF_AFTER_CHANGE = np.stack(
    [_cdf(_changed(_TRANSITIONS)), _cdf(_changed(_TRANSITIONS_B))]
)

# --- attributes -----------------------------------------------------------------------
_CITIES = ["berlin", "munich", "hamburg", "frankfurt", "cologne", "stuttgart",
           "dusseldorf", "leipzig", "vienna", "london", "paris"]  # fmt: skip
_CITIES_P = np.array([0.34, 0.16, 0.12, 0.10, 0.08, 0.05, 0.04, 0.03, 0.03, 0.03, 0.02])
_LANGS = ["de", "en"]
_LANGS_P = np.array([0.6, 0.4])
_DEVICES = ["phone", "desktop", "tablet", "bot", "other", ""]
_DEVICES_P = np.array([0.55, 0.37, 0.05, 0.01, 0.01, 0.01])
_P_ORGANIC = 0.47
# Campaign names, then the same campaigns as hand-typed UTM tags sometimes spell them.
_SOURCES = ["adwords", "facebook", "newsletter", "criteo", "bing",
            "AdWords", "Facebook", "Newsletter", "CRITEO", "Bing", ""]  # fmt: skip
_SOURCES_P = np.array([0.38, 0.25, 0.12, 0.15, 0.10])
_P_SOURCE_VARIANT = 0.02
_P_SOURCE_LATE = 0.12  # campaign sessions whose first event has no source yet
_P_DEVELOPMENT = 0.01
_P_INTERNAL = 0.008
_P_INTERNAL_IF_DEVELOPMENT = 0.3

# --- row-level noise ------------------------------------------------------------------
_P_BLANK_SESSION_ID = 0.005
_P_BLANK_VISITOR_ID = 0.02
_P_BLANK_PAGE_TYPE = 0.003
_P_BAD_PARAMS = 0.002
_BAD_PARAMS = ["", "null", "[]", '{"page": ']
_P_DISPLACED = 0.02
_MAX_DISPLACEMENT = 40
_P_DUPLICATE = 0.002

# --- params ---------------------------------------------------------------------------
_P_PRICE_1200 = 0.12
_PRICE_KIND_P = np.array([0.84, 0.10, 0.05, 0.01])  # number, "string", "decimal", invalid
_INVALID_PRICES = ["null", "true", '"cheap"', "[1000, 1500]"]
_PRICE_DECIMALS = ["5", "25", "99", "9"]
_CURRENCIES = [', "currency": "EUR"', ', "currency": "eur"', ', "currency": "GBP"',
               ', "currency": "USD"', ""]  # fmt: skip
_CURRENCIES_P = np.array([0.88, 0.03, 0.03, 0.02, 0.04])
_REQUEST_KIND_P = np.array([0.93, 0.05, 0.02])  # "R-1234567", 1234567, ""
# params per journey state (same order as the states); <name> is filled in per row.
_PARAMS_TEMPLATES = (
    '{"page": {"lang": "<lang>"}}',
    '{"page": {"city": "<city>"}}',
    '{"event_content": {"price": <price><currency>}, "page": {"city": "<city>"}}',
    '{"page": {"city": "<city>", "apartment_id": <apartment>}}',
    '{"event_content": {"image_index": <image>}, '
    '"page": {"city": "<city>", "apartment_id": <apartment>}}',
    '{"event_content": {"apartment_id": <apartment>}, "page": {"city": "<city>"}}',
    '{"page": {"request_id": <request>}}',
    '{"event_content": {"apartment_id": <apartment>}, "page": {"request_id": <request>}}',
)

_SUFFIXES = (".csv", ".csv.gz", ".parquet")


def synthetic_events(rows: int, seed: int = 0, days: int = 1) -> Iterator[pa.Table]:
    """Yield chunks (pyarrow Tables, every column pa.string(), column order = COLUMNS) that
    together hold exactly `rows` rows over `days` days.

    Chunks hold up to 500,000 rows (and one day at most); ``rows == 0`` yields one empty
    table so that a consumer still sees the schema.  The same ``(rows, seed, days)`` always
    yields the same rows.
    """
    rows = _non_negative_int(rows, "rows")
    seed = _non_negative_int(seed, "seed")
    days = _non_negative_int(days, "days")
    if days == 0:
        raise ValueError("days must be >= 1, got 0")
    if rows == 0:
        yield _SCHEMA.empty_table()
        return
    if days > 1:
        yield from _several_days(rows, seed, days)
        return
    for chunk, first_row in enumerate(range(0, rows, _CHUNK_ROWS)):
        n = min(_CHUNK_ROWS, rows - first_row)
        rng = np.random.default_rng([seed, chunk])
        ab_rng = np.random.default_rng([seed, chunk, 1])
        yield _chunk(rng, ab_rng, n, first_row, rows)


def write_synthetic_events(
    path: str | os.PathLike, rows: int, seed: int = 0, days: int = 1
) -> Path:
    """Write to .csv, .csv.gz or .parquet (chosen by suffix; anything else -> ValueError
    naming the accepted suffixes). Returns the path.

    The file is written next to its final name and renamed when complete, so an
    interrupted run never leaves a truncated file behind.  Same ``(rows, seed)`` gives
    byte-identical files (gzip header without name or time stamp).
    """
    path = Path(path)
    name = path.name.lower()
    # Longest first: ".csv.gz" must not be mistaken for something ending in ".gz" only.
    kind = next((s for s in sorted(_SUFFIXES, key=len, reverse=True) if name.endswith(s)), None)
    if kind is None:
        raise ValueError(
            f"cannot tell the output format of {str(path)!r}: "
            f"the file name must end in one of {', '.join(_SUFFIXES)}"
        )
    rows = _non_negative_int(rows, "rows")
    seed = _non_negative_int(seed, "seed")
    if _non_negative_int(days, "days") == 0:
        raise ValueError("days must be >= 1, got 0")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    try:
        if kind == ".parquet":
            _write_parquet(tmp, rows, seed, days)
        else:
            with open(tmp, "wb") as raw:
                if kind == ".csv.gz":
                    # No file name and mtime 0 in the header: the bytes depend only on the data.
                    with gzip.GzipFile(
                        filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6
                    ) as gz:
                        _write_csv(gz, rows, seed, days)
                else:
                    _write_csv(raw, rows, seed, days)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


# ---------------------------------------------------------------------------------------
# writers


def _write_csv(out: BinaryIO, rows: int, seed: int, days: int) -> None:
    out.write((",".join(COLUMNS) + "\n").encode())
    chunks = synthetic_events(rows, seed, days)
    while (table := next(chunks, None)) is not None:
        if table.num_rows:
            out.write(_csv_text(table))
        # Let go of this chunk before the next one is generated.
        del table


def _csv_text(table: pa.Table) -> memoryview:
    """The table's rows as CSV text, quoting only fields that need it.

    Google Sheets quotes a cell only when it holds a comma, quote or line break and leaves
    blank cells empty; Arrow's CSV writer would quote every string, so lines are joined
    here instead (still vectorised).
    """
    fields = [_csv_field(table.column(i).combine_chunks()) for i in range(table.num_columns)]
    # The line break goes onto the (short) last field so the long lines are built once.
    fields[-1] = pc.binary_join_element_wise(fields[-1], pa.scalar("\n"), "")
    return _string_bytes(pc.binary_join_element_wise(*fields, ","))


def _string_bytes(values: pa.Array) -> memoryview:
    """All values of a null-free string array, back to back, without copying."""
    _, offsets, data = values.buffers()
    if data is None:
        return memoryview(b"")
    bounds = np.frombuffer(offsets, dtype=np.int32)[[values.offset, values.offset + len(values)]]
    return memoryview(data)[bounds[0] : bounds[1]]


def _csv_field(values: pa.Array) -> pa.Array:
    # Most columns never hold a special character; one scan of the raw bytes proves it
    # far faster than matching every value.
    data = bytes(_string_bytes(values))
    if not any(char in data for char in (b",", b'"', b"\n", b"\r")):
        return values
    needs_quotes = pc.match_substring_regex(values, r'[",\r\n]')
    quoted = pc.binary_join_element_wise(
        '"', pc.replace_substring(values, '"', '""'), pa.scalar('"'), ""
    )
    return pc.if_else(needs_quotes, quoted, values)


def _write_parquet(path: Path, rows: int, seed: int, days: int) -> None:
    with pq.ParquetWriter(path, _SCHEMA, compression="zstd") as writer:
        chunks = synthetic_events(rows, seed, days)
        while (table := next(chunks, None)) is not None:
            writer.write_table(table)
            del table  # as in _write_csv


def _non_negative_int(value: int, name: str) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not a bool")
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


# ---------------------------------------------------------------------------------------
# generation


@dataclass(frozen=True)
class _Day:
    """One of several days: its number from 0, who visits, and its journeys' transitions."""

    number: int
    population: Population
    transitions_cdf: np.ndarray

    @property
    def weekday_factor(self) -> float:
        return float(_WEEKDAY_TRAFFIC[self.number % 7] / _WEEKDAY_TRAFFIC.mean())


def _several_days(rows: int, seed: int, days: int) -> Iterator[pa.Table]:
    weights = _WEEKDAY_TRAFFIC[np.arange(days) % 7]
    population = Population()
    for number, day_rows in enumerate(_allot(rows, weights)):
        cdf = _TRANSITIONS_CDF if number < days // 2 else _TRANSITIONS_CDF_AFTER_CHANGE
        day = _Day(number, population, cdf)
        for first_row in range(0, day_rows, _CHUNK_ROWS):
            n = min(_CHUNK_ROWS, day_rows - first_row)
            # Streams of their own (the trailing 2 and 3), apart from the one-day ones.
            rng = np.random.default_rng([seed, number, first_row, 2])
            ab_rng = np.random.default_rng([seed, number, first_row, 3])
            yield _chunk(rng, ab_rng, n, first_row, day_rows, day)


def _allot(rows: int, weights: np.ndarray) -> np.ndarray:
    """``rows`` shared in proportion to ``weights``, summing exactly (largest remainders)."""
    exact = rows * weights / weights.sum()
    share = np.floor(exact).astype(np.int64)
    share[np.argsort(share - exact, kind="stable")[: rows - int(share.sum())]] += 1
    return share


def _chunk(
    rng: np.random.Generator,
    ab_rng: np.random.Generator,
    n: int,
    first_row: int,
    rows: int,
    day: _Day | None = None,
) -> pa.Table:
    """``n`` rows covering the share ``[first_row, first_row + n) / rows`` of the day."""
    n_dup = min(int(rng.binomial(n, _P_DUPLICATE)), n // 2)
    events, visitor_ids = _draw(rng, ab_rng, n - n_dup, first_row / rows, n / rows, day)
    # Everything random is drawn per event before rows are reordered and repeated, so a
    # repeated row is an exact copy and the strings are built once, in export order.
    order = _export_order(rng, events["time_ms"], n_dup)
    for name, values in events.items():
        events[name] = values[order]
    return _render(events, visitor_ids, _DAY_START_EPOCH_S if day is None else _WEEKS_START_EPOCH_S)


def _draw(
    rng: np.random.Generator,
    ab_rng: np.random.Generator,
    n: int,
    share_start: float,
    share_width: float,
    day: _Day | None = None,
) -> tuple[dict[str, np.ndarray], pa.Array]:
    """Numeric description of ``n`` events (one entry per event in every array) whose
    sessions start in the slice ``[share_start, share_start + share_width)`` of the
    day's traffic, plus the visitor id strings that ``visitor`` indexes. ``time_ms``
    counts from midnight of the (first) day; ``day`` is one of several days, if any."""
    lengths = _session_lengths(rng, n)
    n_sessions = len(lengths)
    starts = np.cumsum(lengths) - lengths
    session = np.repeat(np.arange(n_sessions), lengths)
    position = np.arange(n) - starts[session]
    first = position == 0

    source = _choice(rng, _SOURCES_P, n_sessions)
    # The other spelling of a campaign sits five places further on in _SOURCES.
    source = np.where(rng.random(n_sessions) < _P_SOURCE_VARIANT, source + 5, source)
    source = np.where(rng.random(n_sessions) < _P_ORGANIC, len(_SOURCES) - 1, source)
    late_source = (rng.random(n_sessions) < _P_SOURCE_LATE) & (lengths > 1)
    development = rng.random(n_sessions) < _P_DEVELOPMENT
    internal = (rng.random(n_sessions) < _P_INTERNAL) | (
        development & (rng.random(n_sessions) < _P_INTERNAL_IF_DEVELOPMENT)
    )

    # Session starts follow the daily curve in row order, so each chunk covers its own
    # slice of the day and the chunks concatenate in time order.
    offsets_ms = _event_offsets_ms(rng, lengths, session, position)
    duration = offsets_ms[starts + lengths - 1] if n_sessions else np.zeros(0, np.int64)
    share = share_start + (starts + rng.random(n_sessions) * lengths) / max(n, 1) * share_width
    start_ms = np.interp(share, _HOUR_CDF, _HOUR_EDGES_MS).astype(np.int64)
    # A session that would run past midnight ends at its drawn start time instead.
    start_ms = np.where(start_ms + duration < _DAY_MS, start_ms, start_ms - duration)
    # Like the site's cookie id: the Unix second the session began, then random digits.
    if day is not None:
        start_ms = start_ms + day.number * _DAY_MS
    midnight_s = _DAY_START_EPOCH_S if day is None else _WEEKS_START_EPOCH_S
    session_id = (midnight_s + start_ms // 1000) * 1_000_000_000 + rng.integers(
        0, 1_000_000_000, n_sessions
    )
    if day is None:
        visitor, visitor_ids = _visitors(rng, n_sessions)
        group = _ab_groups(ab_rng, visitor, len(visitor_ids))
        transitions_cdf = _TRANSITIONS_CDF
    else:
        visitor, visitor_ids, group = day.population.sessions_of(
            rng, day.number, n_sessions, day.weekday_factor
        )
        transitions_cdf = day.transitions_cdf

    state = _journeys(rng, lengths, starts, session, position, group, transitions_cdf)
    # Gallery and booking clicks refer to the apartment last viewed in the session.
    last_view = np.maximum.accumulate(np.where(state == _APT, np.arange(n), 0))
    events = {
        "time_ms": start_ms[session] + offsets_ms,
        "session_id": session_id[session],
        "blank_session_id": rng.random(n) < _P_BLANK_SESSION_ID,
        "visitor": visitor[session],
        "blank_visitor_id": rng.random(n) < _P_BLANK_VISITOR_ID,
        "state": state,
        "blank_page_type": rng.random(n) < _P_BLANK_PAGE_TYPE,
        "source": np.where(late_source[session] & first, len(_SOURCES) - 1, source[session]),
        "device": _choice(rng, _DEVICES_P, n_sessions)[session],
        "development": development[session],
        "internal": internal[session],
        # What params is made of.
        "city": _choice(rng, _CITIES_P, n_sessions)[session],
        "lang": _choice(rng, _LANGS_P, n_sessions)[session],
        "apartment": rng.integers(100_000, 2_000_000, n, dtype=np.int32)[last_view],
        "image": rng.integers(1, 25, n, dtype=np.int8),
        "price": _prices(rng, n),
        "price_kind": _choice(rng, _PRICE_KIND_P, n),
        "price_decimals": rng.integers(0, len(_PRICE_DECIMALS), n, dtype=np.int8),
        "invalid_price": rng.integers(0, len(_INVALID_PRICES), n, dtype=np.int8),
        "currency": _choice(rng, _CURRENCIES_P, n),
        "request": rng.integers(1_000_000, 10_000_000, n_sessions, dtype=np.int32)[session],
        "request_kind": _choice(rng, _REQUEST_KIND_P, n),
        "bad_params": np.where(
            rng.random(n) < _P_BAD_PARAMS, rng.integers(0, len(_BAD_PARAMS), n, dtype=np.int8), -1
        ).astype(np.int8),
        # Index into _AB_TEST_GROUPS: 0 blank, 1 A, 2 B.
        "test_groups": np.where(
            ab_rng.random(n) < _P_BLANK_TEST_GROUPS, 0, group[session] + 1
        ).astype(np.int8),
    }
    return events, visitor_ids


def _render(events: dict[str, np.ndarray], visitor_ids: pa.Array, midnight_s: int) -> pa.Table:
    """The export's text columns for the events, in the given order; ``time_ms`` counts from
    ``midnight_s`` (Unix seconds)."""
    state = events["state"]
    page = np.where(events["blank_page_type"], _BLANK_PAGE, _STATE_PAGE[state])
    session_id = pa.array(events["session_id"]).cast(pa.string())
    visitor_id = visitor_ids.take(pa.array(events["visitor"]))
    return pa.table(
        [
            _datetimes(events["time_ms"], midnight_s),
            _blank_where(events["blank_session_id"], session_id),
            _lookup(_PAGE_TYPES, page),
            _lookup(_EVENT_TYPES, _STATE_EVENT[state]),
            _params(events),
            _lookup(_SOURCES, events["source"]),
            _lookup(_DEVICES, events["device"]),
            _lookup(["production", "development"], events["development"]),
            _lookup(["FALSE", "TRUE"], events["internal"]),
            _blank_where(events["blank_visitor_id"], visitor_id),
            _lookup(_AB_TEST_GROUPS, events["test_groups"]),
        ],
        schema=_SCHEMA,
    )


def _session_lengths(rng: np.random.Generator, n: int) -> np.ndarray:
    """Event counts per session summing to exactly ``n`` (the last session is cut short)."""
    parts, total = [], 0
    while total < n:
        m = max(16, (n - total) // 4)
        more = 2 + rng.negative_binomial(2, 0.33, m)
        more = np.minimum(np.where(rng.random(m) < _P_SINGLE_EVENT, 1, more), _MAX_EVENTS)
        parts.append(more)
        total += int(more.sum())
    if not parts:
        return np.zeros(0, np.int64)
    lengths = np.concatenate(parts).astype(np.int64)
    cum = np.cumsum(lengths)
    keep = int(np.searchsorted(cum, n)) + 1
    lengths = lengths[:keep]
    lengths[-1] -= cum[keep - 1] - n
    return lengths


def _event_offsets_ms(
    rng: np.random.Generator, lengths: np.ndarray, session: np.ndarray, position: np.ndarray
) -> np.ndarray:
    """Milliseconds from the session's first event to each event."""
    n_sessions = len(lengths)
    short = (rng.random(n_sessions) < _P_SHORT_SESSION) & (lengths > 1)
    # Reading a page takes seconds to minutes; a short session is a bounce or a bot that
    # fires its events within five seconds.
    gaps = np.clip(rng.lognormal(np.log(18_000), 1.0, len(session)), 400, 300_000)
    short_gap = rng.random(len(session)) * (4_900 / np.maximum(lengths - 1, 1))[session]
    gaps = np.where(short[session], short_gap + 1, gaps)
    gaps[position == 0] = 0
    totals = np.bincount(session, weights=gaps, minlength=n_sessions)
    scale = np.minimum(1.0, _MAX_SESSION_MS / np.maximum(totals, 1.0))
    gaps *= scale[session]
    offsets = np.cumsum(gaps)
    return (offsets - (offsets - gaps)[position == 0][session]).astype(np.int64)


def _journeys(
    rng: np.random.Generator,
    lengths: np.ndarray,
    starts: np.ndarray,
    session: np.ndarray,
    position: np.ndarray,
    group: np.ndarray,
    transitions_cdf: np.ndarray = _TRANSITIONS_CDF,
) -> np.ndarray:
    """State (page_type, event_type) of every event, walking all sessions in step; a
    session in A/B group B (``group == 1``) walks group B's transitions."""
    state = np.empty(len(session), dtype=np.int8)
    state[starts] = _choice(rng, _LANDING_P, len(starts))
    for step in range(1, int(lengths.max(initial=0))):
        rows_at = starts[lengths > step] + step
        u = rng.random(len(rows_at))
        cdf = transitions_cdf[group[session[rows_at]], state[rows_at - 1]]
        state[rows_at] = np.minimum((u[:, None] >= cdf).sum(axis=1), len(_TRANSITIONS) - 1)
    return state


def _params(events: dict[str, np.ndarray]) -> pa.Array:
    """The params JSON of every event, built per journey state from its template."""
    state, bad = events["state"], events["bad_params"]
    groups = [np.flatnonzero((bad < 0) & (state == s)) for s in range(len(_PARAMS_TEMPLATES))]
    pieces = []
    for template, rows in zip(_PARAMS_TEMPLATES, groups, strict=True):
        parts: list = re.split(r"<(\w+)>", template)
        # Odd positions of the split are placeholder names, even ones literal JSON text.
        parts[1::2] = [_PARAMS_VALUES[name](events, rows) for name in parts[1::2]]
        parts = [p for p in parts if not isinstance(p, str) or p]
        pieces.append(pc.binary_join_element_wise(*parts, ""))
    groups.append(np.flatnonzero(bad >= 0))
    pieces.append(_lookup(_BAD_PARAMS, bad[groups[-1]]))
    # Built group by group, then put back in row order.
    inverse = np.empty(len(state), dtype=np.int64)
    inverse[np.concatenate(groups)] = np.arange(len(state))
    return pa.concat_arrays(pieces).take(pa.array(inverse))


def _prices(rng: np.random.Generator, n: int) -> np.ndarray:
    # The slider moves in steps of 50; 1200 is the default a visitor applies unchanged.
    price = np.clip(np.round(rng.lognormal(np.log(1250), 0.45, n) / 50) * 50, 400, 3000)
    return np.where(rng.random(n) < _P_PRICE_1200, 1200, price).astype(np.int64)


def _price_json(events: dict[str, np.ndarray], rows: np.ndarray) -> pa.Array:
    """Mostly a number, some strings ("1350", "1200.5"), a few invalid values."""
    digits = _digits(events["price"][rows])
    decimals = _lookup(_PRICE_DECIMALS, events["price_decimals"][rows])
    return pc.choose(
        pa.array(events["price_kind"][rows]),
        digits,
        pc.binary_join_element_wise('"', digits, pa.scalar('"'), ""),
        pc.binary_join_element_wise('"', digits, pa.scalar("."), decimals, pa.scalar('"'), ""),
        _lookup(_INVALID_PRICES, events["invalid_price"][rows]),
    )


def _request_json(events: dict[str, np.ndarray], rows: np.ndarray) -> pa.Array:
    """Mostly "R-1234567", sometimes the bare number or an empty string."""
    digits = _digits(events["request"][rows])
    return pc.choose(
        pa.array(events["request_kind"][rows]),
        pc.binary_join_element_wise('"R-', digits, pa.scalar('"'), ""),
        digits,
        pa.scalar('""'),
    )


_PARAMS_VALUES = {
    "lang": lambda events, rows: _lookup(_LANGS, events["lang"][rows]),
    "city": lambda events, rows: _lookup(_CITIES, events["city"][rows]),
    "apartment": lambda events, rows: _digits(events["apartment"][rows]),
    "image": lambda events, rows: _digits(events["image"][rows]),
    "price": _price_json,
    "currency": lambda events, rows: _lookup(_CURRENCIES, events["currency"][rows]),
    "request": _request_json,
}


def _visitors(rng: np.random.Generator, n_sessions: int) -> tuple[np.ndarray, pa.Array]:
    """The visitor of each session, and the visitors' ids; a visitor has 1-3 sessions
    scattered over the chunk."""
    per_visitor = _choice(rng, _VISITOR_SESSIONS_P, n_sessions) + 1
    n_visitors = int(np.searchsorted(np.cumsum(per_visitor), n_sessions)) + 1 if n_sessions else 0
    visitor = rng.permutation(np.repeat(np.arange(n_visitors), per_visitor[:n_visitors]))
    hex_digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    chars = np.empty((n_visitors, 14), dtype=np.uint8)
    chars[:, :2] = np.frombuffer(b"v-", dtype=np.uint8)
    chars[:, 2:] = hex_digits[rng.integers(0, 16, (n_visitors, 12))]
    return visitor[:n_sessions], pa.array(chars.view("S14").ravel()).cast(pa.string())


def _ab_groups(rng: np.random.Generator, visitor: np.ndarray, n_visitors: int) -> np.ndarray:
    """The A/B group (0 = A, 1 = B) of each session: its visitor's group, about 50/50.

    About ``_P_AB_CONFLICT`` of all visitors, drawn among those with several sessions, carry
    conflicting groups: their second session gets the other group (the third the first again).
    """
    visitor_group = (rng.random(n_visitors) < 0.5).astype(np.int8)
    sessions_per_visitor = np.bincount(visitor, minlength=n_visitors)
    several = sessions_per_visitor > 1
    p_conflict = min(1.0, _P_AB_CONFLICT * n_visitors / max(int(several.sum()), 1))
    conflicting = several & (rng.random(n_visitors) < p_conflict)
    # Rank of each session among its visitor's sessions (0 for the first).
    order = np.argsort(visitor, kind="stable")
    first_of_visitor = np.concatenate([[0], np.cumsum(sessions_per_visitor)[:-1]])
    rank = np.empty(len(visitor), dtype=np.int64)
    rank[order] = np.arange(len(visitor)) - first_of_visitor[visitor[order]]
    flip = conflicting[visitor] & (rank % 2 == 1)
    return (visitor_group[visitor] ^ flip).astype(np.int8)


def _export_order(rng: np.random.Generator, time_ms: np.ndarray, n_dup: int) -> np.ndarray:
    """Row order of the export: by time, with a few rows off by some places and a few
    rows repeated right after themselves."""
    n = len(time_ms)
    by_time = np.argsort(time_ms, kind="stable")
    place = np.arange(n, dtype=np.float64)
    displaced = rng.random(n) < _P_DISPLACED
    # Half a place more than the shift so that a moved row never ties with a neighbour.
    shift = rng.integers(1, _MAX_DISPLACEMENT + 1, n) + 0.5
    place += np.where(displaced, np.where(rng.random(n) < 0.5, shift, -shift), 0)
    order = by_time[np.argsort(place, kind="stable")]
    copies = np.ones(n, dtype=np.int64)
    copies[rng.choice(n, size=n_dup, replace=False)] = 2
    return np.repeat(order, copies)


def _datetimes(time_ms: np.ndarray, midnight_s: int) -> pa.Array:
    clock, fraction = _clock_strings()
    day = time_ms // _DAY_MS
    first, last = (int(day.min()), int(day.max())) if len(day) else (0, 0)
    dates = [
        datetime.fromtimestamp(midnight_s + d * 86_400, UTC).strftime("%Y-%m-%d ")
        for d in range(first, last + 1)
    ]
    return pc.binary_join_element_wise(
        pa.array(dates, pa.string()).take(pa.array(day - first)),
        clock.take(pa.array(time_ms % _DAY_MS // 1000)),
        fraction.take(pa.array(time_ms % 1000)),
        pa.scalar(" UTC"),
        "",
    )


@lru_cache(maxsize=1)
def _clock_strings() -> tuple[pa.Array, pa.Array]:
    """Every "HH:MM:SS" of a day, and every millisecond fraction as BigQuery prints it."""
    clock = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)]
    fraction = [""] + [f".{ms:03d}".rstrip("0") for ms in range(1, 1000)]
    return pa.array(clock, pa.string()), pa.array(fraction, pa.string())


def _choice(rng: np.random.Generator, p: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with probabilities ``p`` (faster than Generator.choice for big sizes)."""
    cdf = np.cumsum(p / p.sum())
    index = np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(p) - 1)
    return index.astype(np.int8)


def _lookup(values: list[str], index: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(np.asarray(index, dtype=np.int32)))


def _digits(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _blank_where(mask: np.ndarray, values: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(""), values)
