"""The HTML page: one file, inline CSS, JS, SVG and canvas, nothing fetched.

Activations travel as bytes: each (units × time) array is quantised to uint8 over
its display range, zlib-compressed and base64-encoded, and the page inflates it
with the browser's own DecompressionStream. A 2×300 LSTM on 2,000 characters is
6 MB of bytes before compression (h, c, f, i, o); see the size test and README.
"""

from __future__ import annotations

import base64
import json
import zlib
from html import escape
from importlib import resources

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm.inspect import charts

SHOWN = ("h", "c", "f", "i", "o", "z", "r")  # the candidate g stays in --json only
LABELS = {
    "h": "hidden h",
    "c": "cell state c",
    "f": "forget gate f",
    "i": "input gate i",
    "o": "output gate o",
    "z": "update gate z",
    "r": "reset gate r",
}
STRIP_CHARS = 240  # characters shown in each interpretable-cell strip


BUDGET_B64 = 4_500_000  # bytes of encoded activations; leaves room for text, strips and charts under 5 MB
LEVELS = (256, 128, 64, 32)  # quantisation levels tried in turn until the page fits the budget


def _pack(a: np.ndarray, lo: float, hi: float, levels: int) -> str:
    """(time, units) floats -> base64 of zlib(uint8 (units, time)) with `levels` steps over [lo, hi]."""
    q = np.clip(np.round((a.T - lo) / (hi - lo) * (levels - 1)), 0, levels - 1).astype(np.uint8)
    return base64.b64encode(zlib.compress(q.tobytes(), 6)).decode("ascii")


def _range(name: str, a: np.ndarray) -> tuple[float, float]:
    if name == "c":  # unbounded: symmetric, at the 99.5th percentile of |c| so outliers don't wash it out
        s = float(np.percentile(np.abs(a), 99.5)) or 1.0
        return -s, s
    return (-1.0, 1.0) if name in ("h", "g") else (0.0, 1.0)


def _layers_data(trace, layers: list[int], units: list[int]) -> list[dict]:
    """The shown arrays at the finest quantisation that fits BUDGET_B64.

    Measured on a 60-s Macbeth 2×300 LSTM, 2,000 chars, h c f i o of both layers:
    7.1 MB encoded at 256 levels, 6.1 at 128, 5.2 at 64 (noisy activations
    compress poorly), so such a page is drawn at 64 levels, which the eye cannot
    tell from 256 in the colour scales; the hover shows values to 2 decimals.
    """
    picked = [
        (li, name, trace.layers[li - 1][name][:, units])
        for li in layers
        for name in SHOWN
        if name in trace.layers[li - 1]
    ]
    ranges = [_range(name, a) for _, name, a in picked]
    for levels in LEVELS:
        packed = [_pack(a, lo, hi, levels) for (_, _, a), (lo, hi) in zip(picked, ranges)]
        if sum(map(len, packed)) <= BUDGET_B64:
            break
    out = []
    for li in layers:
        arrays = {
            name: {"lo": lo, "hi": hi, "levels": levels, "b64": b64, "label": LABELS[name]}
            for (l2, name, _), (lo, hi), b64 in zip(picked, ranges, packed)
            if l2 == li
        }
        out.append({"layer": li, "arrays": arrays})
    return out


def _window(sig: np.ndarray, n: int) -> int:
    """Start of the n-char window where the detector changes most often (where a strip is worth reading)."""
    if len(sig) <= n:
        return 0
    changes = np.concatenate([[0], np.cumsum(np.abs(np.diff(sig)) > 0)])  # (time,)
    busy = changes[n - 1 :] - changes[: len(sig) - n + 1]  # changes inside each window
    return int(np.argmax(busy))


def _strips(trace, signals, findings) -> list[dict]:
    out = []
    for name, found in findings["detectors"].items():
        full = signals[name]
        start = _window(full, STRIP_CHARS)
        sig = full[start : start + STRIP_CHARS]
        top = float(np.abs(full).max()) or 1.0
        for f in found:
            series = trace.layers[f["layer"] - 1][f["state"]][start : start + STRIP_CHARS, f["unit"]]
            out.append(
                {
                    **f,
                    "start": start,
                    "signal": [round(float(v) / top, 3) for v in sig],
                    "series": [round(float(v), 3) for v in series],
                }
            )
    return out


def _top5(trace) -> tuple[list, list]:
    top = np.argsort(-trace.probs, axis=1)[:, :5]  # (time, 5)
    p = np.take_along_axis(trace.probs, top, axis=1)
    return top.tolist(), np.round(p, 4).tolist()


def _settings(ckpt, findings) -> list[tuple[str, str]]:
    m, t = ckpt.model, ckpt.training
    corpus = ckpt.extra.get("corpus") or {}
    best = ckpt.best_val_bits_per_char
    return [
        ("checkpoint", str(ckpt.path)),
        ("model", f"{m.layers}×{m.units} {m.cell}, embedding {m.embedding_dim}, dropout {m.dropout}"),
        ("vocabulary", f"{len(ckpt.vocabulary)} characters"),
        ("corpus", ckpt_io.describe_corpus(corpus)),
        (
            "training",
            f"seq {t.seq_length}, batch {t.batch_size}, lr {t.learning_rate}, clip {t.clip_norm}, "
            f"seed {t.seed}{', lowercase' if t.lowercase else ''}",
        ),
        ("epochs", f"{ckpt.epoch}; best validation {best:.3f} bits/char" if best is not None else str(ckpt.epoch)),
        (
            "this text",
            f"{findings['chars']:,} chars from {findings['text_source']}"
            + (
                f" (the first {findings['chars']:,} of {findings['chars_available']:,}: --chars)"
                if findings["chars_available"] > findings["chars"]
                else ""
            )
            + f"; {findings['bits_per_char']:.3f} bits/char",
        ),
    ]


def _headlines(findings) -> list[str]:
    out = []
    for li, gates in enumerate(findings["saturation"], start=1):
        for g, s in gates.items():
            name = charts.GATE_NAMES[g]
            if s["share_mostly_open"] >= 0.05:
                what = ": long memory" if g in ("f", "z") else ""
                out.append(
                    f"layer {li}: {s['share_mostly_open']:.0%} of {name} gates are open (> 0.9) "
                    f"more than half the time{what}"
                )
            if s["share_mostly_closed"] >= 0.05:
                out.append(
                    f"layer {li}: {s['share_mostly_closed']:.0%} of {name} gates are shut (< 0.1) "
                    f"more than half the time"
                )
    if not any(findings["saturation"]):
        return []  # a plain RNN: no gates
    return out or ["no gate is saturated more than half the time in 5% of units or more"]


def render(ckpt, text, trace, signals, findings, curves, layers: list[int], units: list[int], live=None) -> str:
    """The whole page as a string; `live` (export.web.live_assets: module, weights, kernel) adds the live view."""
    top_ids, top_p = _top5(trace)
    data = {
        "text": text,
        "vocab": ckpt.vocabulary,
        "units": units,
        "cell": ckpt.model.cell,
        "layers": _layers_data(trace, layers, units),
        "surprise": [round(float(v), 2) for v in trace.surprise_bits],
        "top_ids": top_ids,
        "top_p": top_p,
        "strips": _strips(trace, signals, findings),
        "forget": findings["forget_at_sentence_end"],
        "default": _default_unit(findings, layers, units, ckpt.model.cell),
    }
    sat = detectors_sat_svgs(trace, layers)
    grad = charts.gradient_svg(curves) if curves else ""
    grad_notes = [
        f"{c.label}: the norm falls below 1/1000 of its k = 0 value at k = {c.k_below()}"
        if c.k_below() is not None
        else f"{c.label}: still above 1/1000 of its k = 0 value at k = {len(c.mean) - 1}"
        for c in curves
    ]
    pkg = resources.files("charlstm.inspect")
    page = (pkg / "page.html").read_text("utf-8")
    fill = {
        "TITLE": escape(f"charlstm inspect: {ckpt.path}"),
        "CSS": (pkg / "page.css").read_text("utf-8"),
        "JS": (pkg / "page.js").read_text("utf-8"),
        "DATA": json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/"),
        "SETTINGS": "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _settings(ckpt, findings)),
        "HEADLINES": "".join(f"<li>{escape(s)}</li>" for s in _headlines(findings)),
        "SATURATION": "".join(sat) or "<p>This cell has no gates (a plain RNN).</p>",
        "GRADIENT": grad or "<p>Not measured (--no-gradients).</p>",
        "GRADNOTES": "".join(f"<li>{escape(s)}</li>" for s in grad_notes),
        "HISTORY": charts.history_svg(ckpt.history),
        "LIVE": _live(live, pkg) if live else "",
    }
    for k, v in fill.items():
        page = page.replace(f"<!--{k}-->", v)
    return page


def _live(live: dict, pkg) -> str:
    """The embedded network (weights and kernel as base64) and one module script: charlstm.mjs, then live.js."""
    script = live["module"] + "\n" + (pkg / "live.js").read_text("utf-8")
    if "</script" in script.lower():
        raise AssertionError("the inline script must not contain </script")  # a packaging mistake, not input
    return (
        f'<script type="application/octet-stream" id="live-weights">{live["weights"]}</script>\n'
        f'<script type="application/octet-stream" id="live-kernel">{live["kernel"]}</script>\n'
        f'<script type="module">\n{script}\n</script>'
    )


def detectors_sat_svgs(trace, layers) -> list[str]:
    from charlstm.inspect.detectors import saturation

    sat = saturation(trace.layers)
    return [charts.saturation_svg(li, sat[li - 1]) for li in layers if sat[li - 1]]


def _default_unit(findings, layers, units, cell: str) -> dict:
    """Open on the strongest interpretable unit that is on the page, else the first unit shown."""
    best = sorted((f for fs in findings["detectors"].values() for f in fs), key=lambda f: -abs(f["r"]))
    for f in best:
        if f["layer"] in layers and f["unit"] in units:
            return {"layer": f["layer"], "unit": f["unit"], "quantity": f["state"]}
    return {"layer": layers[0], "unit": units[0], "quantity": "c" if cell in ("lstm", "peephole", "cifg") else "h"}
