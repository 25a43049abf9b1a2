"""What every analysis is made of: a typed result, a compute function, and a registry entry.

An analysis module defines

- its result, a :class:`Result` model: the numbers it reports, typed (report.json's schema is
  generated from these models), and :meth:`Result.describe`, the narrative written from them;
- one function named after the analysis that computes that result from the
  :class:`~helpers.grains.Grains`; its docstring is the analysis's definition, shown to readers;
- ``ANALYSIS``, its :class:`Analysis` entry: key, title, place in the report;
- beside the module, ``<module>.html.j2``: how the result is shown.

The package finds every such module by itself (see ``helpers/analyses/__init__.py``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from helpers.grains import Grains

#: A number of users, sessions or events.
Count = Annotated[int, Field(ge=0)]
#: A fraction between 0 and 1, rounded to 6 decimals; null when its denominator is 0.
Rate = Annotated[float | None, Field(ge=0, le=1)]
#: A duration in seconds; null when there is nothing to measure.
Seconds = Annotated[float | None, Field(ge=0)]


def _added_keys_are_optional(schema: dict[str, Any]) -> None:
    # A key added in a minor version (marked ``since``) is not required of a report written
    # before it: a 1.0 report stays valid under every 1.x schema.
    properties = schema.get("properties", {})
    added = {name for name, spec in properties.items() if "since" in spec}
    if added:
        schema["required"] = [name for name in schema.get("required", []) if name not in added]


def since(version: str, **field: Any) -> Any:
    """A field added to report.json in minor ``version`` (not required of older reports)."""
    return Field(**field, json_schema_extra={"since": version})


class Model(BaseModel):
    """A part of report.json: exactly these keys, in this order, never changed once made."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, json_schema_extra=_added_keys_are_optional
    )


class Shown:
    """A result that shows itself in a notebook as the report shows it."""

    def _repr_html_(self) -> str:
        # Lazy: the registry imports every analysis module, each of which imports this one.
        from helpers.analyses import analysis_of

        return analysis_of(self).html(self)


class Result(Shown, Model):
    """An analysis result: its numbers, and a narrative written from them."""

    @computed_field(json_schema_extra={"minLength": 1})  # type: ignore[prop-decorator]
    @property
    def narrative(self) -> str:
        """Two or three sentences written from the numbers above."""
        return self.describe()

    def describe(self) -> str:
        """The narrative: what the numbers say, in plain words."""
        raise NotImplementedError


@dataclass(frozen=True)
class Analysis:
    """One analysis in the report, registered once: everything else reads this entry."""

    key: str  # its key under report.json's "insights"
    title: str  # the question it answers: the heading of its section
    compute: Callable[[Grains], Any]  # returns ``result``; docstring = the definition
    result: type[BaseModel]
    order: int  # its place in the report, smallest first
    parameters: tuple[str, ...] = ()  # the report parameters it reads (besides the grains')
    since: str | None = None  # the schema version that added it, if later than its section
    section: str = "insights"  # the block of report.json it is written in
    spec: str | None = None  # the report parameter holding its definition, if it has one
    needs: tuple[str, ...] = ()  # optional columns it reads: without one, it is null

    def missing(self, grains: Grains) -> list[str]:
        """The columns it needs that the events do not have."""
        return [c for c in self.needs if c in grains.absent]

    @property
    def definition(self) -> str:
        """The analysis's definition: its compute function's docstring."""
        return inspect.cleandoc(self.compute.__doc__ or "")

    @property
    def template(self) -> str:
        """Its template, beside its module: ``analyses/<module>.html.j2``."""
        return f"analyses/{self.compute.__module__.rsplit('.', 1)[-1]}.html.j2"

    def html(self, result: Any, **context: Any) -> str:
        """The result as HTML: narrative, definition and the analysis's own tables and charts."""
        from helpers import html  # the analyses compute without the HTML stack

        return html.render(
            self.template, analysis=self, result=result, at=(self.section, self.key), **context
        )
