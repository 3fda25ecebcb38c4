"""What the text is doing at each character, and which units follow it.

A detector is a number per character describing the text *after reading that
character* (what a unit would have to remember): inside double quotes, bracket
depth, position in the line, and so on. Every unit's c and h are correlated with
every detector (Pearson r over the characters); the strongest units are the
"interpretable cells" Karpathy, Johnson & Fei-Fei (2015) picked by hand.
Gate saturation (their figure 4) is summarised here too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from charlstm.errors import UsageError

OPEN_QUOTES, CLOSE_QUOTES = "\u201c", "\u201d"
SENTENCE_END = ".!?"
# An all-caps name alone at the start of a line and ending in "." or ":" (MACBETH. / ROMEO:)
SPEAKER = re.compile(r"^[A-Z][A-Z'\- ]*[A-Z](?=[.:])", re.MULTILINE)
SATURATED_LOW, SATURATED_HIGH = 0.1, 0.9  # Karpathy et al.'s thresholds
MIN_DROP = 0.05  # a forget gate "drops" at sentence ends when its mean there is this much lower


def in_quotes(text: str) -> np.ndarray:
    """1 from an opening double quote up to (not including) its closing quote."""
    out, inside = np.zeros(len(text), np.float32), False
    for t, ch in enumerate(text):
        if ch == '"':
            inside = not inside
        elif ch == OPEN_QUOTES:
            inside = True
        elif ch == CLOSE_QUOTES:
            inside = False
        out[t] = inside
    return out


def bracket_depth(text: str) -> np.ndarray:
    """Open (, [ and { not yet closed."""
    out, depth = np.zeros(len(text), np.float32), 0
    for t, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(depth - 1, 0)
        out[t] = depth
    return out


def line_position(text: str) -> np.ndarray:
    """Characters since the last newline (0 right after one)."""
    out, pos = np.zeros(len(text), np.float32), 0
    for t, ch in enumerate(text):
        pos = 0 if ch == "\n" else pos + 1
        out[t] = pos
    return out


def line_start(text: str) -> np.ndarray:
    """1 on a newline: the next character starts a line."""
    return np.frombuffer(np.array([ch == "\n" for ch in text], np.bool_), np.uint8).astype(np.float32)


def after_sentence_end(text: str) -> np.ndarray:
    """1 from a . ! or ? through the spaces after it, until the next sentence starts."""
    out, after = np.zeros(len(text), np.float32), False
    for t, ch in enumerate(text):
        if ch in SENTENCE_END:
            after = True
        elif not ch.isspace() and ch not in "\"')\u201d":
            after = False
        out[t] = after
    return out


def regex_spans(text: str, pattern: re.Pattern) -> np.ndarray:
    """1 on every character inside a match."""
    out = np.zeros(len(text), np.float32)
    for m in pattern.finditer(text):
        out[m.start() : m.end()] = 1.0
    return out


BUILT_IN = {
    "inside quotes": in_quotes,
    "bracket depth": bracket_depth,
    "position in line": line_position,
    "line start": line_start,
    "after sentence end": after_sentence_end,
    "speaker name": lambda text: regex_spans(text, SPEAKER),
}


def parse_detector(spec: str) -> tuple[str, re.Pattern]:
    """'NAME=REGEX' from --detector."""
    name, sep, pattern = spec.partition("=")
    if not sep or not name.strip() or not pattern:
        raise UsageError(f"--detector {spec!r}: write it as NAME=REGEX, e.g. --detector 'stage=\\[.*?\\]'")
    try:
        return name.strip(), re.compile(pattern, re.MULTILINE)
    except re.error as e:
        raise UsageError(f"--detector {name.strip()}: invalid regular expression ({e})") from None


def compute(text: str, user: list[tuple[str, re.Pattern]] = ()) -> dict[str, np.ndarray]:
    """Every detector's signal, (time,) float32 each, built-in first."""
    out = {name: fn(text) for name, fn in BUILT_IN.items()}
    for name, pattern in user:
        out[name] = regex_spans(text, pattern)
    return out


def correlations(signal: np.ndarray, acts: np.ndarray) -> np.ndarray:
    """Pearson r of a (time,) signal with each column of acts (time, units); 0 where either is constant."""
    s = signal.astype(np.float64) - signal.mean()
    a = acts.astype(np.float64) - acts.mean(axis=0)
    denom = np.sqrt((s @ s) * (a * a).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (s @ a) / denom
    return np.where(denom > 1e-12, r, 0.0)


@dataclass
class Finding:
    """One unit that follows one detector."""

    detector: str
    layer: int  # 1-based, as in rnn_1
    unit: int  # 0-based
    state: str  # "c" or "h"
    r: float  # Pearson correlation (sign kept)

    def as_dict(self) -> dict:
        return {
            "detector": self.detector,
            "layer": self.layer,
            "unit": self.unit,
            "state": self.state,
            "r": round(float(self.r), 4),
        }


def best_units(
    signals: dict[str, np.ndarray], layers: list[dict[str, np.ndarray]], top: int = 3
) -> dict[str, list[Finding]]:
    """Per detector, the `top` (layer, unit) with the largest |r| of c or h; constant detectors left out."""
    found = {}
    for name, sig in signals.items():
        if sig.std() == 0:
            continue  # e.g. no quotes in this text: nothing to correlate with
        cands = []
        for li, rec in enumerate(layers, start=1):
            for state in ("c", "h"):
                if state in rec:
                    r = correlations(sig, rec[state])
                    cands += [Finding(name, li, int(u), state, float(r[u])) for u in range(r.size)]
        cands.sort(key=lambda f: -abs(f.r))
        picked, seen = [], set()
        for f in cands:  # a unit's c and h usually agree: list each unit once
            if (f.layer, f.unit) not in seen:
                seen.add((f.layer, f.unit))
                picked.append(f)
            if len(picked) == top:
                break
        found[name] = picked
    return found


def forget_at_sentence_end(text: str, layers: list[dict[str, np.ndarray]], top: int = 3) -> list[dict]:
    """Units whose forget gate drops most when reading . ! or ? (the subject forgotten at a full stop).

    The forget gate at step t is computed from character t, so it is compared at
    the sentence-end characters against everywhere else. GRU: the update gate z
    (its "keep the old state" gate); a plain RNN has no gate, so nothing.
    """
    mask = np.array([ch in SENTENCE_END for ch in text])
    if mask.all() or not mask.any():
        return []
    out = []
    for li, rec in enumerate(layers, start=1):
        gate = "f" if "f" in rec else "z" if "z" in rec else None
        if gate is None:
            continue
        g = rec[gate]
        drop = g[~mask].mean(axis=0) - g[mask].mean(axis=0)  # (units,)
        out += [
            {
                "layer": li,
                "unit": int(u),
                "gate": gate,
                "drop": float(drop[u]),
                "at_end": float(g[mask, u].mean()),
                "elsewhere": float(g[~mask, u].mean()),
            }
            for u in range(drop.size)
        ]
    out.sort(key=lambda d: -d["drop"])
    return [d for d in out[:top] if d["drop"] > MIN_DROP]


def saturation(layers: list[dict[str, np.ndarray]]) -> list[dict]:
    """Per layer and gate: per-unit fractions of time below 0.1 and above 0.9, plus headline shares."""
    out = []
    for rec in layers:
        gates = {}
        for gate in ("f", "i", "o", "z", "r"):
            if gate not in rec:
                continue
            g = rec[gate]
            low, high = (g < SATURATED_LOW).mean(axis=0), (g > SATURATED_HIGH).mean(axis=0)
            gates[gate] = {
                "low": low.astype(np.float32),
                "high": high.astype(np.float32),
                "share_mostly_open": float((high > 0.5).mean()),
                "share_mostly_closed": float((low > 0.5).mean()),
            }
        out.append(gates)
    return out
