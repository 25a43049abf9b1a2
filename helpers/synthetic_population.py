"""Who comes back: the visitors of several days of synthetic events.

One day of :mod:`helpers.synthetic` draws its visitors afresh. Over several days a site has a
population: visitors arrive on a day, some never come back, and the others come back on
later days, less and less often as the weeks pass, a little more at the weekend. This module
keeps that population and hands each day's sessions their visitors:

* **Arrival.** A new visitor has 1-3 sessions on their first day (as on one day), an A/B
  group drawn once (about 50/50) and kept on every later day, and is a *one-off* with
  probability ``_P_ONE_OFF`` (never comes back).
* **Return.** Every other visitor comes back on day ``first + a`` (``a >= 1``) with
  probability ``_P_RETURN * _RETURN_DECAY ** (a - 1) * weekday factor``, one session then.
  At most ``_MAX_RETURNING_SHARE`` of a day's sessions are returning ones (the rest are new
  visitors), so the day's row count stays what was asked for.
* **Conflicting groups.** About ``_P_AB_CONFLICT`` of visitors carry the other group on
  sessions of odd-numbered days, as a tracking bug would.

The draws come from the generator handed in, so the same seed gives the same population.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_P_ONE_OFF = 0.55
_P_RETURN = 0.16
_RETURN_DECAY = 0.93
_MAX_RETURNING_SHARE = 0.7
_P_AB_CONFLICT = 0.005
_SAME_DAY_SESSIONS_P = np.array([0.78, 0.16, 0.06])  # new visitors with 1, 2, 3 sessions
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


class Population:
    """The visitors seen so far, as parallel arrays (one entry per visitor)."""

    def __init__(self) -> None:
        self.first_day = np.zeros(0, np.int32)
        self.returns = np.zeros(0, bool)
        self.group = np.zeros(0, np.int8)
        self.conflicting = np.zeros(0, bool)
        self.ids = np.zeros((0, 14), np.uint8)

    def __len__(self) -> int:
        return len(self.first_day)

    def sessions_of(
        self, rng: np.random.Generator, day: int, n_sessions: int, weekday_factor: float
    ) -> tuple[np.ndarray, pa.Array, np.ndarray]:
        """For ``n_sessions`` sessions of ``day`` (in random order): the visitor of each as an
        index into the returned ids, those ids, and each session's A/B group (0 A, 1 B)."""
        returning = self._returning(rng, day, n_sessions, weekday_factor)
        new = self._arrive(rng, day, n_sessions - len(returning))
        visitor = rng.permutation(np.concatenate([returning, new]))
        group = self.group[visitor] ^ (self.conflicting[visitor] & (day % 2 == 1))
        used, local = np.unique(visitor, return_inverse=True)
        ids = pa.array(self.ids[used].view("S14").ravel()).cast(pa.string())
        return local, ids, group.astype(np.int8)

    def _returning(
        self, rng: np.random.Generator, day: int, n_sessions: int, weekday_factor: float
    ) -> np.ndarray:
        age = day - self.first_day
        p = np.where(
            self.returns & (age >= 1),
            _P_RETURN * _RETURN_DECAY ** np.maximum(age - 1, 0) * weekday_factor,
            0.0,
        )
        back = np.flatnonzero(rng.random(len(self)) < p)
        most = int(_MAX_RETURNING_SHARE * n_sessions)
        if len(back) > most:
            back = np.sort(rng.choice(back, size=most, replace=False))
        return back

    def _arrive(self, rng: np.random.Generator, day: int, n_sessions: int) -> np.ndarray:
        """New visitors for ``n_sessions`` sessions; their index once per session."""
        if n_sessions <= 0:
            return np.zeros(0, np.int64)
        cdf = np.cumsum(_SAME_DAY_SESSIONS_P)
        per_visitor = np.searchsorted(cdf, rng.random(n_sessions), side="right") + 1
        n_new = int(np.searchsorted(np.cumsum(per_visitor), n_sessions)) + 1
        sessions = np.repeat(np.arange(n_new), per_visitor[:n_new])[:n_sessions]
        first = len(self)
        ids = np.empty((n_new, 14), np.uint8)
        ids[:, :2] = np.frombuffer(b"v-", dtype=np.uint8)
        ids[:, 2:] = _HEX[rng.integers(0, 16, (n_new, 12))]
        self.first_day = np.concatenate([self.first_day, np.full(n_new, day, np.int32)])
        self.returns = np.concatenate([self.returns, rng.random(n_new) >= _P_ONE_OFF])
        self.group = np.concatenate([self.group, (rng.random(n_new) < 0.5).astype(np.int8)])
        self.conflicting = np.concatenate([self.conflicting, rng.random(n_new) < _P_AB_CONFLICT])
        self.ids = np.concatenate([self.ids, ids])
        return first + sessions
