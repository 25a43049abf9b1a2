"""Files: which files a source names, of what kind, and what identifies them.

A source is a file, a directory (every data file under it, recursively), a glob, or a list
of those. The files are read as one data set in order: the list's entries in the order
given, each entry's files in name order. Every file of a data set must have the same kind
(CSV, JSON Lines, Parquet or an Excel workbook, told by the suffix); a directory skips files
of other suffixes and hidden ones (``.crc``, ``_SUCCESS``), a glob or a list does not.
A file that exists is read as that file even if its name holds glob characters
(``events[1].csv``). Symlinks are followed, and each real file is read once: a directory's
symlinked folder is read, a link back up the tree (``sub/up -> ..``) adds nothing.
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from helpers.errors import SourceError

#: File kinds by suffix (compared lower-cased).
SUFFIXES = {
    "csv": (".csv", ".csv.gz", ".tsv"),
    "jsonl": (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz"),
    "parquet": (".parquet", ".pq"),
    "xlsx": (".xlsx",),
}
_NAMES = {"csv": "CSV", "jsonl": "JSON Lines", "parquet": "Parquet", "xlsx": "Excel"}


@dataclass(frozen=True)
class DataSet:
    """The files of a source, in reading order, and how report.json names them."""

    files: tuple[Path, ...]
    kind: str
    name: str  # the file's name, or "<source> (N files)"

    @property
    def labels(self) -> tuple[str, ...] | None:
        """Each file as rejected_rows.csv names it (see :func:`labels`); None for one file."""
        return labels([str(f) for f in self.files]) if len(self.files) > 1 else None


def file_kind(path: Path | str) -> str:
    """``csv``, ``jsonl``, ``parquet`` or ``xlsx``, by the file's suffix (a path or a URI);
    refuses any other."""
    name = str(path).lower()
    for kind, suffixes in SUFFIXES.items():
        if name.endswith(suffixes):
            return kind
    known = "; ".join(f"{_NAMES[k]} ({', '.join(s)})" for k, s in SUFFIXES.items())
    raise SourceError(f"Cannot tell what kind of file {path} is. Use one of: {known}.")


def find(source: str | Sequence[str]) -> DataSet:
    """The data set ``source`` names; a clear error when it names no file, or files of
    different kinds, or one file twice."""
    entries = [source] if isinstance(source, str) else list(source)
    if not entries:
        raise SourceError("source is an empty list: name at least one events file.")
    files: list[Path] = []
    for entry in entries:
        files.extend(_files_of(entry))
    seen: set[Path] = set()
    for file in files:
        if file.resolve() in seen:
            raise SourceError(
                f"{file} is named twice by the source: its events would be read twice. "
                f"Name each file once."
            )
        seen.add(file.resolve())
    kinds = {file_kind(f) for f in files}
    if len(kinds) > 1:
        shown = ", ".join(sorted(_NAMES[k] for k in kinds))
        raise SourceError(
            f"the source mixes kinds of files ({shown}): the files of one data set must all "
            f"be CSV, all JSON Lines, all Parquet or all Excel. Read one kind at a time."
        )
    name = files[0].name if len(files) == 1 else f"{', '.join(entries)} ({len(files)} files)"
    return DataSet(tuple(files), kinds.pop(), name)


def _files_of(entry: str) -> list[Path]:
    path = Path(entry).expanduser()
    if path.is_dir():
        files = _directory_files(path)
        if not files:
            raise SourceError(
                f"the directory {entry} holds no events files. Put .csv, .jsonl, .parquet or "
                f".xlsx files in it (hidden files and other suffixes are skipped), or name a "
                f"file or a glob such as 'events/2021-01-*.jsonl'."
            )
        return files
    # A file that exists is that file, even when its name holds glob characters
    # (events[1].csv): a glob is only a glob when no file has its very name.
    if glob.has_magic(entry) and not path.is_file():
        files = sorted(Path(p) for p in glob.glob(os.path.expanduser(entry), recursive=True))
        files = _once_each([f for f in files if f.is_file()])
        if not files:
            raise SourceError(
                f"the glob {entry!r} matches no file. Check the directory and the pattern "
                f"(quote it in the shell, so that the report expands it, not the shell)."
            )
        for file in files:
            file_kind(file)
        return files
    file_kind(path)
    if not path.exists():
        raise SourceError(f"The events file {path} does not exist. Check the --source path.")
    return [path]


def _directory_files(root: Path) -> list[Path]:
    """The data files under ``root``, in name order, following symlinked folders (an archive
    linked in as ``day2 -> ../archive/day2``) but each real folder and file once: a link back
    up the tree (``sub/up -> ..``) is not a way to read the same events again."""
    found: list[Path] = []
    seen_dirs: set[str] = set()
    for folder, dirs, names in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen_dirs:
            dirs[:] = []  # a loop, or a folder reached twice: its files are read already
            continue
        seen_dirs.add(real)
        found.extend(
            Path(folder) / n for n in names
            if not n.startswith((".", "_")) and _known(Path(n)) and (Path(folder) / n).is_file()
        )
    return _once_each(sorted(found))


def _once_each(files: list[Path]) -> list[Path]:
    """``files`` without the later paths to a file already listed (a symlink, or a glob's
    ``**`` walking a link): each file's events are read once, under its first name."""
    seen: set[str] = set()
    kept = []
    for file in files:
        real = os.path.realpath(file)
        if real not in seen:
            seen.add(real)
            kept.append(file)
    return kept


def _known(path: Path) -> bool:
    return any(path.name.lower().endswith(s) for suffixes in SUFFIXES.values() for s in suffixes)


def labels(paths: list[str]) -> list[str]:
    """Each path relative to the deepest directory they share (``2021-01-23/part-0.jsonl``):
    the same for a local path and its ``file:`` URI, so every engine names a file alike."""
    parts = [p.split("/") for p in paths]
    shared = 0
    while all(len(p) > shared + 1 for p in parts) and len({p[shared] for p in parts}) == 1:
        shared += 1
    return ["/".join(p[shared:]) for p in parts]


def sha256(files: Sequence[Path]) -> str:
    """One file: the SHA-256 of its bytes. Several: the SHA-256 of their SHA-256s (64 lower-case
    hex digits each, concatenated without separators) in reading order."""
    if len(files) == 1:
        return file_sha256(files[0])
    digest = hashlib.sha256()
    for file in files:
        digest.update(file_sha256(file).encode())
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
