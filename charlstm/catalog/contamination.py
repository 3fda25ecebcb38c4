"""Does a corpus contain any 200-character stretch of a reference text?

The pretraining corpus must hold neither Macbeth nor any play tinyshakespeare draws
from, so that every figure measured on them after fine-tuning stays honest. The test is
literal: after normalising both texts the same way (`normalise`: lower case, every run
of whitespace, line endings included, becomes one space), no `WINDOW`-character
substring of the reference may occur in the corpus.

Method (exact, not probabilistic). A match is a stretch of >= WINDOW equal characters.
The corpus is sampled at every STRIDE-th position, taking the K characters there
(K + STRIDE - 1 <= WINDOW). Any WINDOW-long stretch of the corpus starts at most
STRIDE - 1 characters before a sampled position whose K-gram lies wholly inside the
stretch, so every match has a sampled K-gram in common with the reference. We index
the sampled K-grams of the corpus (13 MB / 137 = ~95K of them), slide over every
position of the reference (~1.2M) looking each K-gram up, and extend each hit to the
left and right by direct comparison; a hit extending to >= WINDOW characters is a
match. Candidates that extend less are common phrases, not copies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

WINDOW = 200  # characters that must not be shared (after normalisation)
K = 64  # sampled k-gram length: long enough that chance hits are rare, short enough for a small stride
STRIDE = WINDOW - K + 1  # 137: the largest stride that still sees every WINDOW-long match

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Lower case, every whitespace run (spaces, tabs, CR, LF) as one space, ends stripped."""
    return _SPACE.sub(" ", text).strip().lower()


@dataclass(frozen=True)
class Match:
    """One shared stretch, in normalised coordinates."""

    reference: str  # name of the reference text
    corpus_pos: int  # start in normalise(corpus)
    reference_pos: int  # start in normalise(reference)
    length: int  # characters shared (>= WINDOW)
    excerpt: str  # its first 80 characters

    def describe(self) -> str:
        return (
            f"{self.length} characters of {self.reference} (at {self.reference_pos}) occur in the corpus "
            f"at {self.corpus_pos} (normalised): {self.excerpt!r}"
        )


def _common_suffix(a: str, i: int, b: str, j: int) -> int:
    """Length of the common stretch ending just before a[i] and b[j] (256-char blocks, then chars)."""
    n, step = 0, 256
    while n + step <= min(i, j) and a[i - n - step : i - n] == b[j - n - step : j - n]:
        n += step
    while n < min(i, j) and a[i - n - 1] == b[j - n - 1]:
        n += 1
    return n


def _common_prefix(a: str, i: int, b: str, j: int) -> int:
    """Length of the common stretch starting at a[i] and b[j] (256-char blocks, then chars)."""
    n, step, most = 0, 256, min(len(a) - i, len(b) - j)
    while n + step <= most and a[i + n : i + n + step] == b[j + n : j + n + step]:
        n += step
    while n < most and a[i + n] == b[j + n]:
        n += 1
    return n


def _index(text: str) -> dict[str, list[int]]:
    index: dict[str, list[int]] = {}
    for pos in range(0, len(text) - K + 1, STRIDE):
        index.setdefault(text[pos : pos + K], []).append(pos)
    return index


def _matches(corpus: str, index: dict[str, list[int]], name: str, ref: str) -> list[Match]:
    found: list[Match] = []
    covered = -1  # reference positions before this are inside a match already reported
    for r in range(len(ref) - K + 1):
        hits = index.get(ref[r : r + K])
        if not hits or r < covered:
            continue
        for c in hits:
            left = _common_suffix(corpus, c, ref, r)
            length = left + _common_prefix(corpus, c, ref, r)
            if length >= WINDOW:
                start = r - left
                found.append(Match(name, c - left, start, length, ref[start : start + 80]))
                covered = start + length
                break
    return found


def find_matches(corpus: str, references: Mapping[str, str]) -> list[Match]:
    """Every stretch of >= WINDOW characters that a reference shares with the corpus (normalised)."""
    text = normalise(corpus)
    index = _index(text)
    out: list[Match] = []
    for name, ref in references.items():
        out.extend(_matches(text, index, name, normalise(ref)))
    return out
