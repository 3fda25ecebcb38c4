"""Fine-tuning: a run that starts from another checkpoint's weights (`--init-from base|CHECKPOINT`).

    start = start_point("base")                         the start's file, metadata and sha256
    model_config = inherited_model(start, given)        its architecture and, unless given, its dropout
                                                        (a conflicting architecture option: UsageError)
    rate = learning_rate(text_loss(start, ids, size))   the rate, from how well it predicts the text
    weights = grown_weights(start_weights, vocab_size)  its arrays, with rows/columns for new characters

The vocabulary grows (`corpus.grown_vocabulary`, applied by `idfile.encode_corpus`): the
start's characters keep their ids, the text's new characters come after them; nothing is
dropped or mapped. Plain NumPy: the
set-up (`setup.TrainingSetup._load_or_build`) assigns the grown arrays to a fresh model.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm.config import FINETUNE_RATES, ModelConfig
from charlstm.errors import UsageError
from charlstm.sampler.network import EMBEDDINGS, SOFTMAX_BIAS, SOFTMAX_KERNEL

ARCHITECTURE = ("cell", "layers", "units", "embedding_dim")  # what a fine-tuned model takes from its start

# A new character starts with probability about NEW_CHAR_SHARE of the existing mass (at the
# zero hidden state): unlikely enough that the start's predictions barely move (a text of old
# characters loses ~1e-3 nats/char per new character), likely enough that its gradient is
# not vanishing. A choice, not a measurement; its kernel column starts at zero and learns.
NEW_CHAR_SHARE = 1e-3


@dataclass(frozen=True)
class StartPoint:
    """Where a fine-tune run starts: recorded in its checkpoints (`extra["init_from"]`)."""

    name: str  # what the user gave: "base", or the checkpoint's path as given
    path: Path  # the checkpoint file read
    sha256: str  # of that file
    meta: ckpt_io.CheckpointMeta  # its metadata (architecture, vocabulary)
    text_loss: float | None = None  # its nats/char on the text's start (what chose the rate), when measured

    def record(self) -> dict:
        out = {"name": self.name, "path": str(self.path), "sha256": self.sha256}
        return out | ({"text_loss": round(self.text_loss, 4)} if self.text_loss is not None else {})


def start_point(spec: str) -> StartPoint:
    """The checkpoint `--init-from` names: base, a file, or a run directory (its best)."""
    path = ckpt_io.resolve(spec)
    return StartPoint(name=spec, path=path, sha256=ckpt_io.sha256(path), meta=ckpt_io.load(path))


def text_loss(start: StartPoint, ids: np.ndarray, vocab_size: int) -> float:
    """The start's nats/char on `ids` (a text encoded with its vocabulary grown to `vocab_size`),
    state carried, as the fine-tune's first step meets it: a character new to the start costs
    about ln(1/NEW_CHAR_SHARE) = 6.9 nats, so a text in another script scores far above any English."""
    from charlstm.sampler.evaluation import nll_per_char
    from charlstm.sampler.network import Network

    weights = {k: a.astype(np.float32) for k, a in ckpt_io.load_weights(start.path).items()}
    model = dataclasses.replace(start.meta.model, vocab_size=vocab_size)
    return float(nll_per_char(Network(grown_weights(weights, vocab_size), model), ids).mean())


def learning_rate(loss: float) -> float:
    """Fine-tuning's learning rate for a text its start scores `loss` nats/char on: log-linear
    between config.FINETUNE_RATES' two ends, flat beyond them (the nearer the text is to what
    the start knows, the less its first steps should move it)."""
    (near_loss, near_rate), (far_loss, far_rate) = FINETUNE_RATES
    f = min(max((loss - near_loss) / (far_loss - near_loss), 0.0), 1.0)
    return float(near_rate * (far_rate / near_rate) ** f)


def inherited_model(start: StartPoint, given: dict) -> ModelConfig:
    """The run's ModelConfig: the start's architecture and, unless given, its dropout (vocab_size
    set later).

    An architecture option given explicitly must equal the start's (a UsageError naming both).
    Dropout is the start's because weights trained without it are hurt by it: the base trained
    with dropout 0, fine-tuned 60 s on 30K chars of unseen plays at 20% dropout, scored 1.551
    nats/char on other plays, at its own 0% 1.496 (benchmarks/RESULTS.md, run 13)."""
    for name in ARCHITECTURE:
        have = getattr(start.meta.model, name)
        if name in given and given[name] != have:
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"{flag} {given[name]} conflicts with the start's {have} (--init-from {start.name}): "
                f"a fine-tuned model keeps its start's architecture; leave {flag} out",
                param=name,
            )
    kept = {name: getattr(start.meta.model, name) for name in ARCHITECTURE}
    dropouts = {name: given.get(name, getattr(start.meta.model, name)) for name in ("dropout", "input_dropout")}
    return ModelConfig(vocab_size=0, **kept, **dropouts)


def grown_weights(weights: dict[str, np.ndarray], new_size: int) -> dict[str, np.ndarray]:
    """The start's arrays for a vocabulary grown to `new_size`; unchanged when it did not grow.

    New embedding rows: the mean of the existing rows (an input the recurrent layers have seen
    the like of, not an outlier that would jolt the state). New softmax columns: kernel zero,
    bias log(NEW_CHAR_SHARE × Σ exp(old biases)): at the zero state each new character gets
    about NEW_CHAR_SHARE of the old mass, and its zero kernel column gets a gradient h·(p − y)
    from the first step, so it is learnt like any other.
    """
    embedding, kernel, bias = weights[EMBEDDINGS], weights[SOFTMAX_KERNEL], weights[SOFTMAX_BIAS]
    added = new_size - embedding.shape[0]
    if added < 0:
        raise ValueError(f"a vocabulary only grows: {embedding.shape[0]} to {new_size}")
    if added == 0:
        return dict(weights)
    b64 = bias.astype(np.float64)
    new_bias = math.log(NEW_CHAR_SHARE) + float(b64.max() + np.log(np.exp(b64 - b64.max()).sum()))
    grown = {
        EMBEDDINGS: np.concatenate([embedding, np.repeat(embedding.mean(0, keepdims=True), added, 0)]),  # (vocab, emb)
        SOFTMAX_KERNEL: np.concatenate([kernel, np.zeros((kernel.shape[0], added), kernel.dtype)], 1),  # (units, vocab)
        SOFTMAX_BIAS: np.concatenate([bias, np.full(added, new_bias, bias.dtype)]),  # (vocab,)
    }
    return {**weights, **grown}
