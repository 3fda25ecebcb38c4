"""Fine-tuning (`--init-from`), the growing vocabulary and the `base` name, on tiny models.

The stand-in base is the session's tiny trained run (conftest `trained_run`), named
through CHARLSTM_BASE_MODEL, the test-only override of the packaged base model's file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.errors import CheckpointError, CorpusError, UsageError
from charlstm.sampler.network import EMBEDDINGS, SOFTMAX_BIAS, SOFTMAX_KERNEL, Network, load_network
from charlstm.text.corpus import grown_vocabulary
from charlstm.training import finetune
from charlstm.training import plan as runplan

from helpers import TINY_TEXT, interrupt_after_epoch, invoke, tiny_args, tiny_run

QUIET = {"log": lambda m: None}
CJK = "床前明月光，疑是地上霜。\n举头望明月，低头思故乡。\n" * 60
CJK_RUN = {
    "seq_length": 20,
    "batch_size": 4,
    "epochs": 20,
    "warmup_steps": 0,
    "seed": 5,
    "sample_every": 0,
    "patience": 0,
}
FINE = {"seq_length": 20, "batch_size": 16, "epochs": 2, "seed": 5, "sample_every": 0, "patience": 0}


@pytest.fixture
def base(trained_run, monkeypatch) -> Path:
    """The stand-in base model: `base` names it everywhere."""
    path = trained_run / ckpt_io.BEST
    monkeypatch.setenv(ckpt_io.BASE_ENV, str(path))
    return path


@pytest.fixture
def no_base(tmp_path, monkeypatch):
    """No base model (conftest already sets this for every test; said here as what the test needs)."""
    monkeypatch.setenv(ckpt_io.BASE_ENV, str(tmp_path / "absent.keras"))


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def logits_along(net: Network, ids: np.ndarray) -> np.ndarray:
    """(len(ids), vocab) logits, state carried from zero: the network's predictions on a text."""
    state, out = net.zero_state(1), []
    for i in ids:
        logits, state = net.step(np.array([i]), state)
        out.append(logits[0])
    return np.array(out)


# --- the vocabulary grows ------------------------------------------------------------------------


def test_grown_vocabulary_keeps_the_start_order_and_appends_new_characters():
    assert grown_vocabulary("ba.", "xa.é") == "ba.xé"  # not re-sorted: old ids keep their rows
    assert grown_vocabulary("ba.", "ab") == "ba."  # characters the text lacks stay


def test_grown_weights_keep_old_rows_bit_identical_and_add_unlikely_learnable_ones(base):
    weights = ckpt_io.load_weights(base)
    old = weights[EMBEDDINGS].shape[0]
    grown = finetune.grown_weights(weights, old + 3)
    assert grown[EMBEDDINGS].shape[0] == old + 3 and grown[SOFTMAX_KERNEL].shape[1] == old + 3
    assert np.array_equal(grown[EMBEDDINGS][:old], weights[EMBEDDINGS])
    assert np.array_equal(grown[SOFTMAX_KERNEL][:, :old], weights[SOFTMAX_KERNEL])
    assert np.array_equal(grown[SOFTMAX_BIAS][:old], weights[SOFTMAX_BIAS])
    assert np.allclose(grown[EMBEDDINGS][old:], weights[EMBEDDINGS].mean(0))
    assert not grown[SOFTMAX_KERNEL][:, old:].any()
    for name in weights:
        if name not in (EMBEDDINGS, SOFTMAX_KERNEL, SOFTMAX_BIAS):
            assert np.array_equal(grown[name], weights[name]), name
    # at the zero state a new character holds about NEW_CHAR_SHARE of the old mass
    b = grown[SOFTMAX_BIAS].astype(np.float64)
    share = np.exp(b[old]) / np.exp(b[:old]).sum()
    assert share == pytest.approx(finetune.NEW_CHAR_SHARE, rel=1e-4)
    same = finetune.grown_weights(weights, old)
    assert all(same[k] is weights[k] for k in weights)


def test_encode_corpus_grows_for_a_start_and_still_refuses_for_a_resume(tmp_path):
    from charlstm.text.idfile import encode_corpus

    text = write(tmp_path, "t.txt", "abc é中\n" * 20)
    start = "cba\n"
    grown = encode_corpus([str(text)], tmp_path / "g.ids", vocabulary=start, grow=True)
    assert grown.vocab.chars == start + " é中"
    assert grown.vocab.decode(grown.ids) == "abc é中\n" * 20  # nothing dropped or mapped
    again = encode_corpus([str(text)], tmp_path / "g.ids", vocabulary=start, grow=True)
    assert again.reused and again.vocab.chars == grown.vocab.chars
    with pytest.raises(CorpusError, match="lacks"):
        encode_corpus([str(text)], tmp_path / "g.ids", vocabulary=start)


def plan_for(tmp_path: Path, text: str, run="ft", **given) -> runplan.RunPlan:
    """The plan of a fine-tune from `base` on `text` (written to tmp_path/<run>.txt), run dir tmp_path/<run>."""
    corpus = write(tmp_path, f"{run}.txt", text)
    return runplan.plan_run(
        [corpus], tmp_path / run, {"init_from": "base", **FINE, **given}, resume=False, overwrite=False, **QUIET
    )


def setup_for(tmp_path: Path, text: str, run="ft", **given):
    """(plan, TrainingSetup) of a fine-tune from `base` on `text`: the model before its first step."""
    from charlstm.training.setup import RunOptions, TrainingSetup

    plan = plan_for(tmp_path, text, run, **given)
    return plan, TrainingSetup(plan, RunOptions(progress=False, **QUIET))


def test_a_text_inside_the_start_vocabulary_gives_exactly_the_start_probabilities(tmp_path, base):
    from charlstm.training import model as model_lib

    _, start = load_network(base)
    plan, setup = setup_for(tmp_path, TINY_TEXT[:400])
    assert plan.corpus.vocab.chars == ckpt_io.load(base).vocabulary
    net = Network(model_lib.named_weights(setup.model), plan.model_config)
    ids = plan.corpus.ids[:60]
    assert np.array_equal(logits_along(net, ids), logits_along(start, ids))


def test_new_characters_leave_the_old_logits_bit_identical(tmp_path, base):
    from charlstm.training import model as model_lib

    _, start = load_network(base)
    plan, setup = setup_for(tmp_path, TINY_TEXT[:400] + "Ωé\n")
    old = len(ckpt_io.load(base).vocabulary)
    assert plan.corpus.vocab.chars[old:] == "éΩ" and plan.model_config.vocab_size == old + 2
    net = Network(model_lib.named_weights(setup.model), plan.model_config)
    ids = plan.corpus.ids[:60]
    new, was = logits_along(net, ids), logits_along(start, ids)
    assert np.array_equal(new[:, :old], was)
    probs = np.exp(new - new.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    assert probs[:, old:].max() < 0.05  # unlikely at first


# --- a fine-tune run -----------------------------------------------------------------------------


def test_a_cjk_text_fine_tuned_from_the_base_learns_and_generates_its_characters(tmp_path, base):
    import keras

    import charlstm

    corpus = write(tmp_path, "poem.txt", CJK)
    result = charlstm.train(corpus, checkpoint_dir=tmp_path / "poem", init_from="base", verbose=False, **CJK_RUN)
    meta = ckpt_io.load(result.checkpoint)
    start_vocab = ckpt_io.load(base).vocabulary
    assert meta.vocabulary.startswith(start_vocab) and set(CJK) <= set(meta.vocabulary)
    recorded = {**meta.extra["init_from"]}
    assert recorded.pop("text_loss") > 3.0  # its characters are all new to the start: the far rate
    assert recorded == {"name": "base", "path": str(base), "sha256": ckpt_io.sha256(base)}
    assert meta.training.init_from == "base" and meta.model.units == 16
    text = charlstm.load(result.checkpoint).generate(prime="床前", length=200, seed=1, echo_prime=False)
    new_chars = set(CJK) - set(start_vocab)
    assert sum(c in new_chars for c in text) > 100, text
    model = keras.saving.load_model(result.checkpoint)  # plain Keras opens it
    assert model.output_shape == (None, None, len(meta.vocabulary))


def test_info_shows_where_the_run_started(tmp_path, base, runner):
    from charlstm.training.loop import TrainingRun
    from charlstm.training.setup import RunOptions

    TrainingRun(plan_for(tmp_path, TINY_TEXT[:600], epochs=1), RunOptions(progress=False, **QUIET)).run()
    last = tmp_path / "ft" / ckpt_io.LAST
    shown = invoke(runner, "info", "-c", last)
    assert shown.exit_code == 0 and f"started from: base ({base}, sha256 {ckpt_io.sha256(base)})" in shown.stdout
    data = json.loads(invoke(runner, "info", "-c", last, "--json").stdout)
    assert data["init_from"]["sha256"] == ckpt_io.sha256(base)


@pytest.mark.parametrize(
    "field,value,have", [("units", 32, 16), ("layers", 2, 1), ("cell", "gru", "lstm"), ("embedding_dim", 4, 8)]
)
def test_a_conflicting_architecture_option_is_refused_naming_both(tmp_path, base, runner, field, value, have):
    import charlstm

    flag = field.replace("_", "-")
    corpus = write(tmp_path, "t.txt", TINY_TEXT)
    with pytest.raises(UsageError, match=f"--{flag} {value} conflicts with the start's {have}"):
        charlstm.train(corpus, checkpoint_dir=tmp_path / "api", init_from="base", verbose=False, **{field: value})
    args = [f"--{flag}", value, "--epochs", 1, "--quiet"]
    done = invoke(runner, "train", corpus, "--checkpoint-dir", tmp_path / "cli", "--init-from", "base", *args)
    assert done.exit_code == 2, done.output
    assert done.stderr.count("\n") == 1 and f"--{flag} {value} conflicts with the start's {have}" in done.stderr


def test_equal_architecture_options_are_fine(tmp_path, base):
    corpus = write(tmp_path, "t.txt", TINY_TEXT)
    given = {"init_from": "base", "units": 16, "layers": 1, "cell": "lstm", "embedding_dim": 8, "dropout": 0.1}
    plan = runplan.plan_run([corpus], tmp_path / "r", given, resume=False, overwrite=False, **QUIET)
    assert (plan.model_config.units, plan.model_config.dropout) == (16, 0.1)
    assert plan.init_from == base and plan.start_info["name"] == "base"


def test_a_fine_tune_keeps_the_starts_dropout_unless_given(base):
    """The bundled base trained without dropout; training's default (0.2) would apply it anyway."""
    import dataclasses

    from charlstm.config import ModelConfig

    start = finetune.start_point("base")
    for dropout in (0.0, 0.35):  # neither is ModelConfig's default, so the test tells them apart
        assert dropout != ModelConfig.dropout
        meta = dataclasses.replace(start.meta, model=dataclasses.replace(start.meta.model, dropout=dropout))
        other = dataclasses.replace(start, meta=meta)
        assert finetune.inherited_model(other, {}).dropout == dropout
        assert finetune.inherited_model(other, {"dropout": 0.1}).dropout == 0.1  # a given value wins
    assert finetune.inherited_model(start, {}).input_dropout == 0.0  # a start from before --input-dropout
    item_start = dataclasses.replace(start.meta.model, input_dropout=0.35)  # an item model's start
    other = dataclasses.replace(start, meta=dataclasses.replace(start.meta, model=item_start))
    assert finetune.inherited_model(other, {}).input_dropout == 0.35
    assert finetune.inherited_model(other, {"input_dropout": 0.0}).input_dropout == 0.0


def test_the_rate_runs_log_linear_between_the_measured_ends_and_is_flat_beyond():
    from charlstm.config import FINETUNE_RATES

    (near_loss, near_rate), (far_loss, far_rate) = FINETUNE_RATES
    assert near_loss < far_loss and near_rate < far_rate
    assert finetune.learning_rate(0.0) == finetune.learning_rate(near_loss) == pytest.approx(near_rate)
    assert finetune.learning_rate(50.0) == finetune.learning_rate(far_loss) == pytest.approx(far_rate)
    middle = finetune.learning_rate((near_loss + far_loss) / 2)
    assert middle == pytest.approx((near_rate * far_rate) ** 0.5)  # the geometric mean, half-way
    losses = np.linspace(near_loss - 1, far_loss + 1, 50)
    assert np.all(np.diff([finetune.learning_rate(x) for x in losses]) >= 0)


def test_the_rate_is_chosen_from_the_starts_loss_on_the_text_unless_given(tmp_path, base, runner):
    """The start's loss is measured as `charlstm eval` would score the text's start with it."""
    import charlstm
    from charlstm.config import FINETUNE_PROBE_CHARS, TrainConfig

    corpus = write(tmp_path, "t.txt", TINY_TEXT)
    tuned = runplan.plan_run([corpus], tmp_path / "a", {"init_from": "base"}, resume=False, overwrite=False, **QUIET)
    loss = tuned.start_info["text_loss"]
    probe = tuned.corpus.vocab.decode(tuned.corpus.ids[:FINETUNE_PROBE_CHARS])
    assert loss == pytest.approx(charlstm.load("base").evaluate(text=probe)["nats_per_char"], abs=1e-4)
    assert tuned.config.learning_rate == pytest.approx(finetune.learning_rate(loss), rel=1e-3)  # loss: rounded
    given = {"init_from": "base", "learning_rate": 0.02}
    mine = runplan.plan_run([corpus], tmp_path / "b", given, resume=False, overwrite=False, **QUIET)
    assert mine.config.learning_rate == 0.02 and "text_loss" not in mine.start_info
    scratch = runplan.plan_run([corpus], tmp_path / "c", {}, resume=False, overwrite=False, **QUIET)
    assert scratch.config.learning_rate == TrainConfig.learning_rate
    done = invoke(runner, "train", corpus, "--checkpoint-dir", tmp_path / "cli", "--init-from", "base", *tiny_args())
    assert done.exit_code == 0, done.output
    assert f"scores {loss:.3f} nats/char on the text's start" in done.stderr
    best = ckpt_io.load(tmp_path / "cli" / ckpt_io.BEST)
    assert best.training.learning_rate == pytest.approx(tuned.config.learning_rate)
    assert best.extra["init_from"]["text_loss"] == pytest.approx(loss, abs=1e-4)
    info = invoke(runner, "info", "-c", tmp_path / "cli")
    assert info.exit_code == 0 and f"which scored {best.extra['init_from']['text_loss']:.3f} nats/char" in info.output


def test_a_text_in_a_script_new_to_the_start_gets_the_far_rate(tmp_path, base):
    """Every character new to it costs ~ln(1/NEW_CHAR_SHARE) = 6.9 nats: beyond the far end."""
    from charlstm.config import FINETUNE_RATES

    plan = plan_for(tmp_path, CJK)
    assert plan.start_info["text_loss"] > FINETUNE_RATES[1][0]
    assert plan.config.learning_rate == pytest.approx(FINETUNE_RATES[1][1])


def test_an_interrupted_and_resumed_fine_tune_ends_with_the_straight_runs_weights(tmp_path, base):
    from charlstm.training.loop import TrainingRun
    from charlstm.training.setup import RunOptions

    options = RunOptions(progress=False, **QUIET)
    text = TINY_TEXT[:1500] + "Ωé\n"
    TrainingRun(plan_for(tmp_path, text, run="straight", epochs=3), options).run()
    run = TrainingRun(plan_for(tmp_path, text, run="cut", epochs=3), options)
    interrupt_after_epoch(run, 0)
    assert run.run().stopped == "interrupted"
    corpus = tmp_path / "cut.txt"
    given = {"init_from": "base"}  # given again: the stored run keeps it, and it is not re-applied
    resumed = runplan.plan_run([corpus], tmp_path / "cut", given, resume=True, overwrite=False, **QUIET)
    assert resumed.init_from is None and resumed.start_info["sha256"] == ckpt_io.sha256(base)
    TrainingRun(resumed, options).run()
    a = ckpt_io.load_weights(tmp_path / "straight" / ckpt_io.LAST)
    b = ckpt_io.load_weights(tmp_path / "cut" / ckpt_io.LAST)
    for k in a:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6, err_msg=k)
    assert ckpt_io.load(tmp_path / "cut" / ckpt_io.LAST).extra["init_from"]["name"] == "base"


# --- the name `base` -------------------------------------------------------------------------------


def test_generate_with_no_run_uses_the_base_and_says_so_in_one_line(base, runner):
    done = invoke(runner, "generate", "--prime", "the ", "--length", "30", "--seed", "1")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("the ") and len(done.stdout) == len("the ") + 30 + 1
    assert done.stderr.count("\n") == 1
    assert "bundled base model" in done.stderr and "charlstm train" in done.stderr
    same = invoke(runner, "generate", "-c", "base", "--prime", "the ", "--length", "30", "--seed", "1")
    assert same.stdout == done.stdout and same.stderr == ""
    shown = invoke(runner, "info", "-c", "base")
    assert shown.exit_code == 0 and f"checkpoint:   {base}" in shown.stdout


def test_base_names_the_bundled_model_in_the_api(base):
    import charlstm

    assert charlstm.load("base").path == base


def test_with_no_base_bundled_the_name_is_a_clear_error_and_generate_keeps_todays(no_base, runner, tmp_path):
    import charlstm

    with pytest.raises(CheckpointError, match="this build carries no base model: "):
        charlstm.load("base")
    done = invoke(runner, "generate", "-c", "base")
    assert done.exit_code == 1 and done.stderr.startswith("Error: this build carries no base model: ")
    done = invoke(runner, "generate")
    assert done.exit_code == 1 and "no checkpoints under" in done.stderr
    corpus = write(tmp_path, "t.txt", TINY_TEXT)
    done = invoke(runner, "train", corpus, "--init-from", "base", *tiny_args())
    assert done.exit_code == 1 and done.stderr.count("\n") == 1 and "no base model" in done.stderr


def test_init_from_a_run_directory_records_its_path(tmp_path, trained_run):
    corpus = write(tmp_path, "t.txt", TINY_TEXT)
    given = {"init_from": str(trained_run), **tiny_run(units=None, layers=None, embedding_dim=None)}
    plan = runplan.plan_run([corpus], tmp_path / "r", given, resume=False, overwrite=False, **QUIET)
    assert plan.start_info["name"] == str(trained_run) and plan.init_from == trained_run / ckpt_io.BEST
