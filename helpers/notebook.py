"""The notebook's side of a run: its parameters checked as the CLI checks them, and its
outputs written where the CLI's rules put them, whoever runs it (the CLI, papermill, JupyterLab).

>>> from pathlib import Path
>>> output_directory("outputs/notebook") == ROOT / "outputs" / "notebook"
True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers.comparison import attach, load_previous, precedes
from helpers.events import build_report
from helpers.outputs import write_outputs
from helpers.params import ReportParams
from helpers.report import Report

#: The repository: a relative ``out_dir`` is resolved against it, not the shell's directory.
ROOT = Path(__file__).resolve().parent.parent
# What papermill can inject: YAML values. Modules, functions and IPython's own names are not.
_VALUE_TYPES = (str, int, float, bool, list, dict, type(None))
_KERNEL_NAMES = frozenset({"In", "Out", "exit", "quit"})
#: The notebook's parameters that say where a run goes and what it is compared with, not what
#: it computes: beside the report parameters in the parameters cell.
RUN_PARAMETERS = {"out_dir": "outputs/notebook", "compare_to": None, "compare_when_earlier": False}


def report_from(namespace: Mapping[str, Any]) -> Report:
    """The report for the notebook's parameters (its ``globals()``), its report.json and
    rejected rows written to ``out_dir``. A misspelt or unknown name and a bad value stop
    the notebook here, with the CLI's one-paragraph message."""
    params, run = parameters(namespace)
    return write_report(params, **run)


def write_report(
    params: ReportParams,
    out_dir: str | Path,
    compare_to: str | None = None,
    compare_when_earlier: bool = False,
) -> Report:
    """The report for ``params``, compared with the report.json ``compare_to`` when given
    (with ``compare_when_earlier``, only when that one covers an earlier period), its
    report.json and rejected rows written to ``out_dir``."""
    previous = None
    if compare_to:  # checked before the events are read: a wrong file fails fast
        # A batch's previous run may count other users: then it is simply not compared.
        users = None if compare_when_earlier else params.user_column
        previous = load_previous(compare_to, user_column=users)
    report = build_report(params)
    if previous is not None and (not compare_when_earlier or precedes(previous, report.data)):
        report = attach(report, previous, compare_to)
    write_outputs(report, output_directory(out_dir))
    return report


def parameters(namespace: Mapping[str, Any]) -> tuple[ReportParams, dict[str, Any]]:
    """The report parameters among ``namespace``'s names, checked (every other value-like
    name is an unknown parameter), and the run's own (:data:`RUN_PARAMETERS`)."""
    values = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and name not in _KERNEL_NAMES
        and isinstance(value, _VALUE_TYPES)
    }  # fmt: skip
    run = {name: values.pop(name, default) for name, default in RUN_PARAMETERS.items()}
    return ReportParams.build(values, origin="notebook parameters"), run


def output_directory(out_dir: str | Path) -> Path:
    """``out_dir`` as an absolute path: relative ones are relative to the repository root."""
    path = Path(out_dir).expanduser()
    return path if path.is_absolute() else ROOT / path
