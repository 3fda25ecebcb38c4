"""A list of items: one line, one thing (names, words, titles), what `--items` trains on.

An item is a non-blank line (blank lines are dropped, duplicates kept: they are the
weights the list gives them). The items are laid out as ids, each after a newline:

    "\\n" item_0 "\\n" item_1 "\\n" ... item_{n-1} "\\n"

so item i's inputs are `ids[starts[i] : starts[i] + lengths[i] + 1]` (its start symbol,
the newline, then its characters) and its targets the same span moved by one (its
characters, then the newline that ends it): makemore's <START> item <END>, with the
newline as both symbols. The record (`ItemRecord`) is what `--novel` checks generated
items against: the training list itself, or 64-bit hashes of it when it is long.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import numpy as np

from charlstm.errors import CorpusError

NEWLINE = "\n"


@dataclass(frozen=True)
class ItemList:
    """Items laid out after newlines (see the module docstring)."""

    ids: np.ndarray  # (sum(lengths + 1) + 1,) newline, item, newline, item, ..., newline
    starts: np.ndarray  # (items,) int64: where each item's leading newline is
    lengths: np.ndarray  # (items,) int64: each item's characters, its newlines not counted

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def targets(self) -> int:
        """Characters scored: every item's characters and its end symbol."""
        return int(self.lengths.sum()) + len(self)

    def subset(self, which: np.ndarray) -> ItemList:
        """These items (indices, in this order), laid out anew."""
        return lay_out(self.ids, self.starts[which] + 1, self.lengths[which], int(self.ids[0]))

    def texts(self, chars: str) -> list[str]:
        """The items as strings (`chars`: the vocabulary, id = index)."""
        table = np.array(list(chars))
        return [
            "".join(table[self.ids[s + 1 : s + 1 + n]]) for s, n in zip(self.starts.tolist(), self.lengths.tolist())
        ]


def lay_out(source: np.ndarray, first: np.ndarray, lengths: np.ndarray, newline: int) -> ItemList:
    """Items `source[first[i] : first[i] + lengths[i]]` laid out after newlines, vectorised."""
    lengths = np.asarray(lengths, np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]]).astype(np.int64)  # each leading newline
    ids = np.full(int(lengths.sum()) + len(lengths) + 1, newline, dtype=source.dtype)
    item_of = np.repeat(np.arange(len(lengths)), lengths)  # (chars,) which item each character is in
    within = np.arange(len(item_of)) - np.repeat(starts - np.arange(len(lengths)), lengths)  # offset in its item
    ids[starts[item_of] + 1 + within] = source[np.asarray(first, np.int64)[item_of] + within]
    return ItemList(ids, starts, lengths)


def line_spans(ids: np.ndarray, newline: int) -> tuple[np.ndarray, np.ndarray]:
    """(first char, length) of every line of `ids`, blank lines included."""
    breaks = np.flatnonzero(ids == newline)
    first = np.concatenate([[0], breaks + 1]).astype(np.int64)
    ends = np.append(breaks, len(ids)).astype(np.int64)
    if len(ids) and ids[-1] == newline:  # a final newline ends the last line; it starts none
        first, ends = first[:-1], ends[:-1]
    return first, ends - first


def items_from_ids(ids: np.ndarray, chars: str) -> ItemList:
    """The non-blank lines of an encoded text (vocabulary `chars`) as items."""
    if NEWLINE not in chars:  # no newline at all: one line, at most one item
        first, lengths = np.zeros(1 if len(ids) else 0, np.int64), np.array([len(ids)] if len(ids) else [], np.int64)
        return lay_out(np.asarray(ids), first, lengths, 0)  # no newline to lay them out with: split_items refuses it
    first, lengths = line_spans(np.asarray(ids), chars.index(NEWLINE))
    keep = lengths > 0
    return lay_out(np.asarray(ids), first[keep], lengths[keep], chars.index(NEWLINE))


def split_items(items: ItemList, val_fraction: float, seed: int) -> tuple[ItemList, ItemList]:
    """A seeded random `val_fraction` of the items held out (at least one), the rest to train on.

    Not the file's tail: an alphabetical list's tail is its last letters (makemore holds out
    random items too). The split depends only on the seed and the list, so a resumed run
    validates on the same items."""
    n = len(items)
    if n < 2:
        what = "no item (every line is blank)" if n == 0 else "one item"
        raise CorpusError(
            f"--items: the list has {what}; it needs at least 2 (one to train on, one to validate on): "
            f"give a file with one item per line"
        )
    n_val = min(max(1, int(round(n * val_fraction))), n - 1)
    order = np.random.default_rng([seed, 0x17E45]).permutation(n)  # 0x17E45: this split's own stream
    return items.subset(np.sort(order[n_val:])), items.subset(np.sort(order[:n_val]))


def check_windows(items: ItemList, seq_length: int) -> None:
    """Refuse a list none of whose items fits one window (it is text, or the window is too short)."""
    if len(items) and int(items.lengths.min()) + 1 > seq_length:
        raise CorpusError(
            f"--items: every line is longer than the window (the shortest has {int(items.lengths.min())} "
            f"characters, --seq-length is {seq_length}): this looks like text, not a list; train without "
            f"--items, or give --seq-length above the items' length"
        )


# A training text that looks like a list earns a one-line hint about --items: at least
# LIST_MIN_LINES lines, none longer than LIST_MAX_LINE, the median line at most
# LIST_MEDIAN_LINE characters and next to no blank lines (prose and plays have many:
# tinyshakespeare's lines are all under 100 characters but 18% of them are blank).
LIST_MIN_LINES = 1000
LIST_MAX_LINE = 100
LIST_MEDIAN_LINE = 30
LIST_MAX_BLANK = 0.01
LIST_PROBE = 10_000_000  # look at most at the text's first 10M characters


def looks_like_a_list(ids: np.ndarray, chars: str) -> bool:
    """Most lines short, none long, many lines, hardly any blank: a list of items."""
    if NEWLINE not in chars:
        return False
    _, lengths = line_spans(np.asarray(ids[:LIST_PROBE]), chars.index(NEWLINE))
    if len(lengths) < LIST_MIN_LINES:
        return False
    blank = float((lengths == 0).mean())
    kept = lengths[lengths > 0]
    return blank <= LIST_MAX_BLANK and int(kept.max()) <= LIST_MAX_LINE and float(np.median(kept)) <= LIST_MEDIAN_LINE


# --- the record `--novel` checks against ---------------------------------------------------

# The training items are stored as themselves up to EXACT_MAX_ITEMS items and EXACT_MAX_CHARS
# characters (makemore's 32K names: 228K characters, ~260 KB of JSON inside the checkpoint);
# beyond, as sorted 64-bit blake2b hashes (8 bytes an item, base64 in the JSON). Two distinct
# items share a 64-bit hash with probability ~n²/2⁶⁵: 3e-8 for a million items, so a new item
# is wrongly taken for a training one about never.
EXACT_MAX_ITEMS = 100_000
EXACT_MAX_CHARS = 2_000_000


def item_hash(text: str) -> int:
    """An item's 64-bit blake2b hash (little-endian), the key of a hashed record."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class ItemRecord:
    """The training list, to tell a generated item that is in it from a new one."""

    count: int  # items in the list (duplicates counted)
    longest: int  # characters of its longest item (generation drops a draw far longer)
    exact: frozenset[str] | None  # the distinct items, when stored as themselves
    hashes: np.ndarray | None  # (distinct,) sorted uint64 hashes otherwise

    @classmethod
    def of(cls, texts: list[str]) -> ItemRecord:
        longest = max(map(len, texts), default=0)
        if len(texts) <= EXACT_MAX_ITEMS and sum(map(len, texts)) <= EXACT_MAX_CHARS:
            return cls(len(texts), longest, frozenset(texts), None)
        return cls(len(texts), longest, None, np.unique(np.array([item_hash(t) for t in texts], np.uint64)))

    def __contains__(self, text: str) -> bool:
        if self.exact is not None:
            return text in self.exact
        k = np.uint64(item_hash(text))
        i = int(np.searchsorted(self.hashes, k))
        return i < len(self.hashes) and self.hashes[i] == k

    def to_json(self) -> dict:
        if self.exact is not None:
            return {"count": self.count, "longest": self.longest, "items": sorted(self.exact)}
        raw = self.hashes.astype("<u8").tobytes()
        return {
            "count": self.count,
            "longest": self.longest,
            "hash": "blake2b-64",
            "hashes": base64.b64encode(raw).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: dict) -> ItemRecord:
        if "items" in data:
            exact = frozenset(data["items"])
            return cls(int(data["count"]), int(data.get("longest", max(map(len, exact), default=0))), exact, None)
        raw = base64.b64decode(data["hashes"])
        return cls(int(data["count"]), int(data["longest"]), None, np.frombuffer(raw, "<u8").astype(np.uint64))
