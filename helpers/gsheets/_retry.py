"""The retry policy of one read, built on tenacity's stop, wait and retry primitives."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import tenacity

from helpers.errors import SourceError
from helpers.gsheets._faults import _is_transient
from helpers.gsheets._messages import _describe, _likely_cause

# One logger for the whole package, under the name it had as a single module.
_log = logging.getLogger(__package__)

_T = TypeVar("_T")

# Backoff between attempts: the n-th retry waits a random time in
# [b/2, b] with b = min(_WAIT_MAX, _WAIT_INITIAL * 2**(n-1)) seconds.
# Module-level, and read each time a request starts, so that tests can make the backoff fast.
_WAIT_INITIAL = 1.0
_WAIT_MAX = 32.0


def _backoff(initial: float, most: float) -> tenacity.wait.wait_base:
    """Uniform in [b/2, b]: the fixed half of the capped step plus a random half (equal jitter).

    Jitter keeps parallel readers from retrying in step; the fixed half keeps each wait long
    enough for a quota to refill.
    """
    half = {"multiplier": initial / 2, "max": most / 2}
    return tenacity.wait_exponential(**half) + tenacity.wait_random_exponential(**half)


class _Policy:
    """Retry policy of one read: every request gets at most max_attempts attempts, and the
    attempts and waits of one request end within deadline_seconds of its first attempt."""

    def __init__(self, max_attempts: int, deadline_seconds: float, timeout_seconds: float):
        self.max_attempts = max_attempts
        self.deadline = deadline_seconds
        self.timeout = timeout_seconds

    def call(self, fn: Callable[[float], _T], what: str) -> _T:
        """Run fn(timeout) with retries; transient failures past the limits become SourceError.

        fn gets the timeout for its attempt: timeout_seconds, or less when the deadline is
        nearer.  Failures that are not transient are re-raised unchanged (no retry) for the
        caller to explain.
        """

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            _log.warning(
                "Google Sheets: %s failed (%s, attempt %d of %d); retrying in %.2f s",
                what,
                _describe(exc) if exc else "?",
                state.attempt_number,
                self.max_attempts,
                state.upcoming_sleep,
            )

        retrying = tenacity.Retrying(
            # tenacity draws the wait before it asks stop, and then sleeps that same wait:
            # stop_before_delay so never starts a wait that would end at or past the deadline.
            stop=(
                tenacity.stop_after_attempt(self.max_attempts)
                | tenacity.stop_before_delay(self.deadline)
            ),
            wait=_backoff(_WAIT_INITIAL, _WAIT_MAX),
            retry=tenacity.retry_if_exception(_is_transient),
            before_sleep=before_sleep,
            reraise=True,
        )
        state: tenacity.RetryCallState | None = None
        try:
            for attempt in retrying:
                with attempt:
                    state = attempt.retry_state
                    # tenacity bounds the waits; the attempt's own timeout must not reach past
                    # the deadline either.
                    remaining = self.deadline - (time.monotonic() - state.start_time)
                    return fn(max(0.01, min(self.timeout, remaining)))
        except Exception as exc:
            if not _is_transient(exc) or state is None:
                raise
            attempts = state.attempt_number
            elapsed = time.monotonic() - state.start_time
            raise SourceError(
                f"Google kept failing while {what} ({_describe(exc)}): gave up after {attempts} "
                f"attempt{'s' if attempts != 1 else ''} in {elapsed:.1f} s. "
                f"{_likely_cause(exc)}; try again later, or raise max_attempts (now "
                f"{self.max_attempts}) or deadline_seconds (now {self.deadline:g})."
            ) from None  # the error holds the request, and its bearer token
        raise AssertionError("unreachable")  # pragma: no cover
