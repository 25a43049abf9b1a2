"""Leftovers of dead runs: temporary directories named after the process that made them
(``<prefix><pid>-<random>``), removed by a later run once that process is gone.

A run cleans up after itself on exit, Ctrl-C and SIGTERM; SIGKILL, a power cut or a kernel
killed by its manager leave its directories behind. A live run's are never touched: its
process still exists (another user's process counts as alive).
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path

#: A directory of the prefix without a process id (made by a version before ids were in the
#: names) is removed when it is older than this: no run lasts a week.
_UNOWNED_AGE_SECONDS = 7 * 24 * 3600


def fresh_directory(prefix: str) -> Path:
    """A new directory ``<prefix><pid>-<random>`` under the system's temporary directory
    (``TMPDIR`` chooses the disk), removed when this process ends; those of dead runs with
    the prefix are removed first."""
    remove_dead(Path(tempfile.gettempdir()), prefix)
    path = Path(tempfile.mkdtemp(prefix=owned_prefix(prefix)))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def owned_prefix(prefix: str) -> str:
    """``prefix`` followed by this process's id: what :func:`remove_dead` recognises."""
    return f"{prefix}{os.getpid()}-"


def remove_dead(directory: Path, prefix: str) -> None:
    """Remove the directories ``<prefix><pid>-*`` in ``directory`` whose process is gone, and
    those of the prefix without an id that are older than a week."""
    for path in directory.glob(f"{prefix}*"):
        pid = path.name[len(prefix):].split("-", 1)[0]
        try:
            if pid.isdigit():
                dead = not alive(int(pid))
            else:
                dead = time.time() - path.stat().st_mtime > _UNOWNED_AGE_SECONDS
        except OSError:  # removed meanwhile by another run
            continue
        if dead and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def alive(pid: int) -> bool:
    """Whether the process ``pid`` exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True
