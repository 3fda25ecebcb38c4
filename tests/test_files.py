"""files.atomic_write: all or nothing, no temporaries left behind."""

import os

import pytest

from charlstm import checkpoint as ckpt_io
from charlstm import files
from charlstm.errors import CheckpointError


def test_bytes_and_writer_replace_the_file(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"old")
    files.atomic_write(p, b"new")
    assert p.read_bytes() == b"new"
    files.atomic_write(p, lambda tmp: tmp.write_text("from writer"))
    assert p.read_text() == "from writer"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.txt"]


def test_failing_writer_leaves_old_file_and_no_temporary(tmp_path):
    p = tmp_path / "a.keras"
    p.write_bytes(b"old")

    def half_then_fail(tmp):
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space"):
        files.atomic_write(p, half_then_fail)
    assert p.read_bytes() == b"old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a.keras"]


def test_failing_rename_cleans_up(tmp_path, monkeypatch):
    p = tmp_path / "a.keras"

    def no_rename(a, b):
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(files.os, "replace", no_rename)
    with pytest.raises(OSError):
        files.atomic_write(p, b"x")
    assert list(tmp_path.iterdir()) == []


def test_temp_name_is_hidden_in_the_same_folder_and_matches_the_stale_pattern(tmp_path):
    tmp = files.temp_path(tmp_path / "last.keras")
    assert tmp.parent == tmp_path and tmp.name.startswith(".") and tmp.suffix == ".keras"
    assert tmp.match(ckpt_io.STALE_TEMPS) and str(os.getpid()) in tmp.name


def test_remove_stale_temps_and_check_writable_are_separate(tmp_path):
    stale = tmp_path / ".last.tmp-999.keras"
    stale.write_bytes(b"half")
    keep = tmp_path / "last.keras"
    keep.write_bytes(b"ok")
    ckpt_io.check_writable(tmp_path)
    assert sorted(x.name for x in tmp_path.iterdir()) == [".last.tmp-999.keras", "last.keras"]
    ckpt_io.remove_stale_temps(tmp_path)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["last.keras"]


def test_copy_failure_keeps_destination(tmp_path):
    src, dst = tmp_path / "last.keras", tmp_path / "best.keras"
    dst.write_bytes(b"best")
    with pytest.raises(CheckpointError, match=r"cannot write checkpoint .*best.keras: .*previous checkpoint is intact"):
        ckpt_io.copy(src, dst)  # src missing
    assert dst.read_bytes() == b"best"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["best.keras"]
