"""Statistics for comparing groups: two-proportion tests and sample-ratio checks.

scipy.special is imported inside each function, so a run without A/B tests never pays its import
(0.3 s); scipy.stats, which would cost 1 s more, is not imported at all.
"""

from __future__ import annotations

import math

from pydantic import Field

from helpers.analyses._base import Model

#: A two-sided test at this level; the confidence intervals are 1 - ALPHA.
ALPHA = 0.05
#: A sample-ratio mismatch is flagged below this chi-square p-value.
SRM_ALPHA = 0.001


class Comparison(Model):
    """A group's rate minus the control's: 95% CI from the unpooled standard error,
    two-sided two-proportion z-test with the pooled standard error. All null when a group is
    empty."""

    difference: float | None = Field(ge=-1, le=1)
    relative_difference: float | None
    ci_low: float | None
    ci_high: float | None
    z: float | None
    p_value: float | None = Field(ge=0, le=1)
    significant: bool | None


class SampleRatio(Model):
    """Chi-square goodness of fit against an equal split; null with fewer than two groups."""

    chi_square: float = Field(ge=0)
    p_value: float = Field(ge=0, le=1)
    mismatch: bool


def compare_proportions(
    successes: int, n: int, control_successes: int, control_n: int, *, alpha: float = ALPHA
) -> Comparison:
    """A group's rate against the control's: ``difference`` (group - control),
    ``relative_difference`` (difference / control rate), the (1 - alpha) confidence interval
    of the difference from the unpooled standard error sqrt(p1(1-p1)/n1 + p0(1-p0)/n0), and
    the two-sided two-proportion z-test with the pooled standard error
    sqrt(p(1-p)(1/n1 + 1/n0)), p the pooled rate: ``z``, ``p_value``, ``significant``
    (p < alpha). When the pooled standard error is 0 (both rates 0 or both 1) z is 0 and the
    p-value 1. All None when either group is empty."""
    if n == 0 or control_n == 0:
        return Comparison(
            difference=None, relative_difference=None, ci_low=None, ci_high=None, z=None,
            p_value=None, significant=None,
        )  # fmt: skip
    from scipy import special

    p1, p0 = successes / n, control_successes / control_n
    difference = p1 - p0
    unpooled = math.sqrt(p1 * (1 - p1) / n + p0 * (1 - p0) / control_n)
    margin = float(special.ndtri(1 - alpha / 2)) * unpooled  # scipy.stats.norm.ppf
    pooled_rate = (successes + control_successes) / (n + control_n)
    pooled = math.sqrt(pooled_rate * (1 - pooled_rate) * (1 / n + 1 / control_n))
    z = difference / pooled if pooled > 0 else 0.0
    p_value = float(2 * special.ndtr(-abs(z)))  # scipy.stats.norm.sf
    return Comparison(
        difference=difference,
        relative_difference=difference / p0 if p0 > 0 else None,
        ci_low=difference - margin,
        ci_high=difference + margin,
        z=z,
        p_value=p_value,
        significant=p_value < alpha,
    )


def sample_ratio_mismatch(
    group_users: list[int], *, alpha: float = SRM_ALPHA
) -> SampleRatio | None:
    """Chi-square goodness of fit of the group sizes against an equal split: ``chi_square``,
    ``p_value`` and ``mismatch`` (p < alpha, 0.001 by default). None for fewer than two
    groups or no users."""
    if len(group_users) < 2 or sum(group_users) == 0:
        return None
    import numpy as np
    from scipy import special

    # scipy.stats.chisquare, computed as it computes it, without importing scipy.stats (1 s).
    observed = np.asarray(group_users, dtype=np.float64)
    expected = observed.mean()
    statistic = ((observed - expected) ** 2 / expected).sum()
    p_value = special.chdtrc(len(group_users) - 1, statistic)
    return SampleRatio(
        chi_square=float(statistic), p_value=float(p_value), mismatch=bool(p_value < alpha)
    )
