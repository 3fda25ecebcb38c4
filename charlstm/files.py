"""Crash-safe file writes: one temp-file / fsync / rename dance for every writer.

A reader (or a later run) sees either the old file or the complete new one, never a
half-written one: the data goes to a hidden temporary name in the same directory
(same filesystem, so the rename is atomic), is fsynced, renamed over the target, and
the directory is fsynced so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import shutil
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


def atomic_write(path: str | os.PathLike, data: bytes | Callable[[Path], None], temp: Path | None = None) -> Path:
    """Replace `path` with `data` (bytes, or a function that writes a file at the path it is given).

    Raises the writer's or the filesystem's OSError unchanged (callers word it); the
    temporary file is removed on any error and `path` is left as it was. `temp`: the temporary's
    name when the pid-named default is not unique enough (workers on several hosts sharing a folder).
    """
    path = Path(path)
    tmp = temp or temp_path(path)
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


def atomic_folder(out: Path, build: Callable[[Path], None]) -> None:
    """Replace the folder (or file) `out` with one `build` fills: built under a hidden temporary name
    beside it, every file fsynced, then renamed into place; on any error `out` is left as it was."""
    tmp = out.with_name(f".{out.name}{TEMP_MARK}{os.getpid()}")
    old = out.with_name(f".{out.name}.old-{os.getpid()}")  # a replaced output, until the new one is in
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        build(tmp)
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb") as fh:
                    os.fsync(fh.fileno())
        replacing = out.exists() or out.is_symlink()
        if replacing:
            os.replace(out, old)  # a folder cannot be renamed over a non-empty one: set the old one aside
        try:
            os.replace(tmp, out)
        except OSError:
            if replacing:
                os.replace(old, out)  # put the old output back
            raise
        fsync_dir(out.parent)
        _remove(old)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def remove_stale_temps(directory: Path, pattern: str = f".*{TEMP_MARK}*") -> list[Path]:
    """Delete temporaries a killed writer left in `directory`; returns what was removed."""
    removed = []
    for stale in directory.glob(pattern):
        stale.unlink(missing_ok=True)
        removed.append(stale)
    return removed


class DirectoryLock:
    """An exclusive advisory lock on a directory, held until `release()` or the process ends.

    `flock` on the directory's own descriptor: no lock file is written, and the kernel drops
    the lock when its holder exits, however it exits, so a killed run never leaves one
    behind. Two charlstm processes training into one run directory would each rewrite
    `last.keras`, and the second would read it while the first still writes (a resume
    started before a stopped run's final checkpoint: it happened during issue 29's base run).
    Advisory: only charlstm's own writers take it. Where `fcntl` is missing (Windows), or the
    filesystem refuses `flock`, nothing is locked.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock; False if another process holds it. True also where nothing can be locked."""
        try:
            import fcntl
        except ImportError:
            return True
        try:
            fd = os.open(self.directory, os.O_RDONLY)
        except OSError:  # an unreadable directory: unlocked; check_writable words what is wrong
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except OSError:  # a filesystem without flock: run unlocked, as before
            os.close(fd)
            return True
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor drops the lock
            self._fd = None

    def __del__(self):
        self.release()
