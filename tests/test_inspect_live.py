"""The inspect page's live view in headless Chromium, for every cell: the text typed into the box runs
through the page's JavaScript network and its gates, states and probabilities equal NumPy's
Network.trace (1e-5 with float32 weights, 2e-3 with float16); an edit in the middle gives what typing
the edited text afresh gives; a character outside the vocabulary is skipped with a visible note;
`?text=` runs at load and sets the body's data-live-* attributes; no console errors, no request."""

from __future__ import annotations

import json
import time
import urllib.parse

import numpy as np
import pytest

import charlstm
from charlstm.config import CELLS
from charlstm.export.web import live_assets
from charlstm.inspect.run import InspectOptions, inspect
from charlstm.sampler.network import load_network

from helpers import TINY_TEXT

pytestmark = pytest.mark.slow

TYPED = TINY_TEXT[:80]


def _page(run, tmp_path, precision, no_live=False):
    out = tmp_path / f"{run.name}-{precision}.html"
    opts = InspectOptions(checkpoints=[str(run / "best.keras")], out=str(out), gradients=False, chars=200)
    inspect(opts, live=None if no_live else live_assets(run / "best.keras", precision))
    return out


def _wait(driver, key, want="done"):
    for _ in range(400):
        got = driver.execute_script(f"return document.body.dataset.{key}")
        if got in (want, "error"):
            break
        time.sleep(0.05)
    assert driver.execute_script(f"return document.body.dataset.{key}") == want


def _open(driver, path, query=""):
    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(path.as_uri() + query)
    _wait(driver, "ready", "1")
    _wait(driver, "live", "ready")


def _type(driver, text):
    """Set the box and fire `input` as typing does (each keystroke's update is the same call)."""
    driver.execute_script(
        "const b = document.getElementById('live-text'); b.value = arguments[0];b.dispatchEvent(new Event('input'));",
        text,
    )
    _wait(driver, "liveState")


def _got(driver):
    return json.loads(
        driver.execute_script("""
        const L = window.charlstmLive, tr = L.trace();
        return JSON.stringify({ids: tr.ids, names: L.names,
          layers: tr.recs.length ? tr.recs[0].map((_, l) => Object.fromEntries(L.names.map((k) =>
            [k, tr.recs.map((r) => Array.from(r[l][k]))]))) : [],
          probs: tr.probs.map((p) => Array.from(p))});""")
    )


def _check_saturation(driver, ref):
    from charlstm.inspect.detectors import saturation

    charts = driver.execute_script("""
        return Array.from(document.querySelectorAll('#saturation .charts svg')).map((svg) => {
          const d = svg.querySelector('line.diag'), a = (n) => +d.getAttribute(n);
          return {x0: a('x1'), x1: a('x2'), y1: a('y1'), y0: a('y2'),
                  points: Array.from(svg.querySelectorAll('circle'))
                    .map((c) => [+c.getAttribute('cx'), +c.getAttribute('cy')])};
        });""")
    want = [s for s in saturation(ref.layers) if s]
    assert len(charts) == len(want)
    for chart, gates in zip(charts, want, strict=True):
        lo = np.concatenate([g["low"] for g in gates.values()])
        hi = np.concatenate([g["high"] for g in gates.values()])
        p = np.array(chart["points"])
        got_lo = (p[:, 0] - chart["x0"]) / (chart["x1"] - chart["x0"])
        got_hi = (p[:, 1] - chart["y0"]) / (chart["y1"] - chart["y0"])
        # a gate within float32 rounding of 0.1 or 0.9 may fall either side: one character's worth, rarely
        for got, want_f in ((got_lo, lo), (got_hi, hi)):
            off = np.abs(got - want_f)
            assert off.max() <= 1 / len(ref.ids) + 0.01 and (off > 0.01).mean() < 0.01
    return want


def _pixels(driver):
    """Every heat map's picture and the text view's colours."""
    return driver.execute_script(
        "return [Array.from(document.querySelectorAll('#heatmap-list canvas')).map((c) => c.toDataURL()),"
        "Array.from(document.querySelectorAll('#text span.ch, #strips span'))"
        ".map((s) => s.style.background + s.textContent)]"
    )


def _no_errors_or_requests(driver):
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    sent = [
        json.loads(e["message"])["message"]["params"]["request"]["url"]
        for e in driver.get_log("performance")
        if '"Network.requestWillBeSent"' in e["message"]
    ]
    assert all(u.startswith(("file:", "data:", "blob:")) for u in sent), sent


@pytest.mark.parametrize("cell", CELLS)
def test_typed_text_equals_numpy_trace(chromium, cell_runs, tmp_path, cell):
    run = cell_runs[cell]
    _, net = load_network(run / "best.keras")
    vocab = charlstm.load(run).vocabulary
    ref = net.trace(np.array(vocab.encode(TYPED)))
    for precision, tol in (("float32", 1e-5), ("float16", 2e-3)):
        page = _page(run, tmp_path, precision)
        _open(chromium, page)
        _type(chromium, TYPED)
        got = _got(chromium)
        assert got["ids"] == ref.ids.tolist()
        assert got["names"] == list(ref.layers[0])
        for want, have in zip(ref.layers, got["layers"], strict=True):
            for name, arr in want.items():
                assert np.abs(np.array(have[name]) - arr).max() < tol, (precision, name)
        assert np.abs(np.array(got["probs"]) - ref.probs).max() < tol, precision
        bits = float(chromium.execute_script("return document.body.dataset.liveBitsPerChar"))
        assert abs(bits - float(ref.surprise_bits.mean())) < (1e-4 if precision == "float32" else 1e-2)
        # the views show the typed text, the detector units' strips too
        shown = chromium.execute_script("return document.querySelectorAll('#text span.ch').length")
        assert shown == len(TYPED)
        strips = chromium.execute_script(
            "return Array.from(document.querySelectorAll('#strips .strip-text')).map((s) => s.textContent)"
        )
        assert strips and all(s.replace("\u00a0", " ").replace("↵", "\n") == TYPED for s in strips)
        if precision == "float32":  # the saturation charts' points: detectors.saturation of the same text
            _check_saturation(chromium, ref)
        # an edit in the middle reruns from there and equals the edited text typed afresh
        edited = TYPED[:30] + TYPED[45:] + TYPED[10:20]
        _type(chromium, edited)
        after_edit = _got(chromium), _pixels(chromium)
        _type(chromium, "")
        _type(chromium, edited)
        fresh = _got(chromium), _pixels(chromium)
        assert fresh[0] == after_edit[0]
        assert fresh[1][1] == after_edit[1][1]  # the text view's and the strips' colours
        assert fresh[1][0] == after_edit[1][0]  # the heat maps (drawn by columns)
        _no_errors_or_requests(chromium)


def test_saturation_follows_the_live_text_on_the_base_model(chromium, tmp_path, monkeypatch):
    """The bundled 2×300 LSTM, whose gates do saturate (the tiny models' hardly do): the charts' points move
    to detectors.saturation of the typed text."""
    from charlstm import checkpoint as ckpt_io

    monkeypatch.delenv(ckpt_io.BASE_ENV)  # conftest hides the bundled base from every other test
    base = ckpt_io.base_model()
    if base is None:
        pytest.skip("this build carries no base model (charlstm/models/base.keras)")
    out = tmp_path / "base.html"
    inspect(
        InspectOptions(checkpoints=[str(base)], out=str(out), gradients=False),
        live=live_assets(base, "float32"),
    )
    text = 'He said, "The king is dead (long live the king)." Then the queen wrote: "We shall see." ' * 3
    _, net = load_network(base)
    ref = net.trace(np.array(charlstm.load(base).vocabulary.encode(text)))
    _open(chromium, out)
    _type(chromium, text)
    want = _check_saturation(chromium, ref)
    assert max(float(g["high"].max()) for gates in want for g in gates.values()) > 0.5  # the check has teeth
    _no_errors_or_requests(chromium)


def test_unknown_characters_are_skipped_with_a_note(chromium, cell_runs, tmp_path):
    page = _page(cell_runs["lstm"], tmp_path, "float16")
    _open(chromium, page)
    _type(chromium, "the \u2603 king\u2603")
    note = chromium.find_element("id", "live-note")
    assert note.is_displayed() and "Skipped" in note.text and "\u2603" in note.text and "×2" in note.text
    vocab = set(charlstm.load(cell_runs["lstm"]).vocabulary.chars)
    kept = [c for c in "the \u2603 king\u2603" if c in vocab]
    assert "\u2603" not in vocab and len(kept) > 4
    assert chromium.execute_script("return document.querySelectorAll('#text span.ch').length") == len(kept)
    _no_errors_or_requests(chromium)


def test_text_from_the_url_runs_at_load(chromium, cell_runs, tmp_path):
    """?text= runs at load; data-live-bits-per-char is what `charlstm eval` reports for the same text."""
    run = cell_runs["gru"]
    page = _page(run, tmp_path, "float32")
    _open(chromium, page, "?text=" + urllib.parse.quote(TYPED))
    _wait(chromium, "liveState")
    want = charlstm.load(run).evaluate(text=TYPED)["bits_per_char"]  # what `charlstm eval` reports
    assert abs(float(chromium.execute_script("return document.body.dataset.liveBitsPerChar")) - want) < 1e-4
    assert float(chromium.execute_script("return document.body.dataset.liveUpdateMs")) >= 0
    _no_errors_or_requests(chromium)


def test_generation_writes_into_the_box(chromium, cell_runs, tmp_path):
    page = _page(cell_runs["lstm"], tmp_path, "float16")
    _open(chromium, page)
    _type(chromium, "the ")
    chromium.execute_script("document.getElementById('live-length').value = 120;")
    chromium.find_element("id", "live-write").click()
    for _ in range(200):
        if len(chromium.execute_script("return document.getElementById('live-text').value")) >= 124:
            break
        time.sleep(0.05)
    time.sleep(0.3)
    text = chromium.execute_script("return document.getElementById('live-text').value")
    assert len(text) == 124 and text.startswith("the ")
    assert chromium.execute_script("return document.querySelectorAll('#text span.ch').length") == 124
    # written a step a character (live.js `append`): the same trace and views as the text typed afresh
    written = _got(chromium), _pixels(chromium)
    _type(chromium, "")
    _type(chromium, text)
    assert (_got(chromium), _pixels(chromium)) == written
    _no_errors_or_requests(chromium)


def test_no_live_writes_the_recorded_page_only(cell_runs, tmp_path):
    page = _page(cell_runs["lstm"], tmp_path, "float16", no_live=True).read_text("utf-8")
    assert 'id="live-weights"' not in page and "live-text" in page  # the section stays hidden, unused
