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

from helpers.events import build_report
from helpers.outputs import write_outputs
from helpers.params import ReportParams
from helpers.report import Report

#: The repository: a relative ``out_dir`` is resolved against it, not the shell's directory.
ROOT = Path(__file__).resolve().parent.parent
# What papermill can inject: YAML values. Modules, functions and IPython's own names are not.
_VALUE_TYPES = (str, int, float, bool, list, dict, type(None))
_KERNEL_NAMES = frozenset({"In", "Out", "exit", "quit"})


def report_from(namespace: Mapping[str, Any]) -> Report:
    """The report for the notebook's parameters (its ``globals()``), its report.json and
    rejected rows written to ``out_dir``. A misspelt or unknown name and a bad value stop
    the notebook here, with the CLI's one-paragraph message."""
    params, out_dir = parameters(namespace)
    report = build_report(params)
    write_outputs(report, out_dir)
    return report


def parameters(namespace: Mapping[str, Any]) -> tuple[ReportParams, Path]:
    """The report parameters among ``namespace``'s names, checked (every other value-like
    name is an unknown parameter), and the output directory."""
    values = {
        name: value
        for name, value in namespace.items()
        if not name.startswith("_") and name not in _KERNEL_NAMES
        and isinstance(value, _VALUE_TYPES)
    }  # fmt: skip
    out_dir = values.pop("out_dir", "outputs/notebook")
    return ReportParams.build(values, origin="notebook parameters"), output_directory(out_dir)


def output_directory(out_dir: str | Path) -> Path:
    """``out_dir`` as an absolute path: relative ones are relative to the repository root."""
    path = Path(out_dir).expanduser()
    return path if path.is_absolute() else ROOT / path
