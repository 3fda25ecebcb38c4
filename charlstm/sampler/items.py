"""An item model's items (`--items`): whole new items drawn as one batch, and items scored.

Every item starts from the start state fed the newline (its start symbol), then the
prime's characters (the start of every item: `--prime "Ka"`, or `"fr\\t"` for a list of
`tag<TAB>item` lines), and ends when the model picks the newline (its end symbol).

`sample_items` draws all of a run's items as one batch of rows stepped together (the
network's batched step, one matrix product per layer for every row): a row that ends is
judged (`--novel`: not in the training list; `--unique`: not drawn before) and refilled
with a fresh draw from the prime's state, until N items are accepted or the draws run out
(`max_draws`, then the caller warns; never a hang). `item_nll` scores items the same
batched way, each from the start state, its end symbol included (makemore's test loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charlstm.errors import CorpusError, UsageError
from charlstm.sampler.network import Network
from charlstm.sampler.sampling import pick
from charlstm.text.corpus import Vocabulary, normalize_newlines
from charlstm.text.items import NEWLINE, ItemList, ItemRecord, items_from_ids

# Rows stepped together: 1,000 items of a 2×300 model in one batch. `generate --items 1000
# --novel --unique` on makemore's names (2×300, 60 s of training, 82% of draws new) took 1,226
# draws in 39 batched steps: 1.0-1.6 s of sampling, 2.1-2.5 s wall with start-up, on a shared
# 2-core machine under a load of 5-6; the steps are matrix products (1000×300 @ 300×1200).
MAX_ROWS = 1024
# Draws before giving up on N accepted items: enough for a list whose new items are 1 in
# 10 of the draws; beyond it the run ends with what it found and a warning.
DRAWS_PER_ITEM = 10
MIN_DRAWS = 1000
LENGTH_SLACK = 20  # an item may run this much past twice the longest training item, then it is dropped


@dataclass(frozen=True)
class Item:
    text: str  # the whole item, the prime included
    logprob: float  # ln p of its characters and its end symbol, from the start state (temperature 1)
    in_training: bool | None  # in the training list (None: the model has no record of it)

    def to_json(self) -> dict:
        return {"text": self.text, "logprob": self.logprob, "in_training": self.in_training}


@dataclass
class ItemDraw:
    """What `sample_items` found: the accepted items, and how many draws it took."""

    items: list[Item]
    draws: int  # complete draws judged (items that ran past the length limit included)
    in_training: int  # draws that were items of the training list
    wanted: int

    @property
    def novel_fraction(self) -> float | None:
        return 1 - self.in_training / self.draws if self.draws else None

    def shortfall(self, novel: bool, unique: bool) -> str | None:
        """The one-line warning when fewer than the items asked for were found."""
        if len(self.items) >= self.wanted:
            return None
        kind = " ".join(w for w, on in (("new", novel), ("distinct", unique)) if on)
        return (
            f"found {len(self.items)} of {self.wanted} {kind + ' ' if kind else ''}items in {self.draws:,} draws "
            f"(the limit); a higher --temperature or a longer-trained model finds more"
        )


def record_of(extra: dict) -> ItemRecord | None:
    """The checkpoint's record of its training list (`CheckpointMeta.extra`), or None (a text model)."""
    data = extra.get("items")
    return ItemRecord.from_json(data) if data else None


def _log_softmax_at(logits: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """ln p(ids[r]) under logits (rows, vocab) at temperature 1, float64."""
    z = logits.astype(np.float64)
    m = z.max(axis=1)
    return z[np.arange(len(ids)), ids] - m - np.log(np.exp(z - m[:, None]).sum(axis=1))


def _primed(net: Network, start_ids: np.ndarray) -> tuple[list, np.ndarray, float]:
    """(state, logits (1, vocab), ln p of the prime's characters) after the newline and the prime."""
    state, logprob = net.zero_state(1), 0.0
    logits, state = net.step(start_ids[:1], state)
    for i in start_ids[1:]:
        logprob += float(_log_softmax_at(logits, np.array([i]))[0])
        logits, state = net.step(np.array([i]), state)
    return state, logits.copy(), logprob


def sample_items(
    net: Network,
    chars: str,
    start_ids: np.ndarray,
    n: int,
    *,
    prime_text: str = "",
    record: ItemRecord | None = None,
    novel: bool = False,
    unique: bool = False,
    seed: int = 0,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    max_length: int = 1000,
    max_draws: int | None = None,
) -> ItemDraw:
    """Up to `n` items (see the module docstring); `start_ids`: the newline then the prime's ids.

    Draws are numbered as they start and judged in that order once every one started has
    ended, so the items kept do not favour the short ones (which end first). The same seed
    and arguments give the same items. `max_length`: characters after which a draw is dropped."""
    if n < 1:
        raise UsageError(f"--items {n}: ask for at least 1 item", param="items")
    if novel and record is None:
        raise UsageError("--novel needs an item model (trained with --items): this checkpoint has no training list")
    max_draws = max_draws if max_draws is not None else max(DRAWS_PER_ITEM * n, MIN_DRAWS)
    rows = _Rows(net, chars, start_ids, prime_text, max_length, np.random.default_rng(seed))
    draws: list[tuple[str | None, float]] = []  # (text, or None if unfinished; ln p) by draw number
    found = ItemDraw([], 0, 0, n)
    while len(found.items) < n and len(draws) < max_draws:
        rate = len(found.items) / len(draws) if draws else 1.0  # accepted per draw so far
        more = math.ceil((n - len(found.items)) / max(rate, 0.05))
        draws += rows.run(min(max(more, n - len(found.items)), max_draws - len(draws)), temperature, top_k, top_p)
        found = _judge(draws, n, record, novel, unique)
    return found


class _Rows:
    """Draws stepped together as one batch: each row from the prime's state, refilled as rows end."""

    def __init__(self, net: Network, chars: str, start_ids: np.ndarray, prime_text: str, max_length: int, rng):
        self.net, self.nl, self.prime_text, self.max_length, self.rng = (
            net,
            chars.index(NEWLINE),
            prime_text,
            max_length,
            rng,
        )
        self.table = np.array(list(chars))
        self.state0, self.logits0, self.prime_lp = _primed(net, start_ids)

    def run(self, count: int, temperature: float, top_k, top_p) -> list[tuple[str | None, float]]:
        """`count` draws, in the order they start: (the item, or None past max_length; its ln p)."""
        out: list = [None] * count
        b = min(count, MAX_ROWS)
        state = [tuple(np.repeat(a, b, axis=0) for a in s) for s in self.state0]
        logits = np.repeat(self.logits0, b, axis=0)  # (rows, vocab)
        logprob, length = np.full(b, self.prime_lp), np.zeros(b, np.int64)  # (rows,) ln p so far, chars so far
        draw = np.arange(b)  # (rows,) which draw each row is
        buf = np.zeros((b, self.max_length), np.int64)  # (rows, max_length) each row's characters
        started = b
        while len(draw):
            ids = pick(logits, self.rng.random(len(draw)), temperature, top_k, top_p)
            logprob += _log_softmax_at(logits, ids)
            ended = ids == self.nl
            grow = np.flatnonzero(~ended)
            buf[grow, length[grow]] = ids[grow]
            length[grow] += 1
            done = np.flatnonzero(ended | (length >= self.max_length))
            for r in done.tolist():
                text = self.prime_text + "".join(self.table[buf[r, : length[r]]]) if ended[r] else None
                out[draw[r]] = (text, float(logprob[r]))
            logits, state = self.net.step(ids, state)
            refill, stop = done[: count - started], done[count - started :]
            draw[refill] = np.arange(started, started + len(refill))
            started += len(refill)
            for s, s0 in zip(state, self.state0):
                for a, a0 in zip(s, s0):
                    a[refill] = a0
            logits[refill], logprob[refill], length[refill] = self.logits0, self.prime_lp, 0
            if len(stop):
                keep = np.setdiff1d(np.arange(len(draw)), stop)
                state = [tuple(a[keep] for a in s) for s in state]
                logits, logprob, length, buf, draw = logits[keep], logprob[keep], length[keep], buf[keep], draw[keep]
        return out


def _judge(draws: list, n: int, record, novel: bool, unique: bool) -> ItemDraw:
    """The first `n` acceptable draws in the order they started (blank or unfinished ones never are)."""
    found, seen = ItemDraw([], 0, 0, n), set()
    for text, logprob in draws:
        found.draws += 1
        known = (text in record) if record is not None and text else None
        found.in_training += bool(known)
        if not text or (novel and known) or (unique and text in seen):
            continue
        seen.add(text)
        found.items.append(Item(text, logprob, known))
        if len(found.items) == n:
            break
    return found


def item_nll(net: Network, items: ItemList, rows: int = 512) -> np.ndarray:
    """-ln p of each item's characters and end symbol from the start state, (items,) nats.

    Rows sorted by length, `rows` at a time, stepped together; positions past an item's end
    are stepped and ignored (a forward network: they cannot change the real ones)."""
    out = np.zeros(len(items), np.float64)
    spans = items.lengths + 1  # (items,) targets of each item
    order = np.argsort(spans, kind="stable")
    for lo in range(0, len(order), rows):
        which = order[lo : lo + rows]
        width = int(spans[which].max())
        pos = np.minimum(items.starts[which, None] + np.arange(width + 1), len(items.ids) - 1)
        window = items.ids[pos].astype(np.int64)  # (rows, width+1)
        state = net.zero_state(len(which))
        for t in range(width):
            logits, state = net.step(window[:, t], state)
            nll = -_log_softmax_at(logits, window[:, t + 1])
            out[which] += np.where(t < spans[which], nll, 0.0)
    return out


def score_summary(nll: np.ndarray, items: ItemList) -> dict:
    """Token-weighted nats and bits per character over the items (every character and end symbol)."""
    chars = items.targets
    nats = float(nll.sum() / chars) if chars else float("nan")
    return {
        "nats_per_char": nats,
        "bits_per_char": nats / math.log(2),
        "perplexity": math.exp(nats) if chars else float("nan"),
        "chars": int(chars),
        "items": len(items),
        "nats_per_item": float(nll.mean()) if len(items) else float("nan"),
    }


def evaluate_items(net: Network, vocab: Vocabulary, text: str, lowercase: bool = False, per_item=False) -> dict:
    """A list's score (`charlstm eval --items`): its non-blank lines as items, each from the start
    state; an item with a character outside the vocabulary is left out and counted."""
    if NEWLINE not in vocab.chars:
        raise UsageError("eval --items: this model's vocabulary has no newline, so it cannot end an item")
    text = normalize_newlines(text)
    lines = [line for line in (text.lower() if lowercase else text).split(NEWLINE) if line]
    known = set(vocab.chars)
    kept = [line for line in lines if set(line) <= known]
    if not kept:
        raise CorpusError(
            "eval --items: no item to score (the file has no non-blank line"
            + (f", or every one has a character outside the vocabulary: {len(lines)} left out)" if lines else ")")
        )
    items = items_from_ids(vocab.encode(NEWLINE + NEWLINE.join(kept) + NEWLINE), vocab.chars)
    nll = item_nll(net, items)
    result = {**score_summary(nll, items), "unknown_items": len(lines) - len(kept)}
    if per_item:
        result["per_item"] = [{"text": t, "nats": float(v), "chars": len(t) + 1} for t, v in zip(kept, nll.tolist())]
    return result
