"""The baseline: the eight objectives as an analyst who knows DuckDB writes them by hand.

One SQL script over the raw file (``read_csv(all_varchar=true)`` or ``read_parquet``):
``trim``, ``try_cast`` to a timestamp, ``json_extract``, ``arg_min``/``arg_max`` per user. No
exclusion reasons, no rejected rows, no insights, no analyses: the quick script a user would
compare the report with. Users are sessions (the report's default ``user_column``).

Run as its own process by :mod:`bench.versus` (``python bench/baseline.py FILE [OUT]``): it
writes the objectives as JSON (to OUT, or stdout), which the benchmark compares with the
report's. Only duckdb is
imported, so the process costs what such a script costs.
"""

from __future__ import annotations

import json
import os
import sys

import duckdb

# Where the spec's extras do not bite (ties broken by input order, trimming corner cases,
# the exact duplicate rule) this gives the report's objectives; bench.versus checks that.
SQL = """
WITH raw AS (
    SELECT DISTINCT * FROM {events}
), events AS (
    SELECT
        trim(session_id) AS session_id,
        try_cast(trim(datetime) AS TIMESTAMPTZ) AS ts,
        nullif(trim(page_type), '') AS page_type,
        nullif(trim(event_type), '') AS event_type,
        nullif(trim(om_source), '') AS om_source,
        nullif(trim(device_class), '') AS device_class,
        CASE WHEN json_valid(params) THEN params::JSON END AS params
    FROM raw
    WHERE lower(trim(env)) = 'production'
      AND coalesce(lower(trim(is_internal_ip)) NOT IN ('true', '1', 'yes', 't'), true)
), kept AS (
    SELECT * FROM events WHERE ts IS NOT NULL AND session_id <> ''
), users AS (
    SELECT
        session_id,
        date_diff('microsecond', min(ts), max(ts)) / 1e6 AS seconds,
        arg_min(page_type, ts) FILTER (WHERE page_type IS NOT NULL) AS first_page,
        arg_max(page_type, ts) FILTER (WHERE page_type IS NOT NULL) AS last_page,
        arg_min(device_class, ts) FILTER (WHERE device_class IS NOT NULL) AS device,
        arg_min(om_source, ts) FILTER (WHERE om_source IS NOT NULL) AS source,
        bool_or(page_type = 'apartment_view') AS viewed_apartment,
        bool_or(event_type = 'click_book-now') AS clicked_book_now,
        bool_or(event_type = 'request_draft-created') AS created_draft,
        bool_or(
            (json_type(params, '$.page.request_id') = 'VARCHAR'
             AND trim(params ->> '$.page.request_id') <> '')
            OR json_type(params, '$.page.request_id') IN ('BIGINT', 'UBIGINT', 'DOUBLE')
        ) AS has_request_id
    FROM kept
    GROUP BY session_id
), prices AS (
    SELECT
        session_id,
        CASE
            WHEN json_type(params, '$.event_content.price') IN ('BIGINT', 'UBIGINT', 'DOUBLE')
                THEN (params -> '$.event_content.price')::DOUBLE
            WHEN json_type(params, '$.event_content.price') = 'VARCHAR'
                THEN try_cast(trim(params ->> '$.event_content.price') AS DOUBLE)
        END AS price,
        CASE WHEN json_type(params, '$.event_content.currency') = 'VARCHAR'
            THEN upper(trim(params ->> '$.event_content.currency')) END AS currency
    FROM kept
    WHERE json_exists(params, '$.event_content.price')
), priced AS (
    SELECT * FROM prices WHERE isfinite(price)
), ignored AS (
    SELECT session_id FROM priced
    GROUP BY session_id HAVING bool_or(currency IS DISTINCT FROM 'EUR')
), counted AS (
    SELECT * FROM priced WHERE session_id NOT IN (SELECT session_id FROM ignored)
)
SELECT json_object(
    'users_total', (SELECT count(*) FROM users),
    'users_by_device_class', (
        SELECT json_group_object(device, n) FROM (
            SELECT coalesce(device, 'unknown') AS device, count(*) AS n FROM users GROUP BY 1)),
    'users_by_first_om_source', (
        SELECT json_group_object(source, n) FROM (
            SELECT coalesce(source, 'no_om_source') AS source, count(*) AS n
            FROM users GROUP BY 1)),
    'short_sessions', (
        SELECT json_object(
            'max_duration_seconds', {short_seconds},
            'users', count(*),
            'sessions', count(*),
            'started_on_search_page', count(*) FILTER (WHERE first_page = 'search_page'),
            'ended_on_apartment_view', count(*) FILTER (WHERE last_page = 'apartment_view'))
        FROM users WHERE seconds <= {short_seconds}),
    'users_search_then_apartment_view', (
        SELECT count(*) FROM users WHERE first_page = 'search_page' AND viewed_apartment),
    'users_clicked_book_now', (SELECT count(*) FROM users WHERE clicked_book_now),
    'users_search_start_request_draft', (
        SELECT count(*) FROM users WHERE first_page = 'search_page' AND created_draft),
    'price_filter', (
        SELECT json_object(
            'threshold', {threshold},
            'currency', 'EUR',
            'users_above', count(DISTINCT session_id) FILTER (WHERE price > {threshold}),
            'users_below', count(DISTINCT session_id) FILTER (WHERE price < {threshold}),
            'users_at_threshold', count(DISTINCT session_id) FILTER (WHERE price = {threshold}),
            'sessions_ignored_other_currency', (SELECT count(*) FROM ignored))
        FROM counted),
    'users_with_request_id', (SELECT count(*) FROM users WHERE has_request_id)
)
"""


def objectives(path: str, *, short_seconds: int = 5, threshold: int = 1200) -> dict:
    """The eight objectives of the events file at ``path``, by the hand-written script."""
    if os.path.isdir(path):
        path = os.path.join(path, "**", "*.parquet")
    quoted = path.replace("'", "''")
    if path.lower().endswith((".csv", ".csv.gz")):
        events = f"read_csv('{quoted}', all_varchar = true, header = true)"
    else:
        events = f"read_parquet('{quoted}')"
    query = SQL.format(events=events, short_seconds=short_seconds, threshold=threshold)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    (text,) = con.execute(query).fetchone()
    return json.loads(text)


if __name__ == "__main__":
    found = json.dumps(objectives(sys.argv[1]), sort_keys=True)
    if len(sys.argv) > 2:  # where bench.versus reads them; stdout otherwise
        with open(sys.argv[2], "w") as out:
            out.write(found)
    else:
        print(found)
