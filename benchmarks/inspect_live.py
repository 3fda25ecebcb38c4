"""The inspect page's live view in headless Chromium: keystroke, paste and generation speed.

    python benchmarks/inspect_live.py                      # the bundled base model (a 2×300 LSTM)
    python benchmarks/inspect_live.py --checkpoint CKPT --keystrokes 200 --paste 2000 --write 3000

Writes the checkpoint's inspect page (float16 weights, no gradient view), prints its size,
opens it in headless Chromium (Debian's chromium + chromedriver, selenium) and measures, in
the page: the time from one typed character's `input` event to the frame after every view
redrew (two requestAnimationFrame callbacks), median over --keystrokes characters typed
one by one after --start characters; the same for pasting --paste characters at once into an
empty box; and "let the model write"'s chars/s with the views following (the page's own
data-live-write-chars-per-second). Beside them, in the same run, NumPy's Network.trace on the
pasted text (what the recorded page is made of). Targets (issue 30): ≤ 50 ms a keystroke,
≤ 2 s a 2,000-char paste, ≥ 1,000 chars/s writing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPORA, ROOT  # noqa: E402

sys.path.insert(0, str(ROOT))

TYPE = """
const text = arguments[0], n = arguments[1], from = arguments[2], done = arguments[arguments.length - 1];
const box = document.getElementById('live-text'), frame = () => new Promise((r) => requestAnimationFrame(() => r()));
(async () => {
  const ms = [];
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    box.value = text.slice(0, k + 1 + from);
    box.dispatchEvent(new Event('input'));
    await frame(); await frame();
    ms.push(performance.now() - t0);
  }
  done(ms);
})();
"""


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tempfile.mkdtemp()}"):
        opts.add_argument(arg)
    opts.add_argument("--window-size=1240,1000")
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def wait(driver, key, want, seconds=600):
    end = time.time() + seconds
    while time.time() < end:
        got = driver.execute_script(f"return document.body.dataset.{key}")
        if got in (want, "error"):
            break
        time.sleep(0.05)
    if got != want:
        raise SystemExit(f"the page did not reach {key}={want} (got {got})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default="base")
    ap.add_argument("--text", default=str(CORPORA / "macbeth.txt"), help="where the typed and pasted text comes from")
    ap.add_argument("--keystrokes", type=int, default=200)
    ap.add_argument("--start", type=int, default=100, help="characters in the box before the keystrokes")
    ap.add_argument("--paste", type=int, default=2000)
    ap.add_argument("--write", type=int, default=3000, help="characters the model writes")
    args = ap.parse_args()

    import numpy as np

    import charlstm
    from charlstm.checkpoint import resolve
    from charlstm.export.web import live_assets
    from charlstm.inspect.run import InspectOptions, inspect
    from charlstm.sampler.network import load_network

    path = resolve(args.checkpoint)
    model = charlstm.load(path)
    vocab = set(model.vocabulary.chars)
    source = Path(args.text).read_text("utf-8")
    if model.checkpoint.training.lowercase:
        source = source.lower()
    text = "".join(c for c in source if c in vocab)[: max(args.paste, args.start + args.keystrokes)]
    page = Path(tempfile.mkdtemp()) / "inspect.html"
    inspect(InspectOptions(checkpoints=[str(path)], out=str(page), gradients=False), live=live_assets(path))
    m = model.checkpoint.model
    print(f"model: {m.layers}×{m.units} {m.cell}; page {page.stat().st_size / 1e6:.2f} MB (default --chars, float16)")

    _, net = load_network(path)
    ids = np.array(model.vocabulary.encode(text[: args.paste]))
    t0 = time.perf_counter()
    net.trace(ids)
    numpy_ms = (time.perf_counter() - t0) * 1000

    driver = browser()
    try:
        driver.set_script_timeout(3600)
        driver.get(page.as_uri())
        wait(driver, "live", "ready")
        # keystrokes: start from 100 characters, then type one at a time
        driver.execute_async_script(TYPE, text, 1, args.start - 1)
        ms = driver.execute_async_script(TYPE, text, args.keystrokes, args.start)
        key_ms = statistics.median(ms)
        # paste: empty box, then the whole text at once
        driver.execute_async_script(TYPE, "", 1, 0)
        paste = driver.execute_async_script(TYPE, text[: args.paste], 1, args.paste - 1)[0]
        # write: from the end of a short text
        driver.execute_async_script(TYPE, text, 1, 99)
        driver.execute_script(f"document.getElementById('live-length').value = {args.write};")
        driver.find_element("id", "live-write").click()
        wait(driver, "liveWrite", "done")
        cps = float(driver.execute_script("return document.body.dataset.liveWriteCharsPerSecond"))
    finally:
        driver.quit()
    p90 = np.percentile(ms, 90)
    print(f"keystroke after {args.start} chars: median {key_ms:.1f} ms over {args.keystrokes} (p90 {p90:.1f}; ≤ 50)")
    print(f"paste {args.paste} chars: {paste:.0f} ms (target ≤ 2000); NumPy trace of the same text: {numpy_ms:.0f} ms")
    print(f"write {args.write} chars: {cps:.0f} chars/s with the views following (target ≥ 1000)")


if __name__ == "__main__":
    main()
