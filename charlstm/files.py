"""Crash-safe file writes: one temp-file / fsync / rename dance for every writer.

A reader (or a later run) sees either the old file or the complete new one, never a
half-written one: the data goes to a hidden temporary name in the same directory
(same filesystem, so the rename is atomic), is fsynced, renamed over the target, and
the directory is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

TEMP_MARK = ".tmp-"  # temporaries are named `.{stem}.tmp-{pid}{suffix}`


def temp_path(path: Path) -> Path:
    """The hidden temporary name `atomic_write` uses for `path` (same folder, same suffix)."""
    return path.with_name(f".{path.stem}{TEMP_MARK}{os.getpid()}{path.suffix}")


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable; a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, data: bytes | Callable[[Path], None]) -> Path:
    """Replace `path` with `data` (bytes, or a function that writes a file at the path it is given).

    Raises the writer's or the filesystem's OSError unchanged (callers word it); the
    temporary file is removed on any error and `path` is left as it was.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        if callable(data):
            data(tmp)
        else:
            tmp.write_bytes(data)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def remove_stale_temps(directory: Path, pattern: str = f".*{TEMP_MARK}*") -> list[Path]:
    """Delete temporaries a killed writer left in `directory`; returns what was removed."""
    removed = []
    for stale in directory.glob(pattern):
        stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed
