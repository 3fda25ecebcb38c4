"""Issue 44: the budget sizes the network, a decay restarts from the best weights, the final
model is the best checkpoint scored on the whole held-out tail, resume stays exact."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.training import plan as runplan
from charlstm.training import resume as resume_rules
from charlstm.training import sizing
from charlstm.training.loop import RunOptions, TrainingRun
from charlstm.training.sizing import CARD, SIZES, SMALL_CARD_EPOCHS, Size, choose_size

from helpers import TINY_TEXT, interrupt_after_epoch, invoke, prepare, tiny_configs, tiny_run

WINDOWS = {  # a tiny run on shuffled windows, no early stop: every epoch is judged, none stops the run
    "units": 8,
    "layers": 1,
    "embedding_dim": 4,
    "batch_size": 8,
    "seed": 3,
    "patience": 0,
    "warmup_steps": 2,
    "carry_state": False,
    "sample_every": 0,
}
LOG = RunOptions(progress=False, log=lambda m: None)


def start(run_dir: Path, **train) -> TrainingRun:
    plan = runplan.new_run(prepare(TINY_TEXT, seed=3), *tiny_configs(**{**WINDOWS, **train}), run_dir)
    return TrainingRun(plan, LOG)


def resume(run_dir: Path) -> TrainingRun:
    stored = resume_rules.stored_run(run_dir)
    corpus = prepare(TINY_TEXT, seed=3, vocabulary=stored.vocabulary)
    return TrainingRun(runplan.resumed_run(stored, corpus, resume_rules.resumed_config(stored, {})), LOG)


def scripted_validation(monkeypatch, nats_by_epoch: list[float]) -> None:
    """Every run's validation returns nats_by_epoch[epoch]: the epochs that improve are chosen."""
    original = TrainingRun._end_epoch

    def end_epoch(self, epoch, *args):
        self.setup.engine.evaluate = lambda batches, carry_state: nats_by_epoch[epoch]
        original(self, epoch, *args)

    monkeypatch.setattr(TrainingRun, "_end_epoch", end_epoch)


def weights(path: Path) -> dict:
    return ckpt_io.load_weights(path)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


# --- restarting from the best weights -------------------------------------------------------


def test_an_epoch_that_does_not_improve_restarts_from_the_best_weights(tmp_path, monkeypatch):
    """Validation 2.0, 1.0, 1.5: epoch 3 does not improve, so the rate is decayed and the
    weights go back to epoch 2's (best.keras), which `last` then holds for a resume."""
    scripted_validation(monkeypatch, [2.0, 1.0, 1.5])
    epoch_2 = {}
    run = start(tmp_path / "run", epochs=3)
    original = run._save

    def save(improved, carried_state):
        original(improved, carried_state)
        if run.state.epoch == 2:
            epoch_2.update(weights(tmp_path / "run" / "last.keras"))

    run._save = save
    result = run.run()
    last, best = weights(tmp_path / "run" / "last.keras"), weights(tmp_path / "run" / "best.keras")
    assert same(best, epoch_2)  # the best epoch is the second
    assert same(last, best)  # the third epoch's weights were thrown away for the best ones
    assert run.state.plateau_scale == pytest.approx(0.5)
    assert result.checkpoint == tmp_path / "run" / "best.keras"
    assert result.val_bits_per_char == pytest.approx(1.0 / math.log(2))


def test_an_improving_run_is_never_restored(tmp_path, monkeypatch):
    scripted_validation(monkeypatch, [2.0, 1.5, 1.0])
    run = start(tmp_path / "run", epochs=3)
    restores = []
    run._restore_best = lambda: restores.append(run.state.epoch)
    run.run()
    assert restores == []  # no decay, and the last epoch's weights are the best: nothing to read back


def test_a_resume_across_a_restore_continues_the_uninterrupted_run_exactly(tmp_path, monkeypatch):
    """The straight run restores epoch 2's weights from memory at epoch 3; the run cut after
    epoch 2 and resumed restores them from its best.keras: the same weights at the end."""
    scripted_validation(monkeypatch, [2.0, 1.0, 1.5, 0.9])
    start(tmp_path / "straight", epochs=4).run()
    cut = start(tmp_path / "cut", epochs=4)
    interrupt_after_epoch(cut, 1)
    assert cut.run().stopped == "interrupted"
    again = resume(tmp_path / "cut")
    assert again.best_weights is None  # nothing in memory: epoch 3's restore reads best.keras
    again.run()
    for name in ("last.keras", "best.keras"):
        assert same(weights(tmp_path / "straight" / name), weights(tmp_path / "cut" / name)), name


# --- validating on the tail's head, scoring the whole tail once -----------------------------


def naive_windows_nats(path: Path, val_ids: np.ndarray, seq_length: int) -> float:
    """Windows of `seq_length` targets in text order, each from a zero state, in NumPy."""
    from charlstm.sampler.evaluation import nll_per_char
    from charlstm.sampler.network import load_network

    _, net = load_network(path)
    nll = [nll_per_char(net, val_ids[s : s + seq_length + 1]) for s in range(0, len(val_ids) - 1, seq_length)]
    return float(np.concatenate(nll).mean())


def test_the_run_validates_on_the_tails_head_and_scores_the_best_weights_on_the_whole_tail(tmp_path):
    run = start(tmp_path / "run", epochs=3, val_run_chars=120, patience=0)
    result = run.run()
    val_ids = run.plan.val_ids
    assert len(val_ids) > 120 and {h["val_chars"] for h in run.state.history} == {120}
    best = tmp_path / "run" / "best.keras"
    expected = naive_windows_nats(best, np.asarray(val_ids), run.config.seq_length) / math.log(2)
    final = ckpt_io.load(best).extra["final"]
    assert final["val_chars"] == len(val_ids) == result.val_chars
    assert final["val_bits_per_char"] == pytest.approx(expected, abs=1e-4)
    assert result.val_bits_per_char == pytest.approx(expected, abs=1e-4)
    assert ckpt_io.load(tmp_path / "run" / "last.keras").extra["final"] == final
    # the best epoch is chosen on the head: its record's figure is the smallest there
    head = [h["val_bits_per_char"] for h in run.state.history]
    assert final["epoch"] == run.state.history[int(np.argmin(head))]["epoch"]


def test_an_interrupted_run_is_not_scored_again(tmp_path):
    run = start(tmp_path / "run", epochs=3, val_run_chars=120)
    interrupt_after_epoch(run, 0)
    result = run.run()
    assert result.stopped == "interrupted" and "final" not in ckpt_io.load(tmp_path / "run" / "best.keras").extra
    assert result.val_chars == 120  # the head's figure, said so


# --- the rule -------------------------------------------------------------------------------


def params(size: Size, vocab: int = 65, emb: int = 64) -> int:
    total, width = 0, emb
    for _ in range(size.layers):
        total += 4 * size.units * (width + size.units + 1)
        width = size.units
    return total + size.units * vocab + vocab + vocab * emb


@pytest.mark.parametrize(
    ("budget", "chars", "speed", "expected"),
    [
        (1800, 1_003_854, 32_000, Size(2, 512, 0.35)),  # tinyshakespeare, 30 min, machine C: measured
        (180, 1_003_854, 32_000, CARD),  # 3 min on machine C (5.7 card epochs): the card (measured)
        (180, 1_003_854, 14_000, Size(2, 300, 0.0)),  # 3 min on machine G (2.5): no dropout (measured)
        (600, 1_003_854, 15_800, CARD),  # 10 min on the 2-core Intel: 9 card epochs
        (1800, 93_000, 32_000, CARD),  # lowercased Macbeth: never bigger, whatever the budget
        (36_000, 93_000, 100_000, CARD),
        (1800, 5_000_000, 32_000, CARD),  # 11.5 card epochs of a 5M text: the card still learns
    ],
)
def test_the_rule_table(budget, chars, speed, expected):
    got = choose_size(budget, chars, speed)
    assert got.size == expected
    assert got.card_epochs == pytest.approx(budget * speed / chars)


def test_the_rule_never_shrinks_the_network_as_the_budget_grows():
    for chars in (10_000, 93_000, 300_000, 500_000, 1_000_000, 5_000_000, 50_000_000):
        sizes = [choose_size(b, chars, 20_000).size for b in np.geomspace(10, 10**6, 60)]
        counts = [params(s) for s in sizes]
        assert counts == sorted(counts), chars


def test_the_rule_never_sizes_beyond_what_the_text_can_feed():
    """No row above the card for a text under its least training chars, and every row's
    least chars holds at least a third of a character per parameter (2×512: 3.4M for 500K+)."""
    assert SIZES[-2:] == ((0, SMALL_CARD_EPOCHS, CARD), (0, 0.0, Size(2, 300, 0.0)))  # on any text
    for least_chars, _, size in SIZES[:-2]:
        assert least_chars >= params(size) / 7
        assert choose_size(1e9, least_chars - 1, 1e9).size != size
    assert choose_size(1e9, 100_000, 1e9).size == CARD  # a 100K text: Macbeth's size


def test_the_reason_says_what_was_chosen_and_how_to_choose_instead():
    reason = choose_size(1800, 1_100_000, 12_000).reason
    assert reason.startswith("2×300, dropout 0.2: chosen for 30 min on 1.1M training chars at ~12K chars/s")
    assert "--units" in reason and "--dropout" in reason


def test_the_probe_converts_one_cores_matmul_rate_to_the_cards_chars_per_s(monkeypatch):
    monkeypatch.setattr(sizing, "core_flops", lambda seconds: 89e9)
    monkeypatch.setattr(sizing, "cores", lambda: 2)
    # the card: 2 × (4·300 × (64 + 300) + 4·300 × (300 + 300)) + 300 × 65 multiply-adds a char, ×2, ×3
    flops = 3 * 2 * (4 * 300 * (64 + 300) + 4 * 300 * (300 + 300) + 300 * 65)
    assert sizing.card_flops_per_char() == flops
    assert sizing.probe_chars_per_s() == pytest.approx(sizing.PROBE_EFFICIENCY * 2 * 89e9 / flops)
    assert math.isfinite(sizing.core_flops(0.01)) and sizing.core_flops(0.01) > 0


# --- the rule applied: CLI, API, resume --------------------------------------------------------


@pytest.fixture
def tiny_rule(monkeypatch):
    """A rule that sizes the tiny text 1×12 with dropout 0.1 (the real table gives it the card),
    at a fixed probed speed: the plumbing is tested, not the table."""
    monkeypatch.setattr(sizing, "SIZES", ((0, 0.0, Size(1, 12, 0.1)),))
    monkeypatch.setattr(sizing, "probe_chars_per_s", lambda seconds=0: 5_000.0)


def sized_args(**changes) -> dict:
    return tiny_run(**{"units": None, "layers": None, "epochs": 1, "max_time": 30, **changes})


def test_max_time_alone_sizes_the_network_says_so_and_stores_it(tiny_rule, tiny_corpus, tmp_path):
    import charlstm

    logs = []
    result = charlstm.train(tiny_corpus, checkpoint_dir=tmp_path / "ck", log=logs.append, **sized_args())
    meta = ckpt_io.load(result.checkpoint)
    assert (meta.model.layers, meta.model.units, meta.model.dropout) == (1, 12, 0.1)
    sized = meta.extra["sizing"]
    assert (sized["layers"], sized["units"], sized["dropout"], sized["chars_per_s"]) == (1, 12, 0.1, 5000)
    assert sum(line == sized["reason"] for line in logs) == 1  # printed once, at the start
    assert sized["reason"].startswith("1×12, dropout 0.1: chosen for 30 s on ")
    assert charlstm.load(result.checkpoint, lazy=True).info["sizing"] == sized


def test_info_shows_the_choice(tiny_rule, runner, tiny_corpus, tmp_path):
    args = [tiny_corpus, "--checkpoint-dir", tmp_path / "ck", "--quiet", "--max-time", "30", "--epochs", "1"]
    args += ["--embedding-dim", "8", "--seq-length", "20", "--batch-size", "16", "--seed", "7", "--sample-every", "0"]
    result = invoke(runner, "train", *args)
    assert result.exit_code == 0, result.output
    shown = invoke(runner, "info", "-c", tmp_path / "ck")
    assert "sized by:     --max-time: 1×12, dropout 0.1: chosen for 30 s" in shown.output, shown.output
    assert "final val:" in shown.output


@pytest.mark.parametrize("given", [{"units": 16}, {"layers": 1}, {"dropout": 0.3}, {"input_dropout": 0.1}])
def test_any_size_option_given_keeps_the_users_network(tiny_rule, tiny_corpus, tmp_path, given):
    import charlstm

    result = charlstm.train(tiny_corpus, checkpoint_dir=tmp_path / "ck", verbose=False, **sized_args(**given))
    meta = ckpt_io.load(result.checkpoint)
    assert "sizing" not in meta.extra
    assert (meta.model.layers, meta.model.units, meta.model.dropout) == (
        given.get("layers", 2),
        given.get("units", 300),
        given.get("dropout", 0.2),
    )
    assert meta.model.input_dropout == given.get("input_dropout", 0.0)


def test_the_cli_passes_only_typed_size_options(tiny_rule, runner, tiny_corpus, tmp_path):
    args = [tiny_corpus, "--checkpoint-dir", tmp_path / "ck", "--quiet", "--max-time", "30", "--epochs", "1"]
    args += ["--units", "10", "--layers", "1", "--seq-length", "20", "--batch-size", "16", "--sample-every", "0"]
    assert invoke(runner, "train", *args).exit_code == 0
    meta = ckpt_io.load(tmp_path / "ck" / "best.keras")
    assert (meta.model.units, meta.model.dropout) == (10, 0.2) and "sizing" not in meta.extra


def test_without_max_time_the_card_stays(tiny_rule, tiny_corpus, tmp_path):
    import charlstm

    run = tiny_run(units=None, layers=None, epochs=1)
    meta = ckpt_io.load(charlstm.train(tiny_corpus, checkpoint_dir=tmp_path / "ck", verbose=False, **run).checkpoint)
    assert (meta.model.layers, meta.model.units, meta.model.dropout) == (2, 300, 0.2)
    assert "sizing" not in meta.extra


def test_resume_with_max_time_keeps_the_sizes_of_the_run_it_resumes(tiny_rule, tiny_corpus, tmp_path, monkeypatch):
    import charlstm

    charlstm.train(tiny_corpus, checkpoint_dir=tmp_path / "ck", verbose=False, **sized_args())
    first = ckpt_io.load(tmp_path / "ck" / "last.keras").extra["sizing"]
    monkeypatch.setattr(sizing, "SIZES", ((0, 0.0, Size(1, 20, 0.3)),))  # the rule would now choose otherwise
    charlstm.train(tiny_corpus, checkpoint_dir=tmp_path / "ck", resume=True, verbose=False, max_time=30, epochs=2)
    meta = ckpt_io.load(tmp_path / "ck" / "last.keras")
    assert meta.epoch == 2
    assert (meta.model.layers, meta.model.units, meta.model.dropout) == (1, 12, 0.1)
    assert meta.extra["sizing"] == first


def test_budget_sizing_applies_to_max_time_alone_capped_by_epochs_and_not_multi_worker(monkeypatch):
    from charlstm.config import TrainConfig

    config = TrainConfig(max_time=1800.0)
    assert runplan.budget_sizing({}, config, 1_115_394, chars_per_s=32_000).size == Size(2, 512, 0.35)
    assert runplan.budget_sizing({"units": 300}, config, 1_115_394, chars_per_s=32_000) is None
    assert runplan.budget_sizing({"init_from": "base"}, config, 1_115_394, chars_per_s=32_000) is None
    assert runplan.budget_sizing({}, TrainConfig(), 1_115_394, chars_per_s=32_000) is None
    capped = runplan.budget_sizing({}, TrainConfig(max_time=1800.0, epochs=10), 1_115_394, chars_per_s=32_000)
    assert capped.size == CARD and capped.card_epochs == pytest.approx(10)  # --epochs ends it first
    assert capped.budget_s == 1800.0
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {}, "task": {}}')
    assert runplan.budget_sizing({}, config, 1_115_394, chars_per_s=32_000) is None


def test_update_extra_changes_the_metadata_only(trained_run, tmp_path):
    import shutil
    import zipfile

    path = tmp_path / "last.keras"
    shutil.copyfile(trained_run / "last.keras", path)
    before = ckpt_io.load(path)
    ckpt_io.update_extra(path, final={"val_bits_per_char": 1.5, "val_chars": 10})
    after = ckpt_io.load(path)
    assert after.extra == before.extra | {"final": {"val_bits_per_char": 1.5, "val_chars": 10}}
    assert (after.history, after.model, after.training) == (before.history, before.model, before.training)
    with zipfile.ZipFile(trained_run / "last.keras") as a, zipfile.ZipFile(path) as b:
        assert sorted(a.namelist()) == sorted(b.namelist())
        for name in a.namelist():
            if name != ckpt_io.META_NAME:
                assert a.read(name) == b.read(name), name


def test_runs_from_before_the_head_validation_keep_validating_on_the_whole_tail():
    from charlstm.config import VAL_RUN_CHARS, TrainConfig, from_dict

    assert TrainConfig().val_run_chars == VAL_RUN_CHARS
    assert from_dict(TrainConfig, {}).val_run_chars is None  # a stored run without the field: its best is whole-tail
    assert from_dict(TrainConfig, {"val_run_chars": 500}).val_run_chars == 500


def test_an_item_list_gets_a_small_network_on_a_short_budget_and_a_regularised_2x300_on_a_long_one():
    """--items has its own rows (sizing.ITEM_SIZES): makemore's 220K chars of names at 60 s on one
    core (2.2 card epochs) trained best as 2×128 without dropout, at 300 s (10.9) as a 2×300 with
    dropout 0.35 and weight decay 0.1."""
    from charlstm.training.sizing import ITEM_CARD_EPOCHS, ITEM_SIZES

    names, speed = 220_000, 8_000
    assert choose_size(60, names, speed, items=True).size == Size(2, 128, 0.0)
    long = choose_size(300, names, speed, items=True)
    assert long.size == Size(2, 300, 0.35, weight_decay=0.1)
    assert str(long.size) == "2×300, dropout 0.35, weight decay 0.1"
    assert long.record()["weight_decay"] == 0.1 and long.reason.startswith(str(long.size) + ": chosen for 5 min")
    assert choose_size(60, names, speed).size == Size(2, 300, 0.0)  # as a stream: the stream's rows
    edge = ITEM_CARD_EPOCHS * names / speed  # the budget where the card takes over
    assert choose_size(edge * 0.99, names, speed, items=True).size != choose_size(edge, names, speed, items=True).size
    sizes = [choose_size(b, names, speed, items=True).size for b in np.geomspace(1, 10**5, 40)]
    params = [s.layers * s.units for s in sizes]
    assert params == sorted(params) and ITEM_SIZES[-1][:2] == (0, 0.0)  # never smaller with more time; a row for all


def test_budget_sizing_reads_items_from_the_run_config():
    from charlstm.config import TrainConfig
    from charlstm.training import plan as runplan

    config = TrainConfig(max_time=60.0, items=True)
    assert runplan.budget_sizing({}, config, 244_000, chars_per_s=8_000).size == Size(2, 128, 0.0)
    assert runplan.budget_sizing({}, TrainConfig(max_time=60.0), 244_000, chars_per_s=8_000).size == Size(2, 300, 0.0)
