"""HTML: the one Jinja environment every view renders through.

Templates live beside what they show (``helpers/templates/`` for the report's own parts,
``helpers/analyses/<analysis>.html.j2`` for each analysis) and are autoescaped: a string from
the data can never become markup. Numbers are formatted by :mod:`helpers.fmt` (as filters of
the same names), figures carry their JSON Pointer (``data-key``) so tests can check that the
page shows report.json's numbers, and charts are inline PNGs (:mod:`helpers.charts`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from helpers import charts, fmt, glossary

_ROOT = Path(__file__).resolve().parent


def render(template: str, **context: Any) -> str:
    """Render ``template`` (a path below ``helpers/``) with ``context``."""
    return _environment().get_template(template).render(**context)


def pointer(path: tuple[Any, ...] | list[Any]) -> str:
    """The JSON Pointer (RFC 6901) of a value in report.json: ``("objectives", "users_total")``
    -> ``/objectives/users_total``."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def definition(text: str) -> Markup:
    """A docstring (Markdown: paragraphs, ``- `` lists, ````code````) as HTML; raw HTML in it
    is shown as text, never run."""
    return Markup(_markdown().render(text))


@cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False})


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_ROOT),
        autoescape=True,
        extensions=["jinja2.ext.do"],
        undefined=jinja2.StrictUndefined,  # a misspelt field fails the render, never blanks it
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        count=fmt.count, number=fmt.number, percent=fmt.percent, points=fmt.points,
        p_value=fmt.p_value, seconds=fmt.seconds, definition=definition, moment=fmt.moment,
        period=fmt.period, change=fmt.change, relative=fmt.relative, words=glossary.words,
    )  # fmt: skip
    env.globals.update(
        pointer=pointer, bar_chart=charts.bar_chart, heatmap=charts.heatmap,
        line_chart=charts.line_chart, stacked_bars=charts.stacked_bars,
    )
    return env
