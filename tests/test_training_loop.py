"""The training loop: carried state, resets, exact resume (also mid-epoch), TensorBoard."""

from pathlib import Path

import numpy as np
import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.config import ModelConfig
from charlstm.training import plan as runplan
from charlstm.training import resume as resume_rules
from charlstm.training.loop import RunOptions, TrainingRun

from helpers import TINY_TEXT, interrupt_after_epoch, prepare, tiny_configs

TINY = {  # the tiny run with two layers and dropout, carried state, no early stop
    "units": 8,
    "layers": 2,
    "embedding_dim": 4,
    "dropout": 0.2,
    "batch_size": 8,
    "seed": 3,
    "patience": 0,
    "warmup_steps": 5,
    "carry_state": True,  # TINY_TEXT is far below CARRY_MIN_CHARS: the automatic choice would be windows
}


def start(run_dir: Path, cell="lstm", options=None, **train) -> TrainingRun:
    corpus = prepare(TINY_TEXT, seed=3)
    plan = runplan.new_run(corpus, *tiny_configs(**{**TINY, "cell": cell, **train}), run_dir)
    return TrainingRun(plan, options or RunOptions(progress=False, log=lambda m: None))


def resume(run_dir: Path, **given) -> TrainingRun:
    stored = resume_rules.stored_run(run_dir)
    corpus = prepare(TINY_TEXT, seed=3, vocabulary=stored.vocabulary)
    plan = runplan.resumed_run(stored, corpus, resume_rules.resumed_config(stored, given))
    return TrainingRun(plan, RunOptions(progress=False, log=lambda m: None))


def assert_same_weights(a: Path, b: Path):
    wa, wb = ckpt_io.load_weights(a), ckpt_io.load_weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        np.testing.assert_allclose(wa[k], wb[k], atol=1e-6, err_msg=k)


@pytest.mark.parametrize("cell", ["lstm", "gru", "peephole", "cifg", "rnn"])
def test_carried_state_equals_one_pass_over_the_concatenated_windows(cell):
    """Two 9-char windows with the state carried give the outputs of one 18-char pass."""
    import tensorflow as tf

    from charlstm.training import model as model_lib
    from charlstm.training.step import Engine

    config = ModelConfig(vocab_size=11, cell=cell, layers=2, units=6, embedding_dim=5, dropout=0.0)
    model = model_lib.build(config, seed=1)
    rng = np.random.default_rng(0)
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, w.shape).astype("float32"))
    engine = Engine(model, tf.distribute.get_strategy(), dropout=0.0, seed=0, clip_norm=1.0)
    ids = tf.constant(rng.integers(0, 11, size=(3, 18)), tf.int32)
    zeros = [
        [tf.zeros((3, 6)) for _ in (layer.cell.state_size if isinstance(layer.cell.state_size, list) else [0])]
        for layer in engine.rnn
    ]
    whole, final = engine._forward(ids, zeros, False, 0, 0, 3)
    first, carried = engine._forward(ids[:, :9], zeros, False, 0, 0, 3)
    second, final2 = engine._forward(ids[:, 9:], carried, False, 0, 0, 3)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-5)
    for a, b in zip(sum(final, []), sum(final2, [])):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_input_dropout_masks_the_embeddings_in_training_only_and_is_keyed_by_step():
    """--input-dropout drops elements of the embeddings (the first layer's input) during training:
    a training forward pass differs from the dropout-free one, the same step's mask twice is the
    same mask (keyed by seed and step, no RNG state), another step's differs, and evaluation
    is untouched."""
    import tensorflow as tf

    from charlstm.training import model as model_lib
    from charlstm.training.step import Engine

    config = ModelConfig(vocab_size=11, layers=1, units=6, embedding_dim=5, dropout=0.0, input_dropout=0.5)
    model = model_lib.build(config, seed=1)
    strategy = tf.distribute.get_strategy()
    plain = Engine(model, strategy, dropout=0.0, seed=0, clip_norm=1.0)
    masked = Engine(model, strategy, dropout=0.0, seed=0, clip_norm=1.0, input_dropout=0.5)
    ids = tf.constant(np.random.default_rng(0).integers(0, 11, size=(3, 9)), tf.int32)
    zeros = [[tf.zeros((3, 6)), tf.zeros((3, 6))]]

    def logits(engine, training, step):
        return engine._forward(ids, zeros, training, step, 0, 3)[0].numpy()

    np.testing.assert_allclose(logits(masked, False, 0), logits(plain, False, 0), atol=1e-6)
    np.testing.assert_allclose(logits(masked, True, 4), logits(masked, True, 4), atol=1e-6)
    assert not np.allclose(logits(masked, True, 4), logits(plain, True, 4), atol=1e-4)
    assert not np.allclose(logits(masked, True, 4), logits(masked, True, 5), atol=1e-4)


def test_state_reset_zeroes_a_seeded_fraction_of_the_rows_state_in_training_only():
    """TrainConfig.state_reset: in a training step each row starts from its carried state or,
    for a seeded fraction of the rows, from zeros; the same step draws the same rows (no RNG
    state: resume and replicas agree), evaluation never resets."""
    import tensorflow as tf

    from charlstm.training import model as model_lib
    from charlstm.training.step import Engine

    config = ModelConfig(vocab_size=11, layers=1, units=6, embedding_dim=5, dropout=0.0)
    model = model_lib.build(config, seed=1)
    strategy = tf.distribute.get_strategy()
    rows = 64
    resetting = Engine(model, strategy, dropout=0.0, seed=3, clip_norm=1.0, state_reset=0.25)
    ids = tf.constant(np.random.default_rng(0).integers(0, 11, size=(rows, 7)), tf.int32)
    carried = [[tf.constant(np.random.default_rng(1).normal(0, 1, (rows, 6)), tf.float32) for _ in range(2)]]
    zeros = [[tf.zeros((rows, 6)), tf.zeros((rows, 6))]]

    def logits(state, training, step, engine=resetting):
        return engine._forward(ids, state, training, step, 0, rows)[0].numpy()

    from_zeros, from_carried = logits(zeros, False, 0), logits(carried, False, 0)

    def reset_rows(step):
        got = logits(carried, True, step)
        zero = np.all(np.isclose(got, from_zeros, atol=1e-6), axis=(1, 2))
        kept = np.all(np.isclose(got, from_carried, atol=1e-6), axis=(1, 2))
        assert np.all(zero ^ kept)  # every row starts from one or the other
        return zero

    first = reset_rows(4)
    assert 4 <= first.sum() <= 30  # ~16 of 64
    np.testing.assert_array_equal(reset_rows(4), first)
    assert not np.array_equal(reset_rows(5), first)
    np.testing.assert_allclose(logits(carried, False, 4), from_carried, atol=1e-6)
    plain = Engine(model, strategy, dropout=0.0, seed=3, clip_norm=1.0)
    np.testing.assert_allclose(logits(carried, True, 4, plain), from_carried, atol=1e-6)


@pytest.fixture
def initial_states(monkeypatch) -> list[float]:
    """The largest |value| of the initial state each training step starts from."""
    from charlstm.training.step import Engine

    seen = []
    original = Engine.train_step

    def spy(self, batch, state, **kw):
        seen.append(max(float(np.abs(np.asarray(s)).max()) for layer in state.values for s in layer))
        return original(self, batch, state, **kw)

    monkeypatch.setattr(Engine, "train_step", spy)
    return seen


def test_state_resets_at_each_epoch_start_and_is_carried_within(tmp_path, initial_states):
    seen = initial_states
    run = start(tmp_path / "run", epochs=2)
    run.run()
    steps = run.setup.batches.steps
    assert len(seen) == 2 * steps
    assert seen[0] == 0.0 and seen[steps] == 0.0  # each epoch starts from zeros
    assert all(v > 0 for i, v in enumerate(seen) if i % steps)  # and carries within it


def test_windows_mode_starts_every_batch_from_zero(tmp_path, initial_states):
    seen = initial_states
    start(tmp_path / "run", epochs=1, carry_state=False).run()
    assert seen and set(seen) == {0.0}


def test_an_epochs_train_figure_is_the_mean_over_its_steps_not_the_last_one(tmp_path, monkeypatch):
    from charlstm.training.step import Engine

    steps = []  # (summed nats, real targets) per step
    original = Engine.train_step

    def spy(self, batch, state, **kw):
        result = original(self, batch, state, **kw)
        steps.append((result[0].loss_sum, float(np.asarray(batch[2]).sum())))
        return result

    monkeypatch.setattr(Engine, "train_step", spy)
    run = start(tmp_path / "run", epochs=2)
    run.run()
    n = run.setup.batches.steps
    history = ckpt_io.load(tmp_path / "run" / "last.keras").history
    for epoch, record in enumerate(history):
        mine = steps[epoch * n : (epoch + 1) * n]
        mean = sum(loss for loss, _ in mine) / sum(t for _, t in mine)
        assert record["train_bits_per_char"] == pytest.approx(mean / np.log(2), rel=1e-6)
        last_loss, last_targets = mine[-1]
        assert abs(mean - last_loss / last_targets) > 1e-4  # the two differ: the test can tell them apart


@pytest.mark.parametrize("min_chars, carried", [(10**9, False), (10, True)])
def test_the_automatic_choice_of_carried_state_is_made_once_and_stored(
    tmp_path, monkeypatch, initial_states, min_chars, carried
):
    """carry_state=None: streams for a text of at least CARRY_MIN_CHARS training chars,
    shuffled windows below; the choice is logged, stored, and a resume keeps it."""
    from charlstm import config

    monkeypatch.setattr(config, "CARRY_MIN_CHARS", min_chars)
    logged = []
    run = start(tmp_path / "run", epochs=1, carry_state=None, options=RunOptions(progress=False, log=logged.append))
    run.run()
    assert run.config.carry_state is carried
    assert ckpt_io.load(tmp_path / "run" / "last.keras").training.carry_state is carried
    assert any(m.startswith("training on state carried" if carried else "training on shuffled windows") for m in logged)
    assert (max(initial_states) > 0) is carried
    monkeypatch.setattr(config, "CARRY_MIN_CHARS", 10 if min_chars > 10 else 10**9)  # the rule changes later
    again = resume(tmp_path / "run", epochs=2, carry_state=None)  # None: "whatever the run chose"
    again.run()
    assert again.config.carry_state is carried


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_interrupted_at_an_epoch_end_resumes_exactly(tmp_path, schedule):
    """Linear/cosine decay depends on the planned epochs: stop a 4-epoch run after epoch 2
    (as SIGINT would), resume it, and it ends with the uninterrupted run's weights."""
    start(tmp_path / "straight", epochs=4, schedule=schedule).run()
    run = start(tmp_path / "cut", epochs=4, schedule=schedule)
    interrupt_after_epoch(run, 1)
    assert run.run().stopped == "interrupted"
    assert ckpt_io.load(tmp_path / "cut" / "last.keras").epoch == 2
    resume(tmp_path / "cut").run()
    assert_same_weights(tmp_path / "straight" / "last.keras", tmp_path / "cut" / "last.keras")
    a = ckpt_io.load(tmp_path / "straight" / "last.keras").history
    b = ckpt_io.load(tmp_path / "cut" / "last.keras").history
    assert [h["learning_rate"] for h in a] == pytest.approx([h["learning_rate"] for h in b], abs=1e-9)


def test_weight_decay_trains_with_adamw_shrinks_the_weights_and_resumes_exactly(tmp_path):
    """--weight-decay trains with Keras's AdamW (stored with the model, so a resume continues
    it), its weights end smaller than Adam's from the same start, and a run stopped after its
    first epoch and resumed ends with the uninterrupted run's weights."""
    start(tmp_path / "adam", epochs=2).run()
    start(tmp_path / "straight", epochs=2, weight_decay=1.0).run()
    run = start(tmp_path / "cut", epochs=2, weight_decay=1.0)
    interrupt_after_epoch(run, 0)
    assert run.run().stopped == "interrupted"
    assert type(run.setup.model.optimizer).__name__ == "AdamW"
    again = resume(tmp_path / "cut")
    again.run()
    assert type(again.setup.model.optimizer).__name__ == "AdamW"
    assert_same_weights(tmp_path / "straight" / "last.keras", tmp_path / "cut" / "last.keras")

    def squared_norm(run_dir):
        return sum(
            float((a.astype("float64") ** 2).sum()) for a in ckpt_io.load_weights(run_dir / "last.keras").values()
        )

    assert squared_norm(tmp_path / "straight") < 0.95 * squared_norm(tmp_path / "adam")


def test_interrupted_mid_epoch_resumes_exactly_with_the_carried_state(tmp_path):
    """Stopped after step 7 of a carried-state epoch: the checkpoint holds every row's
    state, and the resumed run ends with the uninterrupted run's weights."""
    start(tmp_path / "straight", epochs=2).run()
    run = start(tmp_path / "cut", epochs=2)
    original = run._local_stop

    def local_stop():
        if run.state.global_step == 7 and run.stop.reason is None:
            run.stop.handle(15, None)
        return original()

    run._local_stop = local_stop
    result = run.run()
    assert result.stopped == "interrupted" and result.signal == 15
    assert ckpt_io.load_carried_state(tmp_path / "cut" / "last.keras") is not None
    assert ckpt_io.load(tmp_path / "cut" / "last.keras").extra["resume"]["step"] == 8
    resume(tmp_path / "cut").run()
    assert_same_weights(tmp_path / "straight" / "last.keras", tmp_path / "cut" / "last.keras")


def test_tensorboard_scalars_are_written(tmp_path):
    logs = tmp_path / "tb"
    start(tmp_path / "run", epochs=2, options=RunOptions(progress=False, log=lambda m: None, tensorboard=logs)).run()
    events = list(logs.rglob("events.out.tfevents.*"))
    assert events, list(logs.rglob("*"))
    import tensorflow as tf

    tags = set()
    for path in events:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags.update(v.tag for v in event.summary.value)
    assert {"epoch_bits_per_char", "epoch_learning_rate", "epoch_chars_per_s"} <= tags, tags
    assert any(p.parent.name == "validation" for p in events)  # val_* scalars, in Keras's layout


def test_patience_under_a_decaying_schedule_anneals_once_then_stops(tmp_path):
    run = start(tmp_path / "run", epochs=3)
    run.state.elapsed, run.state.budget = 10.0, 300.0
    assert run._anneal(2.0) and (run.state.budget, run.state.annealed, run.state.since_best) == (14.0, True, 0)
    assert not run._anneal(2.0)  # the second time patience runs out, the run stops
    plateau = start(tmp_path / "plateau", epochs=3, schedule="plateau")
    assert not plateau._anneal(2.0)
