"""A/B tests: does each test group convert better or worse than its control?"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Rate, Result
from helpers.analyses._execute import integer, rate, rows
from helpers.analyses._stats import (
    Comparison,
    SampleRatio,
    compare_proportions,
    sample_ratio_mismatch,
)
from helpers.backend import object_entries, strip
from helpers.grains import Grains

NO_TEST_GROUPS_NOTE = "no test_groups in the data: there is no A/B test to analyse"


class VersusControl(Model):
    """A group's conversions against the control group's."""

    book_now: Comparison
    request_draft: Comparison


class AbGroup(Model):
    """One group of a test: its users (seen in that group only) and their conversions."""

    group: str
    users: Count
    clicked_book_now: Count
    book_now_rate: Rate
    created_request_draft: Count
    request_draft_rate: Rate
    vs_control: VersusControl | None  # null for the control group


class AbTest(Model):
    """One A/B test and its groups."""

    test: str
    control_group: str | None
    users: Count
    users_in_several_groups: Count
    sample_ratio: SampleRatio | None
    groups: list[AbGroup]
    notes: list[str]

    @property
    def control_rate(self) -> float | None:
        """The control group's book-now rate."""
        return next((g.book_now_rate for g in self.groups if g.group == self.control_group), None)


class AbTests(Result):
    """Per A/B test in test_groups and per group: users, conversions, and the difference to
    the control group with its confidence interval and p-value."""

    users_with_assignment: Count
    note: str | None
    tests: list[AbTest]

    def describe(self) -> str:
        if not self.tests:
            return "The data has no A/B test assignments (test_groups), so no test is analysed."
        return " ".join(_describe_test(test) for test in self.tests)


def ab_tests(grains: Grains) -> AbTests:
    """Per A/B test in ``test_groups`` and per group: users, conversion to book-now and to a
    request draft, and each group's difference to the control group.

    - Control group: the one named in the ``control_groups`` parameter, else the test's first
      group alphabetically (also when the named group is not in the data; a note says so).
    - A user seen in two or more groups of a test is left out of that test and counted in
      ``users_in_several_groups``.
    - Difference = group rate - control rate; its 95% confidence interval uses the unpooled
      standard error sqrt(p1(1-p1)/n1 + p0(1-p0)/n0); the p-value is the two-sided
      two-proportion z-test with the pooled standard error sqrt(p(1-p)(1/n1 + 1/n0)), p the
      pooled rate. When the pooled standard error is 0 (both rates 0 or both 1) z is 0 and the
      p-value 1.
    - Sample-ratio mismatch: chi-square goodness of fit of the group sizes against an equal
      split; ``mismatch`` when p < 0.001 (only for tests with two or more groups).

    Without any test assignment, ``tests`` is empty and ``note`` says why.
    """
    control_groups = grains.params.control_groups
    # Read twice, and reading the JSON is the costly part: do it once.
    m = membership(grains.events).cache()
    # One query: each group's users and conversions, and each test's users seen in several
    # groups (its row without a group).
    outcomes = rows(_group_outcomes(m, grains.users))
    # Without any assignment there is nothing else to count.
    assigned_users = integer(m.user_id.nunique()) if outcomes else 0
    tests = []
    for test in sorted({r["test"] for r in outcomes}):
        of_test = [r for r in outcomes if r["test"] == test]
        groups = sorted((r for r in of_test if r["group"] is not None), key=lambda r: r["group"])
        in_several = sum(int(r["users"]) for r in of_test if r["group"] is None)
        tests.append(_test(test, groups, in_several, control_groups))
    return AbTests(
        users_with_assignment=assigned_users,
        note=None if tests else NO_TEST_GROUPS_NOTE,
        tests=tests,
    )


def assignments(events: ir.Table) -> ir.Table:
    """Distinct (user_id, test, group) rows from the ``test_groups`` JSON text.

    A ``test_groups`` cell that is not a JSON object is ignored; a string group is taken as
    written (trimmed), any other JSON value as its JSON text. Reading the JSON is the
    backend's business (``helpers.backend.object_entries``).
    """
    # A user's events nearly all carry the same cell, and users share a few cells (one per
    # combination of groups): each distinct cell's JSON is read once, and its (test, group)
    # pairs joined to the users who have it (1M events: 3 cells read, not 192,076).
    cells = events.filter(events.test_groups.notnull()).select("user_id", "test_groups")
    cells = cells.distinct()
    texts = cells.select("test_groups").distinct()
    entries = object_entries(texts, "test_groups", keep=["test_groups"])
    engine = events.get_backend().name
    pairs = entries.select(
        "test_groups",
        test=strip(engine, entries.key).nullif(""),
        group=strip(engine, entries.value).nullif(""),
    )
    pairs = pairs.filter(pairs.test.notnull() & pairs.group.notnull())
    return cells.join(pairs, "test_groups").select("user_id", "test", "group").distinct()


def membership(events: ir.Table) -> ir.Table:
    """One row per (user, test) the user was assigned in: ``group`` (the user's group when they
    have one) and ``groups`` (how many distinct groups of that test the user was seen in; more
    than one means the user is excluded from that test)."""
    a = assignments(events)
    return a.group_by("user_id", "test").aggregate(group=a.group.min(), groups=a.group.nunique())


def group_outcomes(events: ir.Table, users: ir.Table) -> ir.Table:
    """Per (test, group): users (seen in that group only), and how many clicked book-now /
    created a request draft (anywhere in their journey); per test, a row whose group is null:
    the users seen in several of its groups."""
    return _group_outcomes(membership(events), users)


def _group_outcomes(m: ir.Table, users: ir.Table) -> ir.Table:
    members = m.join(
        users.select("user_id", "clicked_book_now", "created_request_draft"), "user_id"
    )
    group = ibis.ifelse(members.groups == 1, members.group, ibis.null("string"))
    return members.group_by("test", group=group).aggregate(
        users=members.count(),
        clicked_book_now=members.count(where=members.clicked_book_now),
        created_request_draft=members.count(where=members.created_request_draft),
    )


def _test(
    test: str, groups: list[dict[str, Any]], in_several: int, control_groups: dict[str, str]
) -> AbTest:
    notes = []
    names = [g["group"] for g in groups]
    control = control_groups.get(test)
    if control is not None and control not in names:
        notes.append(f"control group {control!r} is not in the data; using the first group")
        control = None
    if control is None and names:
        control = names[0]
    base = next((g for g in groups if g["group"] == control), None)
    result_groups = []
    for g in groups:
        versus = None
        if base is not None and g["group"] != control:
            versus = VersusControl(
                book_now=compare_proportions(
                    int(g["clicked_book_now"]), int(g["users"]),
                    int(base["clicked_book_now"]), int(base["users"]),
                ),
                request_draft=compare_proportions(
                    int(g["created_request_draft"]), int(g["users"]),
                    int(base["created_request_draft"]), int(base["users"]),
                ),
            )  # fmt: skip
        result_groups.append(
            AbGroup(
                group=g["group"],
                users=int(g["users"]),
                clicked_book_now=int(g["clicked_book_now"]),
                book_now_rate=rate(g["clicked_book_now"], g["users"]),
                created_request_draft=int(g["created_request_draft"]),
                request_draft_rate=rate(g["created_request_draft"], g["users"]),
                vs_control=versus,
            )
        )
    if len(groups) < 2:
        notes.append("only one group: nothing to compare")
    return AbTest(
        test=test,
        control_group=control,
        users=sum(int(g["users"]) for g in groups),
        users_in_several_groups=in_several,
        sample_ratio=sample_ratio_mismatch([int(g["users"]) for g in groups]),
        groups=result_groups,
        notes=notes,
    )


def _describe_test(test: AbTest) -> str:
    sizes = ", ".join(f"{g.group}: {fmt.count(g.users)}" for g in test.groups)
    text = f"Test {test.test} has {fmt.count(test.users)} users ({sizes})"
    if test.users_in_several_groups:
        text += f"; {fmt.count(test.users_in_several_groups)} seen in several groups are excluded"
    text += "."
    for g in test.groups:
        if g.vs_control is None or g.vs_control.book_now.difference is None:
            continue
        b = g.vs_control.book_now
        verdict = "significant" if b.significant else "not significant"
        text += (
            f" Group {g.group} clicks book-now {fmt.percent(g.book_now_rate)} of the time vs "
            f"{fmt.percent(test.control_rate)} in control {test.control_group} "
            f"(difference {fmt.points(b.difference)}, 95% CI {fmt.points(b.ci_low)} to "
            f"{fmt.points(b.ci_high)}, {fmt.p_value(b.p_value)}, {verdict})."
        )
    srm = test.sample_ratio
    if srm is not None and srm.mismatch:
        text += (
            f" Warning: the group sizes depart from an equal split (sample-ratio mismatch, "
            f"{fmt.p_value(srm.p_value)}); treat the comparison with caution."
        )
    return text


ANALYSIS = Analysis(
    key="ab_tests",
    title="Do the A/B tests change behaviour?",
    compute=ab_tests,
    result=AbTests,
    order=60,
    parameters=("control_groups",),
    needs=("event_type",),
)
