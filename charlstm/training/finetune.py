"""Fine-tuning: a run that starts from another checkpoint's weights (`--init-from base|CHECKPOINT`).

    start = start_point("base")                         the start's file, metadata and sha256
    model_config = inherited_model(start, given)        its architecture (a conflicting option: UsageError)
    weights = grown_weights(start_weights, vocab_size)  its arrays, with rows/columns for new characters

The vocabulary grows (`corpus.grown_vocabulary`, applied by `idfile.encode_corpus`): the
start's characters keep their ids, the text's new characters come after them; nothing is
dropped or mapped. Plain NumPy: the
set-up (`setup.TrainingSetup._load_or_build`) assigns the grown arrays to a fresh model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm.config import ModelConfig
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

    def record(self) -> dict:
        return {"name": self.name, "path": str(self.path), "sha256": self.sha256}


def start_point(spec: str) -> StartPoint:
    """The checkpoint `--init-from` names: base, a file, or a run directory (its best)."""
    path = ckpt_io.resolve(spec)
    return StartPoint(name=spec, path=path, sha256=ckpt_io.sha256(path), meta=ckpt_io.load(path))


def inherited_model(start: StartPoint, given: dict) -> ModelConfig:
    """The run's ModelConfig: the start's architecture, the given dropout (vocab_size set later).

    An architecture option given explicitly must equal the start's (a UsageError naming both)."""
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
    extra = {k: v for k, v in given.items() if k == "dropout"}
    return ModelConfig(vocab_size=0, **kept, **extra)


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
