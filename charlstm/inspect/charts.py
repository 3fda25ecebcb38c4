"""Static SVG charts drawn in Python: gate saturation, gradient decay, training history.

Plain strings, no plotting library: the page must open offline with nothing else.
"""

from __future__ import annotations

import math
from html import escape

GATE_COLOURS = {"f": "#d62728", "i": "#1f77b4", "o": "#2ca02c", "z": "#9467bd", "r": "#ff7f0e"}
GATE_NAMES = {"f": "forget", "i": "input", "o": "output", "z": "update z", "r": "reset r"}
SERIES = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
W, H, ML, MR, MT, MB = 540, 320, 62, 62, 16, 44  # size and margins


def _frame(xlabel: str, ylabel: str, ylabel2: str = "") -> list[str]:
    out = [
        f'<svg viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" class="chart">',
        f'<rect x="{ML}" y="{MT}" width="{W - ML - MR}" height="{H - MT - MB}" class="plot"/>',
        f'<text x="{(W + ML - MR) / 2}" y="{H - 8}" class="axis-label">{escape(xlabel)}</text>',
        f'<text transform="translate(14 {(H + MT - MB) / 2}) rotate(-90)" class="axis-label">{escape(ylabel)}</text>',
    ]
    if ylabel2:
        out.append(
            f'<text transform="translate({W - 12} {(H + MT - MB) / 2}) rotate(90)" class="axis-label">'
            f"{escape(ylabel2)}</text>"
        )
    return out


def _sx(v, lo, hi):
    return ML + (v - lo) / ((hi - lo) or 1) * (W - ML - MR)


def _sy(v, lo, hi):
    return H - MB - (v - lo) / ((hi - lo) or 1) * (H - MT - MB)


def _xticks(lo, hi, ticks, fmt="{:g}") -> list[str]:
    return [
        f'<line x1="{_sx(t, lo, hi):.1f}" x2="{_sx(t, lo, hi):.1f}" y1="{H - MB}" y2="{H - MB + 4}" class="tick"/>'
        f'<text x="{_sx(t, lo, hi):.1f}" y="{H - MB + 16}" class="tick-label">{fmt.format(t)}</text>'
        for t in ticks
    ]


def _yticks(lo, hi, ticks, labels, right=False) -> list[str]:
    x, anchor = (W - MR + 6, "start") if right else (ML - 6, "end")
    return [
        f'<line x1="{ML}" x2="{W - MR}" y1="{_sy(t, lo, hi):.1f}" y2="{_sy(t, lo, hi):.1f}" class="grid"/>'
        f'<text x="{x}" y="{_sy(t, lo, hi) + 4:.1f}" class="tick-label" text-anchor="{anchor}">{lab}</text>'
        for t, lab in zip(ticks, labels)
    ]


def _legend(items: list[tuple[str, str]], x: float = ML + 10, y: float = MT + 14) -> list[str]:
    return [
        f'<rect x="{x}" y="{y + 16 * n - 9}" width="10" height="10" fill="{c}"/>'
        f'<text x="{x + 14}" y="{y + 16 * n}" class="legend">{escape(label)}</text>'
        for n, (label, c) in enumerate(items)
    ]


def saturation_svg(layer: int, gates: dict) -> str:
    """Karpathy et al.'s scatter: per unit, fraction of time < 0.1 (x) against > 0.9 (y)."""
    out = _frame("fraction of time left-saturated (< 0.1)", "fraction right-saturated (> 0.9)")
    ticks = [0, 0.25, 0.5, 0.75, 1]
    out += _xticks(0, 1, ticks) + _yticks(0, 1, ticks, [f"{t:g}" for t in ticks])
    out.append(f'<line x1="{_sx(0, 0, 1)}" y1="{_sy(1, 0, 1)}" x2="{_sx(1, 0, 1)}" y2="{_sy(0, 0, 1)}" class="diag"/>')
    for gate, s in gates.items():
        c = GATE_COLOURS[gate]
        out += [
            f'<circle cx="{_sx(float(lo), 0, 1):.1f}" cy="{_sy(float(hi), 0, 1):.1f}" r="2.6" fill="{c}" '
            f'fill-opacity="0.55"/>'
            for lo, hi in zip(s["low"], s["high"])
        ]
    out += _legend([(f"{GATE_NAMES[g]} gate", GATE_COLOURS[g]) for g in gates], x=W - MR - 110)
    out.append(f'<text x="{ML + 6}" y="{MT + 14}" class="title">layer {layer}</text></svg>')
    return "\n".join(out)


def gradient_svg(curves: list) -> str:
    """Mean gradient norm against k on a log scale, one line per model."""
    out = _frame("k: characters back from the prediction", "‖∂ log p(next) / ∂ e(t−k)‖ (log scale)")
    vals = [v for c in curves for v in c.mean if v > 0]
    if not vals:
        return "\n".join(out + ["</svg>"])
    lo, hi = math.floor(math.log10(min(vals))), math.ceil(math.log10(max(vals)))
    hi = max(hi, lo + 1)
    kmax = max(len(c.mean) - 1 for c in curves) or 1
    out += _xticks(0, kmax, [t for t in range(0, kmax + 1, 20 if kmax >= 40 else 5)])
    step = max(1, (hi - lo + 5) // 6)
    decades = list(range(lo, hi + 1, step))
    out += _yticks(lo, hi, decades, [f"1e{d}" for d in decades])
    for n, c in enumerate(curves):
        pts = " ".join(
            f"{_sx(k, 0, kmax):.1f},{_sy(math.log10(max(v, 10.0**lo)), lo, hi):.1f}" for k, v in enumerate(c.mean)
        )
        out.append(f'<polyline points="{pts}" fill="none" stroke="{SERIES[n % len(SERIES)]}" stroke-width="2"/>')
    out += _legend([(c.label, SERIES[n % len(SERIES)]) for n, c in enumerate(curves)], x=W - MR - 230)
    return "\n".join(out + ["</svg>"])


def history_svg(history: list[dict]) -> str:
    """Train and validation bits per char (left axis) and learning rate (right, log) per epoch."""
    rows = [h for h in history if isinstance(h, dict)]
    ep = [_num(h.get("epoch"), n + 1) for n, h in enumerate(rows)]
    tr = [_num(h.get("train_bits_per_char")) for h in rows]
    va = [_num(h.get("val_bits_per_char")) for h in rows]
    lr = [_num(h.get("learning_rate")) for h in rows]
    out = _frame("epoch", "bits per char", "learning rate (log)")
    bpc = [v for v in tr + va if v is not None]
    if not rows or not bpc:
        return "\n".join(out + [f'<text x="{W / 2}" y="{H / 2}" class="axis-label">no history</text></svg>'])
    x0, x1 = min(ep + [0]), max(ep + [1])
    y0, y1 = math.floor(min(bpc) * 2) / 2, math.ceil(max(bpc) * 2) / 2 + (0.5 if min(bpc) == max(bpc) else 0)
    out += _xticks(x0, x1, _nice_ticks(x0, x1))
    yt = _nice_ticks(y0, y1)
    out += _yticks(y0, y1, yt, [f"{t:g}" for t in yt])
    for vals, colour, dash in ((tr, SERIES[0], ""), (va, SERIES[1], "")):
        out.append(_polyline(ep, vals, lambda v: _sy(v, y0, y1), x0, x1, colour, dash))
    pos_lr = [v for v in lr if v is not None and v > 0]
    legend = [("train", SERIES[0]), ("validation", SERIES[1])]
    if pos_lr:
        l0, l1 = math.log10(min(pos_lr)), math.log10(max(pos_lr))
        if l1 - l0 < 1e-9:
            l0, l1 = l0 - 0.5, l1 + 0.5
        out += [
            f'<text x="{W - MR + 6}" y="{_sy(v, l0, l1) + 4:.1f}" class="tick-label">{10**v:.1e}</text>'
            for v in (l0, l1)
        ]
        out.append(
            _polyline(
                ep,
                [math.log10(v) if v and v > 0 else None for v in lr],
                lambda v: _sy(v, l0, l1),
                x0,
                x1,
                "#777",
                "4 3",
            )
        )
        legend.append(("learning rate", "#777"))
    out += _legend(legend, x=W - MR - 110)
    return "\n".join(out + ["</svg>"])


def _num(v, default=None):
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else default


def _nice_ticks(lo, hi, n=5):
    span = (hi - lo) or 1
    step = 10 ** math.floor(math.log10(span / n))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= n:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step + 1e-9) + 1)]


def _polyline(xs, ys, sy, x0, x1, colour, dash) -> str:
    pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
    if not pts:
        return ""
    coords = " ".join(f"{_sx(x, x0, x1):.1f},{sy(y):.1f}" for x, y in pts)
    marks = "".join(f'<circle cx="{_sx(x, x0, x1):.1f}" cy="{sy(y):.1f}" r="2.5" fill="{colour}"/>' for x, y in pts)
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{d}/>{marks}'
