"""The exported web page in headless Chromium (the `chromium` fixture, conftest.py).

The JavaScript network against NumPy for every cell (WebAssembly kernel and plain JS), the
page's URL contract (autorun, data-state, data-chars-per-second, the controls filled from
the URL), the controls driven by hand, no console errors and no request but the page itself.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import numpy as np
import pytest
from test_export import numpy_probs

import charlstm
from charlstm.config import CELLS

from helpers import TINY_TEXT

pytestmark = pytest.mark.slow
TEXT = TINY_TEXT[:2000]


def _open(driver, path, **params):
    driver.get_log("browser")
    driver.get_log("performance")  # drop what earlier pages logged
    driver.get(path.as_uri() + ("?" + urlencode(params) if params else ""))
    return _wait(driver, ("done",) if params.get("autorun") == 1 else ("ready",))


def _wait(driver, states, seconds=120):
    end = time.time() + seconds
    while time.time() < end:
        state = driver.execute_script("return document.body.dataset.state")
        if state in (*states, "error"):
            break
        time.sleep(0.05)
    assert state in states, driver.find_element("id", "status").text
    return state


def _requests(driver) -> list[str]:
    return [
        json.loads(e["message"])["message"]["params"]["request"]["url"]
        for e in driver.get_log("performance")
        if '"Network.requestWillBeSent"' in e["message"]
    ]


@pytest.fixture(scope="module")
def pages(cell_runs, tmp_path_factory) -> dict:
    d = tmp_path_factory.mktemp("pages")
    out = {}
    for cell, run in cell_runs.items():
        out[cell] = charlstm.load(run).export("web", d / f"{cell}.html", precision="float32")
    return out


@pytest.mark.parametrize("cell", CELLS)
def test_page_matches_numpy(chromium, cell_runs, pages, cell):
    run = cell_runs[cell]
    _open(chromium, pages[cell])
    assert chromium.execute_script("return document.body.dataset.kernel") == "wasm-simd"
    ref = numpy_probs(run, TEXT)
    for kernel in ("wasm", "js"):
        got = chromium.execute_async_script(
            """const [text, kernel, done] = arguments;
            charlstm.fromBytes(charlstm.weights, { kernel, wasm: charlstm.kernelBytes })
              .then((m) => done(Array.from(m.probabilities(text))), (e) => done(String(e)));""",
            TEXT,
            kernel,
        )
        assert np.abs(np.array(got).reshape(ref.shape) - ref).max() < 1e-4, kernel
    # 9,000 characters: the page writes its output in text nodes of 4,096 (page.js); the joins must not show
    greedy = charlstm.load(run).generate(prime="the ", length=9000, temperature=0)
    _open(chromium, pages[cell], prime="the ", length=9000, temperature=0, autorun=1)
    assert chromium.find_element("id", "output").text == greedy.rstrip("\n")  # .text trims the ends
    assert chromium.execute_script("return document.getElementById('output').textContent") == greedy


def test_url_contract_and_controls(chromium, pages):
    page = pages["lstm"]
    params = {"prime": "a cat ", "length": 400, "seed": 11, "temperature": 0.9, "top_k": 5, "top_p": 0.95}
    _open(chromium, page, **params, autorun=1)
    first = chromium.execute_script("return document.getElementById('output').textContent")
    assert first.startswith("a cat ") and len(first) == len("a cat ") + 400
    assert float(chromium.execute_script("return document.body.dataset.charsPerSecond")) > 0
    for name, value in params.items():
        assert chromium.find_element("id", name).get_attribute("value") == str(value)
    _open(chromium, page, **params, autorun=1)  # same seed, same text
    assert chromium.execute_script("return document.getElementById('output').textContent") == first
    # by hand: another seed changes the text; the button runs it
    seed = chromium.find_element("id", "seed")
    seed.clear()
    seed.send_keys("12")
    chromium.find_element("id", "generate").click()
    time.sleep(0.1)
    _wait(chromium, ("done",))
    second = chromium.execute_script("return document.getElementById('output').textContent")
    assert second.startswith("a cat ") and second != first
    assert [e for e in chromium.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
    assert set(_requests(chromium)) == {page.as_uri() + "?" + urlencode({**params, "autorun": 1})}


def test_page_stays_responsive_and_reports_bad_settings(chromium, pages):
    page = pages["gru"]
    # a length no machine finishes within the test: a tiny model generates ~700K chars/s in the
    # page on a fast CPU, so 200,000 characters were done before the second look (CI, 2026-12-02)
    _open(chromium, page, length=10**9, seed=1, autorun=0)
    chromium.find_element("id", "generate").click()
    time.sleep(0.3)
    # while generating, the page answers and the text grows: it yields to the event loop
    assert chromium.execute_script("return document.body.dataset.state") == "running"
    length = "return document.getElementById('output').textContent.length"  # not the text: megabytes
    n1 = chromium.execute_script(length)
    time.sleep(0.3)
    n2 = chromium.execute_script(length)
    assert n2 > n1
    chromium.find_element("id", "stop").click()
    _wait(chromium, ("done",))
    chromium.get(page.as_uri() + "?" + urlencode({"top_p": 1.5, "autorun": 1}))
    _wait(chromium, ("error",))
    assert "topP=1.5: must be a number in (0, 1]" in chromium.find_element("id", "status").text
    chromium.get(page.as_uri() + "?" + urlencode({"prime": "€", "autorun": 1}))
    _wait(chromium, ("error",))
    assert "not in the model's vocabulary" in chromium.find_element("id", "status").text


MODULE_PAGE = """<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">
import { load } from "./charlstm.mjs";
const model = await load("model.bin");
let streamed = "";
for (const ch of model.stream({ prime: "the ", length: 50, seed: 3 })) streamed += ch;
window.result = { kernel: model.kernel, greedy: model.generate({ prime: "the ", length: 300, temperature: 0 }),
  seeded: model.generate({ prime: "the ", length: 50, seed: 3 }), streamed };
</script>"""


def test_js_module_in_a_web_page(chromium, trained_run, tmp_path):
    """The `js` export as a web developer uses it: served over HTTP, imported, kernel fetched beside it."""
    import functools
    import http.server
    import threading

    run = trained_run
    folder = charlstm.load(run).export("js", tmp_path / "site", precision="float32")
    (folder / "index.html").write_text(MODULE_PAGE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        extensions_map = {".mjs": "text/javascript", ".wasm": "application/wasm", ".html": "text/html"}

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        chromium.get(f"http://127.0.0.1:{server.server_address[1]}/index.html")
        end = time.time() + 60
        while not chromium.execute_script("return window.result") and time.time() < end:
            time.sleep(0.1)
        got = chromium.execute_script("return window.result")
        errors = [e for e in chromium.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    finally:
        server.shutdown()
    assert errors == []
    assert got["kernel"] == "wasm-simd"
    assert got["greedy"] == charlstm.load(run).generate(prime="the ", length=300, temperature=0)
    assert got["seeded"] == "the " + got["streamed"]
