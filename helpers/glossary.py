"""Glossary: the one place where the code's names become a reader's words.

Every name that can reach the HTML (a KPI, a sub-count, an exclusion reason, a data-quality
count, a parameter in the what-if banner, a column of a table) is looked up here through
:func:`words`, the templates' ``words`` filter; a name not listed is shown as written (a
value from the data, such as a channel, is never translated). The HTML's glossary section
lists the entries that the page uses.

>>> words("no_om_source"), words("AdWords")
('no marketing source (organic)', 'AdWords')
"""

from __future__ import annotations

#: Code name -> plain words.
WORDS: dict[str, str] = {
    # the objectives and their sub-counts
    "users_total": "users",
    "users_by_device_class": "users by device",
    "users_by_first_om_source": "users by first marketing channel",
    "short_sessions": "short sessions",
    "users_search_then_apartment_view": "started on search, then viewed an apartment",
    "users_clicked_book_now": "clicked book now",
    "users_search_start_request_draft": "started on search and created a request draft",
    "users_with_request_id": "have a request id",
    "price_filter": "price filters",
    "users": "users with a short session",
    "sessions": "short sessions",
    "started_on_search_page": "short sessions starting on the search page",
    "ended_on_apartment_view": "short sessions ending on an apartment page",
    "users_above": "users above the threshold",
    "users_below": "users below the threshold",
    "users_at_threshold": "users at the threshold",
    "sessions_ignored_other_currency": "sessions ignored (other currency)",
    "no_om_source": "no marketing source (organic)",
    "unknown": "unknown device",
    # the comparison's KPIs
    "short_sessions.sessions": "short sessions",
    "short_sessions.users": "users with a short session",
    "price_filter.users_above": "users filtering above the price threshold",
    "funnel_conversion": "searchers who went on to create a request draft",
    # data quality
    "rows_read": "rows read",
    "rows_analysed": "rows analysed",
    "forgotten_user": "a forgotten user's (deletion request): counted, never shown",
    "invalid_json_line": "line is not a JSON object",
    "invalid_datetime": "date and time unreadable",
    "missing_session_id": "no session id",
    "missing_user_id": "no user id",
    "non_production_env": "not the production environment",
    "internal_ip": "internal traffic (company network)",
    "duplicate_event": "duplicate of an earlier row",
    "params_invalid": "page variables unreadable (analysed as empty)",
    "price_invalid": "price filter value that is not a price",
    "datetime_before_2000": "dated before 2000",
    "datetime_in_the_future": "dated in the future",
    # parameters (the what-if banner)
    "user_column": "a user is",
    "environments": "environments analysed",
    "exclude_internal_traffic": "internal traffic excluded",
    "short_session_seconds": "short session limit (seconds)",
    "price_threshold": "price threshold",
    "price_currency": "price currency",
    "columns": "columns mapped",
    "session_timeout_minutes": "session timeout (minutes)",
    "datetime_format": "date and time format",
    "forget": "file of forgotten users",
    "keep_columns": "personal columns kept",
    "pseudonymise": "outputs with pseudonymous ids",
    "pseudonym_env": "pseudonym key from the environment",
    "min_group_users": "smallest group shown (users)",
    "session_id": "a session (cookie id)",
    "visitor_id": "a visitor",
    # the analyses' figures, as their definitions name them
    "active_users": "users with at least one event in the period",
    "new_users": "users whose first event falls in the period",
    "mean_dau": "average daily active users",
    "bounce_rate": "share of sessions that are one page view and nothing else",
    "busiest_hour": "the hour (UTC) with the most events",
    "duration_histogram": "sessions by how long they last",
    "median_seconds": "median session length",
    "p90_seconds": "session length that 9 in 10 sessions stay under",
    "multi_event_median_seconds": "median length of sessions with several events",
    "multi_event_short_sessions": "short sessions with more than one event",
    "one_event_sessions": "sessions of a single event",
    "sessions_total": "sessions",
    "events_total": "events",
    "users_first_touch_differs": "users whose first and last channel differ",
    "users_in_several_groups": "users seen in more than one group of a test",
    "users_with_page_type": "users with at least one event naming a page",
    "users_without_page_type": "users with no event naming a page",
    "rows_without_visitor_id": "rows without a visitor id",
    "users_i": "users at step i of a funnel",
    "users_1": "users at the first step of a funnel",
    "test_groups": "the A/B test groups a user is in",
    "control_groups": "each A/B test's control group",
    "event_content": "the event's variables (price, currency)",
    "request_id": "a booking request's id",
    "params": "the page variables of an event",
    "rejected_rows": "the file of excluded rows, with their reasons",
    "window_seconds": "the time a funnel allows from its first step to its last",
    # columns of the analyses' tables
    "conversion_from_first": "of those at the first step",
    "conversion_from_previous": "of those at the step before",
    "drop_off": "lost since the step before",
    "search_page": "search page",
    "home_page": "home page",
    "apartment_view": "apartment page",
    "click_book-now": "clicked book now",
    "request_draft-created": "created a request draft",
    "page_view": "page view",
    "device_class": "device",
    "om_source": "marketing channel",
    "page_type": "page",
    "event_type": "action",
}


def words(name: object) -> str:
    """``name`` in plain words, or as written when the glossary has no entry for it."""
    text = str(name)
    return WORDS.get(text, text)
