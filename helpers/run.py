"""Run: execute the master notebook with papermill and export it to HTML without code cells.

A run writes into a staging directory beside the output directory and moves each file into
place only when every step has succeeded, so a failed run never overwrites the last good
report. ``json_only`` skips the notebook for fast batch use: the numbers come from the same
:func:`helpers.report.build_report` either way.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock

from helpers.comparison import load_previous
from helpers.errors import ReportError
from helpers.leftovers import owned_prefix, remove_dead
from helpers.notebook import write_report
from helpers.outputs import REJECTED_FILE, REPORT_FILE
from helpers.params import ReportParams, is_google_sheet

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "customer_activity.ipynb"
NOTEBOOK_FILE = "report.ipynb"
HTML_FILE = "report.html"
FAILED_NOTEBOOK_FILE = "report.failed.ipynb"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


class NotebookError(Exception):
    """A notebook cell failed; the executed notebook was kept for inspection."""

    def __init__(self, message: str, notebook: Path):
        super().__init__(message)
        self.notebook = notebook


def run_report(
    params: ReportParams,
    out_dir: str | os.PathLike,
    *,
    json_only: bool = False,
    notebook: str | os.PathLike = NOTEBOOK,
    compare_to: str | os.PathLike | None = None,
    compare_when_earlier: bool = False,
) -> dict[str, Path]:
    """Write report.json and rejected_rows.csv (and, unless ``json_only``, the executed
    ``notebook`` and its HTML) into ``out_dir``; return the paths written.

    A run owns the whole output set: files of the set it does not write (the HTML of an
    earlier full run, under ``json_only``) are removed when its own files are moved in.

    With ``compare_to`` (an earlier report.json) the report carries its ``comparison`` block;
    with ``compare_when_earlier`` too only when that report covers an earlier period (a
    batch's previous run), and a wrong file is then no error either."""
    out = Path(out_dir).resolve()
    params = _with_absolute_source(params)
    compared = {
        "compare_to": str(Path(compare_to).expanduser().resolve()) if compare_to else None,
        "compare_when_earlier": compare_when_earlier,
    }
    if compare_to and not compare_when_earlier:
        load_previous(compare_to, user_column=params.user_column)  # refused before any work
    _make_dir(out)
    _remove_dead_stagings(out)
    staging = Path(tempfile.mkdtemp(prefix=owned_prefix(_STAGING), dir=out))
    try:
        if json_only:
            write_report(params, staging, **compared)
        else:
            _execute_notebook(
                Path(notebook).resolve(), params, staging, compared,
                failed_copy=out / FAILED_NOTEBOOK_FILE,
            )
            (staging / HTML_FILE).write_text(html_of(staging / NOTEBOOK_FILE), encoding="utf-8")
        return _publish(staging, out)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES):
            raise ReportError(
                f"the outputs could not be written to {out}: {exc.strerror}. Free some space "
                f"or choose another --out; the last good report there is unchanged."
            ) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_OUTPUT_SET = (
    ("report", REPORT_FILE), ("rejected", REJECTED_FILE),
    ("notebook", NOTEBOOK_FILE), ("html", HTML_FILE),
)  # fmt: skip
_STAGING = ".staging-"


def _publish(staging: Path, out: Path) -> dict[str, Path]:
    """Move a run's files from ``staging`` into ``out`` and remove the rest of the output
    set there, holding ``out``'s lock, so that two runs into one directory never leave a mix
    of their files."""
    written = {}
    with FileLock(_lock_file(out)):
        for name, file in _OUTPUT_SET:
            if (staging / file).exists():
                os.replace(staging / file, out / file)
                written[name] = out / file
            else:
                (out / file).unlink(missing_ok=True)
        (out / FAILED_NOTEBOOK_FILE).unlink(missing_ok=True)
    return written


def _lock_file(out: Path) -> Path:
    """The lock of an output directory, in the system's temporary directory: the output
    directory holds the report's files and nothing else."""
    digest = hashlib.sha256(str(out).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"customer-activity-{digest}.lock"


def _remove_dead_stagings(out: Path) -> None:
    """Remove staging directories left by runs that died (SIGKILL, a power cut); a live
    run's, named after its process id, stays."""
    remove_dead(out, _STAGING)


def notebook_parameters(
    params: ReportParams, out_dir: Path, compared: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What papermill injects: every report parameter, plus where to write and what to
    compare with. Paths only."""
    return {**params.model_dump(mode="json"), "out_dir": str(out_dir), **(compared or {})}


def html_of(notebook: Path) -> str:
    """The executed notebook as one self-contained HTML page, without code cells or prompts."""
    import nbformat  # imported here: --json-only runs never pay for the notebook stack
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        template_file=str(_TEMPLATES / "report.html.j2"),  # extends lab's index.html.j2
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(nbformat.read(notebook, as_version=4))
    return body


def _execute_notebook(
    notebook: Path, params: ReportParams, staging: Path, compared: dict[str, Any], *,
    failed_copy: Path,
) -> None:
    if not notebook.is_file():
        raise ReportError(f"the notebook {notebook} does not exist. Check --notebook.")
    import papermill  # imported here: --json-only runs never pay for the notebook stack
    from papermill.exceptions import PapermillExecutionError

    executed = staging / NOTEBOOK_FILE
    try:
        papermill.execute_notebook(
            str(notebook),
            str(executed),
            parameters=notebook_parameters(params, staging, compared),
            kernel_name="python3",
            cwd=str(notebook.parent),
            progress_bar=False,
            report_mode=False,
            # The kernel shares our stderr, which holds one paragraph: its own log (a warning
            # about TCP at start, a traceback when SIGTERM closes its sockets mid-reply) is
            # not the user's business. A failing cell still reaches us as an execution error.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
        )
    except PapermillExecutionError as exc:
        if exc.ename in _USER_ERRORS:
            # A mistake the user can fix (bad file, missing column): say it plainly.
            raise ReportError(exc.evalue) from None
        shutil.copyfile(executed, failed_copy)
        raise NotebookError(
            f"notebook cell {exc.exec_count} failed with {exc.ename}: {exc.evalue}. "
            f"The executed notebook is at {failed_copy}; the previous report was left as it was.",
            failed_copy,
        ) from None


_USER_ERRORS = {cls.__name__ for cls in (ReportError, *ReportError.__subclasses__())}


def _with_absolute_source(params: ReportParams) -> ReportParams:
    # The notebook runs in notebooks/, so paths relative to the caller must be made absolute.
    update = {}
    if isinstance(params.source, list):
        update["source"] = [_absolute(s) for s in params.source]
    elif params.source is not None and not is_google_sheet(params.source):
        update["source"] = _absolute(params.source)
    if params.credentials is not None:
        update["credentials"] = str(Path(params.credentials).expanduser().resolve())
    if params.forget is not None:  # the path only: papermill never sees the ids
        update["forget"] = _absolute(params.forget)
    return params.model_copy(update=update)


def _absolute(path: str) -> str:
    return str(Path(path).expanduser().resolve())  # a glob too: only its directories resolve


def _make_dir(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise ReportError(
            f"cannot write to the output directory {out}: {exc.strerror}. "
            f"Choose another --out or fix its permissions."
        ) from None
