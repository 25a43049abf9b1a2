"""docs/definitions.md is generated from the code that computes each number: it must be in step."""

from __future__ import annotations

from helpers import analyses, objectives
from helpers.activity import OBJECTIVE_NEEDS
from helpers.docs import DEFINITIONS, definitions_markdown


def test_the_committed_definitions_are_what_the_code_generates() -> None:
    assert DEFINITIONS.read_text(encoding="utf-8") == definitions_markdown(), (
        "docs/definitions.md is out of date: run python -m helpers docs"
    )


def test_every_objective_and_analysis_and_key_is_in_the_definitions() -> None:
    text = definitions_markdown()
    for key in OBJECTIVE_NEEDS:
        assert f"### `{key}`" in text
        assert getattr(objectives, key).__doc__.split()[0] in text
    for analysis in analyses.ANALYSES:
        assert f"### `{analysis.section}.{analysis.key}`" in text
    pointers = ("/data_quality/objectives_unavailable", "/analyses/retention/cohorts/*/retained",
                "/insights/funnel/steps/*/drop_off", "/source/fingerprint")  # fmt: skip
    for pointer in pointers:
        assert f"| `{pointer}` |" in text, pointer
