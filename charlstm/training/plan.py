"""A training run's plan: everything decided before TensorFlow is touched.

    plan_run(corpus files, run dir, options)   charlstm.train's way in: the stored run read once,
        ├─ new_run(...)                         the corpus encoded, then a fresh run or
        └─ resumed_run(...)                     the stored run continued from its `last` checkpoint
             └─ _checked(...)                   configs validated, the text split, carry_state decided

The plan is data (`RunPlan`). `setup.TrainingSetup` turns it into devices, batches,
a model and an engine; `loop.TrainingRun` loops over them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charlstm import checkpoint as ckpt_io
from charlstm import config as config_lib
from charlstm import files
from charlstm.config import MODEL_OPTIONS, ModelConfig, TrainConfig
from charlstm.errors import CorpusError, TrainingError, UsageError
from charlstm.options import random_seed
from charlstm.text.corpus import Vocabulary
from charlstm.text.items import ItemList
from charlstm.training import dataset
from charlstm.training import resume as resume_rules
from charlstm.training.runstate import RunState


@dataclass
class Corpus:
    """The training text as the run holds it: ids, not the string.

    The caller drops the text once this exists, so a 100 MB corpus costs 100 MB of
    1-byte ids during training rather than the string, its code points and the ids.
    """

    ids: np.ndarray  # (chars,) the text as vocabulary ids, uint8 for most corpora (may be a memmap)
    vocab: Vocabulary  # sorted distinct characters; an id indexes into it
    excerpt: str  # a line start of the text: the default prime stored in checkpoints (a resumed run's: its own)
    names: tuple[str, ...] = ()  # the files it was read from ("<stdin>" for '-'), stored in checkpoints
    release: Callable[[], None] | None = None  # drop a memmap's pages from RSS (they stay in the page cache)

    def info(self) -> dict:
        """What checkpoints record of the corpus: its files and size."""
        return {"names": list(self.names), "chars": len(self.ids)}


@dataclass
class RunPlan:
    """What to learn and from where: the input of `setup.TrainingSetup` and `loop.TrainingRun`."""

    corpus: Corpus  # the whole text as ids, and its vocabulary
    model_config: ModelConfig  # validated; vocab_size is the corpus's (or the stored run's)
    config: TrainConfig  # validated; carry_state decided (True/False, never None)
    run_dir: Path  # where checkpoints go (a run owns its directory)
    state: RunState  # where the run is: fresh, or the stored run's position
    train_ids: np.ndarray  # (chars,) the head of corpus.ids
    val_ids: np.ndarray  # (chars,) the held-out tail, at most config.val_max_chars
    auto_carry: bool = False  # carry_state was chosen here from the text's size (the log says so)
    # Where the initial weights come from (setup.TrainingSetup._load_or_build): None for a
    # fresh model from the seed; else the checkpoint this run continues (weights, Adam's slots).
    resume_from: Path | None = None
    # A new fine-tune run: the start whose weights (grown to the corpus's vocabulary) replace the
    # fresh model's. Never set on resume: the resumed run continues its own weights.
    init_from: Path | None = None
    # {"name", "path", "sha256"} of a fine-tune's start, stored in every checkpoint of the run
    start_info: dict | None = None
    carried_state: list[list[np.ndarray]] | None = None  # that checkpoint's mid-epoch state, per layer (rows, units)
    # The budget's choice of layers, units and dropout (sizing.Sizing.record()), stored in every
    # checkpoint of the run and kept on resume; None: the user's or the card's sizes.
    sizing: dict | None = None
    # the chief's lock on run_dir, held from before a stored run is read until release_lock()
    lock: files.DirectoryLock | None = None
    # --items: the training and held-out items (text/items.py), and the list's record for --novel
    items: ItemList | None = None
    val_items: ItemList | None = None
    item_record: dict | None = None

    def release_lock(self) -> None:
        """Let another process train into run_dir (TrainingRun.run calls it when the run ends)."""
        if self.lock is not None:
            self.lock.release()


def plan_run(
    corpus: Sequence[str | os.PathLike],
    checkpoint_dir: str | os.PathLike | None,
    given_options: dict,
    *,
    resume: bool,
    overwrite: bool,
    log: Callable[[str], None],
) -> RunPlan:
    """charlstm.train's plan: corpus files ('-' for stdin; none: Macbeth), the run directory
    (default: checkpoints/<first file's name>), and the options the user gave explicitly
    (ModelConfig and TrainConfig fields). Resuming reads the stored run once and refuses
    conflicting options before the corpus is read.

    The chief locks the run directory before it reads anything there (a new run's, once its
    corpus has made it) and holds the lock in the plan: a second process training into the
    same directory is refused with a TrainingError instead of both rewriting its checkpoints."""
    from charlstm.text.corpus import corpus_name

    paths = corpus_paths(corpus, log)
    run_dir = Path(checkpoint_dir) if checkpoint_dir else ckpt_io.default_root() / corpus_name(paths)
    lock = _lock_run_dir(run_dir)  # None: not the chief, or the directory does not exist yet
    try:
        plan = _plan(paths, run_dir, dict(given_options), resume, overwrite)
        plan.lock = lock or _lock_run_dir(run_dir)
        if not resume and not plan.config.items and _looks_like_a_list(plan.corpus):
            log("note: this text looks like a list (one short item per line): --items trains each line as one item")
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return plan


def _lock_run_dir(run_dir: Path) -> files.DirectoryLock | None:
    from charlstm.training.tf_runtime import chief_task

    if not chief_task() or not run_dir.is_dir():  # other workers write nothing there
        return None
    lock = files.DirectoryLock(run_dir)
    if not lock.acquire():
        raise TrainingError(
            f"{run_dir} is in use by another charlstm train: wait for it to end (a stopped run writes "
            f"its last checkpoint before it exits), or choose another --checkpoint-dir"
        )
    return lock


def _plan(paths: list[str], run_dir: Path, given: dict, resume: bool, overwrite: bool) -> RunPlan:
    if given.get("seed") is None:
        given.pop("seed", None)
        if not resume:
            given["seed"] = random_seed()
    if resume:
        stored = resume_rules.stored_run(run_dir)
        config = resume_rules.resumed_config(stored, given)  # refuse conflicts before reading the corpus
        training = stored.training
        corpus = corpus_from_files(paths, run_dir, training.lowercase, stored.vocabulary, training.seed)
        return resumed_run(stored, corpus, config)
    resume_rules.check_new_run(run_dir, overwrite)
    if given.get("init_from") is not None:
        return _fine_tune_run(paths, run_dir, given)
    model_config = ModelConfig(vocab_size=0, **{k: v for k, v in given.items() if k in MODEL_OPTIONS})
    config = TrainConfig(**{k: v for k, v in given.items() if k not in MODEL_OPTIONS})
    corpus = corpus_from_files(paths, run_dir, config.lowercase, None, config.seed)
    sized = budget_sizing(given, config, len(corpus.ids))
    if sized is not None:
        model_config = dataclasses.replace(model_config, layers=sized.layers, units=sized.units, dropout=sized.dropout)
        config = dataclasses.replace(config, weight_decay=sized.weight_decay)
    return new_run(corpus, model_config, config, run_dir, sizing=sized.record() if sized else None)


# any of them given: the user sizes and regularises the network
SIZE_OPTIONS = ("units", "layers", "dropout", "input_dropout", "weight_decay", "init_from")


def budget_sizing(given: dict, config: TrainConfig, chars: int, chars_per_s: float | None = None):
    """The budget's choice of network (`sizing.choose_size`) for a new run of `chars` characters
    with `--max-time` and none of SIZE_OPTIONS given, else None. Also None on a multi-worker
    run: each worker would probe its own speed, and they must build the same model.
    `chars_per_s`: the card model's speed (None: probed here, ~0.3 s)."""
    from charlstm.training import sizing

    if config.max_time is None or any(given.get(k) is not None for k in SIZE_OPTIONS):
        return None
    if os.environ.get("TF_CONFIG"):
        return None
    train_chars = chars - int(round(chars * config.val_fraction))  # dataset.split's head
    speed = sizing.probe_chars_per_s() if chars_per_s is None else chars_per_s
    # --epochs caps the passes too: a budget the epochs end long before buys no bigger network
    budget = min(config.max_time, config.epochs * train_chars / max(speed, 1e-9))
    sized = sizing.choose_size(budget, train_chars, speed, items=config.items)
    return dataclasses.replace(sized, budget_s=config.max_time)


def _fine_tune_run(paths: list[str], run_dir: Path, given: dict) -> RunPlan:
    """A new run from `--init-from`'s weights: its architecture, its vocabulary grown by the text's."""
    from charlstm.training import finetune

    start = finetune.start_point(given["init_from"])
    model_config = finetune.inherited_model(start, given)  # the start's architecture and dropout
    config = TrainConfig(**{k: v for k, v in given.items() if k not in MODEL_OPTIONS})
    corpus = corpus_from_files(paths, run_dir, config.lowercase, start.meta.vocabulary, config.seed, grow=True)
    if given.get("learning_rate") is None:  # the rate from how well the start already predicts this text
        probe = corpus.ids[: config_lib.FINETUNE_PROBE_CHARS]
        start = dataclasses.replace(start, text_loss=finetune.text_loss(start, probe, len(corpus.vocab)))
        config = dataclasses.replace(config, learning_rate=finetune.learning_rate(start.text_loss))
    return new_run(corpus, model_config, config, run_dir, start=start)


def corpus_paths(corpus: Sequence[str | os.PathLike], log: Callable[[str], None]) -> list[str]:
    """The corpus files as strings; none given: Macbeth, fetched on first use."""
    from charlstm.catalog import fetch

    paths = [str(p) for p in corpus]
    if not paths:
        paths = [str(fetch.fetch("macbeth"))]
        log(f"no corpus given: training on {paths[0]}")
    if paths.count("-") > 1:
        raise UsageError("stdin ('-') can be given only once")
    return paths


def corpus_from_files(
    paths: list[str], run_dir: Path, lowercase: bool, vocabulary: str | None, seed: int, grow=False
) -> Corpus:
    """Streamed into a memory-mapped id file: the corpus never sits in memory as text."""
    from charlstm.text.idfile import encode_corpus

    encoded = encode_corpus(
        paths, _cache_path(run_dir), lowercase=lowercase, vocabulary=vocabulary, grow=grow, seed=seed
    )
    names = tuple("<stdin>" if p == "-" else p for p in paths)
    return Corpus(encoded.ids, encoded.vocab, encoded.excerpt, names, release=encoded.release_pages)


def _cache_path(run_dir: Path) -> Path:
    """Where the encoded corpus lives: the run directory, except for a multi-worker run's
    non-chief workers, which write nothing there (a temp folder of their own instead)."""
    from charlstm.training.tf_runtime import chief_task

    if chief_task():
        return run_dir / "corpus.ids"
    import hashlib
    import tempfile

    key = hashlib.sha256(f"{run_dir.resolve()}|{os.environ.get('TF_CONFIG')}".encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"charlstm-worker-{key}" / "corpus.ids"


def new_run(
    corpus: Corpus,
    model_config: ModelConfig,
    config: TrainConfig,
    run_dir: Path,
    start=None,
    sizing: dict | None = None,
) -> RunPlan:
    """A new run in `run_dir` (the caller has checked it may be written); `start`: a fine-tune's
    `finetune.StartPoint`, whose vocabulary `corpus` was encoded with, grown; `sizing`: the
    budget's choice of `model_config`'s sizes (`budget_sizing(...).record()`), to record."""
    if start is not None and not corpus.vocab.chars.startswith(start.meta.vocabulary):
        raise UsageError(
            "--init-from: the corpus was not encoded with the start's vocabulary, grown "
            "(charlstm.text.idfile.encode_corpus(..., vocabulary=..., grow=True))"
        )
    model_config = dataclasses.replace(model_config, vocab_size=len(corpus.vocab))
    state = RunState(budget=config.max_time)
    return _checked(
        corpus,
        model_config,
        config,
        Path(run_dir),
        state,
        init_from=start.path if start is not None else None,
        start_info=start.record() if start is not None else None,
        sizing=sizing,
    )


def resumed_run(stored: ckpt_io.CheckpointMeta, corpus: Corpus, config: TrainConfig) -> RunPlan:
    """Continue the run whose `last` checkpoint is `stored`, with `config` from
    `resume.resumed_config` (the stored one, run controls applied)."""
    if stored.vocabulary != corpus.vocab.chars:
        raise UsageError(
            "--resume: the corpus was not encoded with the checkpoint's vocabulary; "
            "encode it with that vocabulary (charlstm.text.idfile.encode_corpus(..., vocabulary=...))"
        )
    return _checked(
        dataclasses.replace(corpus, excerpt=stored.prime_excerpt),  # the run keeps the prime its checkpoints store
        stored.model,
        config,
        stored.path.parent,
        resume_rules.resumed_state(stored, config),
        resume_from=stored.path,
        carried_state=ckpt_io.load_carried_state(stored.path),
        start_info=stored.extra.get("init_from"),  # a fine-tune's start, recorded once, kept
        sizing=stored.extra.get("sizing"),  # the budget's choice of sizes, made once, kept
    )


def _checked(
    corpus: Corpus,
    model_config: ModelConfig,
    config: TrainConfig,
    run_dir: Path,
    state: RunState,
    *,
    resume_from: Path | None = None,
    carried_state: list[list[np.ndarray]] | None = None,
    init_from: Path | None = None,
    start_info: dict | None = None,
    sizing: dict | None = None,
) -> RunPlan:
    """The last decisions before TensorFlow: validate, split the text, decide carry_state."""
    config.validate()
    items = val_items = record = None
    if config.items:
        config, (items, val_items, record) = _item_config(config), _split_items(corpus, config)
        corpus = dataclasses.replace(corpus, excerpt="")  # an item model's default prime: the start of an item
        train_ids, val_ids = items.ids, val_items.ids
    else:
        train_ids, val_ids = dataset.split(corpus.ids, config.val_fraction, config.seq_length)
    auto_carry = config.carry_state is None
    if auto_carry:  # a new run; a stored config always holds the choice made at its start
        config = dataclasses.replace(config, carry_state=config_lib.auto_carry_state(len(train_ids)))
    if len(corpus.vocab) < 2:
        raise CorpusError(
            f"the text uses only one distinct character ({corpus.vocab.chars!r}); there is nothing to predict"
        )
    model_config.validate()
    val_ids = val_ids[: config.val_max_chars]  # a 10 MB tail would cost minutes per epoch
    return RunPlan(
        corpus,
        model_config,
        config,
        run_dir,
        state,
        train_ids,
        val_ids,
        auto_carry=auto_carry,
        resume_from=resume_from,
        carried_state=carried_state,
        init_from=init_from,
        start_info=start_info,
        items=items,
        val_items=val_items,
        item_record=record,
        sizing=sizing,
    )


def _item_config(config: TrainConfig) -> TrainConfig:
    """--items: every item starts from the start state, so the state is never carried between rows."""
    if config.carry_state:
        raise UsageError("--items learns each item from the start state: --carry-state does not apply, leave it out")
    return dataclasses.replace(config, carry_state=False)


def _split_items(corpus: Corpus, config: TrainConfig) -> tuple[ItemList, ItemList, dict]:
    """The list's items split (a seeded random part held out, at most val_max_chars of it), and its record."""
    from charlstm.text import items as items_lib

    every = items_lib.items_from_ids(np.asarray(corpus.ids), corpus.vocab.chars)
    train, val = items_lib.split_items(every, config.val_fraction, config.seed)
    items_lib.check_windows(every, config.seq_length)
    keep = int(np.searchsorted(np.cumsum(val.lengths + 1), config.val_max_chars, side="right"))
    val = val.subset(np.arange(max(keep, 1))) if keep < len(val) else val
    return train, val, items_lib.ItemRecord.of(every.texts(corpus.vocab.chars)).to_json()


def _looks_like_a_list(corpus: Corpus) -> bool:
    from charlstm.text.items import looks_like_a_list

    return looks_like_a_list(corpus.ids, corpus.vocab.chars)
