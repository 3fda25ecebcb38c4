"""Widen a trained LSTM checkpoint without changing what it computes (Net2Net-style), to continue training it bigger.

    python scripts/widen_base.py START DEST --units 400 [--seed 1]

Every recurrent layer gets `--units` units. A new unit's incoming weights (from the layer's
input and from every unit's previous output) are drawn as a fresh layer's would be (Glorot
uniform over the input, orthogonal-scaled over the recurrent rows), its biases as Keras sets
them (1 on the forget gate), and every weight *out of* a new unit (into the next layer, into
the recurrent products of the old units, into the softmax) is zero. So the widened model
scores every text exactly as START does (checked below on 5,000 chars), while each new unit
already runs on its own (nonzero state) and its outgoing weights get gradients from the
first step: `charlstm train --init-from DEST` then trains the extra capacity from START's
solution instead of from nothing. LSTM only (the gate layout i, f, c, o of Keras's LSTMCell).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GATES = 4  # Keras's LSTMCell: kernel columns [i | f | c | o], each `units` wide


def widen_gates(w: np.ndarray, units: int, new_units: int, fill: np.ndarray) -> np.ndarray:
    """(rows, 4*units) -> (rows, 4*new_units): each gate's block keeps its columns, `fill`'s columns appended."""
    extra = new_units - units
    blocks = []
    for g in range(GATES):
        blocks += [w[..., g * units : (g + 1) * units], fill[..., g * extra : (g + 1) * extra]]
    return np.concatenate(blocks, axis=-1)


def new_unit_rows(units: int, new_units: int, draw) -> np.ndarray:
    """Rows for the new units' outputs: zero into the old units' gates, `draw(shape)` into the new ones'."""
    extra = new_units - units
    rows = np.zeros((extra, GATES * new_units), np.float32)
    for g in range(GATES):
        rows[:, g * new_units + units : (g + 1) * new_units] = draw((extra, extra))
    return rows


def widen(weights: dict[str, np.ndarray], layers: int, units: int, new_units: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    extra = new_units - units
    out = dict(weights)
    for n in range(1, layers + 1):
        p = f"rnn_{n}/"
        kernel, recurrent, bias = weights[p + "kernel"], weights[p + "recurrent_kernel"], weights[p + "bias"]
        old_in = kernel.shape[0]
        from_new_inputs = n > 1  # a lower layer was widened: its new units are new input rows
        limit = np.sqrt(6.0 / (old_in + (extra if from_new_inputs else 0) + GATES * new_units))  # Glorot uniform
        # Input kernel: new columns (the new units' gates) random over the old inputs.
        k = widen_gates(kernel, units, new_units, rng.uniform(-limit, limit, (old_in, GATES * extra)))
        if from_new_inputs:  # rows for the lower layer's new units: zero into old units, random into new
            rows = new_unit_rows(units, new_units, partial(rng.uniform, -limit, limit))
            k = np.concatenate([k, rows], axis=0)
        # Recurrent kernel: old rows get random columns for the new units; new rows are zero into the
        # old units' gates (their outputs must not reach the old units) and random into the new ones.
        scale = 1.0 / np.sqrt(new_units)
        r = widen_gates(recurrent, units, new_units, rng.normal(0, scale, (units, GATES * extra)))
        r = np.concatenate([r, new_unit_rows(units, new_units, partial(rng.normal, 0, scale))], axis=0)
        fill = np.zeros(GATES * extra, np.float32)
        fill[extra : 2 * extra] = 1.0  # unit_forget_bias
        b = widen_gates(bias[None, :], units, new_units, fill[None, :])[0]
        out[p + "kernel"], out[p + "recurrent_kernel"], out[p + "bias"] = (
            k.astype(np.float32),
            r.astype(np.float32),
            b.astype(np.float32),
        )
    soft = weights["softmax/kernel"]
    out["softmax/kernel"] = np.concatenate([soft, np.zeros((extra, soft.shape[1]), np.float32)], axis=0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("start", help="a checkpoint file, a run directory or base")
    ap.add_argument("dest", type=Path)
    ap.add_argument("--units", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    import charlstm
    from charlstm import checkpoint as ckpt_io
    from charlstm.files import atomic_write
    from charlstm.training import model as model_lib
    from charlstm.training import tf_runtime

    source = ckpt_io.resolve(args.start, ckpt_io.BEST)
    meta = ckpt_io.load(source)
    if meta.model.cell != "lstm" or args.units <= meta.model.units:
        sys.exit(f"{source}: widens LSTMs to more units only (it has {meta.model.units} {meta.model.cell} units)")
    weights = widen(ckpt_io.load_weights(source), meta.model.layers, meta.model.units, args.units, args.seed)
    config = dataclasses.replace(meta.model, units=args.units)
    tf_runtime.set_precision(False)
    model = model_lib.build(config)
    model_lib.assign_weights(model, weights)
    extra = {k: v for k, v in meta.extra.items() if k != "resume"}
    extra["widened_from"] = {"path": str(args.start), "sha256": ckpt_io.sha256(source), "units": meta.model.units}
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "widened.keras"
        ckpt_io.save(model, dataclasses.replace(meta, path=staged, model=config, extra=extra), staged, weights)
        probe = (ROOT.parent / "shared" / "corpora" / "macbeth.txt").read_text(encoding="utf-8")[:5000]
        before = charlstm.load(source).evaluate(text=probe)["nats_per_char"]
        after = charlstm.load(staged).evaluate(text=probe)["nats_per_char"]
        if abs(after - before) > 1e-5:
            sys.exit(f"widening changed the model's loss on the probe: {before:.6f} -> {after:.6f}")
        args.dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(args.dest, staged.read_bytes())
    print(f"{args.dest}: {meta.model.units} -> {args.units} units; probe loss {before:.6f} = {after:.6f}")


if __name__ == "__main__":
    main()
