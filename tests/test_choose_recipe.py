"""The recipe sweep (scripts/choose_recipe.py): scored on the panel, resumable one configuration at a time."""

from __future__ import annotations

import json
import shutil

import pytest

from charlstm import checkpoint as ckpt_io
from charlstm.catalog import panel

from helpers import load_script


@pytest.fixture(scope="module")
def choose_recipe():
    return load_script("choose_recipe")


def test_each_configuration_is_trained_once_scored_on_the_panel_and_ranked(
    tmp_path, trained_run, choose_recipe, monkeypatch, capsys
):
    import charlstm

    texts = {"verse": "the cat sat on the mat\n" * 40, "docs": "to be or not to be\n" * 40}
    monkeypatch.setattr(panel, "load", lambda workdir: texts)
    trained = []

    def fake_train(corpus, run_dir, dropout, weight_decay, args):  # a finished run: the tiny run's checkpoint
        trained.append((dropout, weight_decay))
        run_dir.mkdir(parents=True)
        shutil.copyfile(trained_run / ckpt_io.BEST, run_dir / ckpt_io.BEST)
        summary = {"val_bits_per_char": 2.0 + dropout, "stopped": "max-time"}
        (run_dir / "summary.json").write_text(json.dumps(summary))
        return summary

    monkeypatch.setattr(choose_recipe, "train", fake_train)
    corpus = trained_run.parent / "tiny.txt"
    argv = [str(tmp_path / "sweep"), "--dropout", "0,0.2", "--corpus", str(corpus)]
    choose_recipe.main(argv)
    capsys.readouterr()
    results = json.loads((tmp_path / "sweep" / "results.json").read_text())
    model = charlstm.load(str(trained_run / ckpt_io.BEST))
    expected = {k: model.evaluate(text=t)["nats_per_char"] for k, t in texts.items()}
    assert trained == [(0.0, 0.0), (0.2, 0.0)] and set(results) == {"dropout-0", "dropout-0.2"}
    for r in results.values():
        assert r["panel"]["verse"] == pytest.approx(expected["verse"])
        assert r["panel"]["mean"] == pytest.approx((expected["verse"] + expected["docs"]) / 2)
    choose_recipe.main([*argv[:2], "0,0.2,0.3", *argv[3:]])  # resumed with one more: only it trains
    assert trained == [(0.0, 0.0), (0.2, 0.0), (0.3, 0.0)]
    choose_recipe.main([*argv, "--weight-decay", "0,0.1"])  # and with weight decay: each dropout once more
    assert trained[3:] == [(0.0, 0.1), (0.2, 0.1)]
    assert json.loads((tmp_path / "sweep" / "results.json").read_text())["dropout-0.2-wd-0.1"]["weight_decay"] == 0.1
    table = capsys.readouterr().out.splitlines()[-(2 + 5) :]
    assert table[0].startswith("| dropout | weight decay | panel mean | verse | docs |")
