"""The web export in headless Chromium: page size, time to the first character, chars/s.

    python benchmarks/export_speed.py [--checkpoint CKPT] [--length 20000]
    python benchmarks/export_speed.py --units 32 --layers 1 --train-seconds 3 --length 500   # a quick check

Without --checkpoint it trains a model of the given shape (default: the default 2×300
LSTM) on Macbeth for --train-seconds first: speed does not depend on how well a model
is trained, only on its shape, so a few seconds of training is enough. Then it writes
the `web` page at the default precision (float16) and prints its size, opens it in
headless Chromium (Debian's chromium + chromedriver, selenium) with autorun, and reads
back what the page measures itself: the time from opening the page to the first
generated character (data-first-char-ms) and the one-stream generation speed
(data-chars-per-second), over --repeats page loads. Beside it, the NumPy sampler's
one-stream chars/s on the same checkpoint, in the same run (generate_speed.py's timing).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import CORPORA, ROOT, train_cmd  # noqa: E402
from generate_speed import sampler_chars_per_s  # noqa: E402

sys.path.insert(0, str(ROOT))


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tempfile.mkdtemp()}"):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def page_run(driver, page: Path, length: int) -> dict:
    """One autorun page load: the page's own figures once data-state is done."""
    driver.get(f"{page.as_uri()}?length={length}&seed=1&autorun=1")
    end = time.time() + 600
    while time.time() < end:
        state = driver.execute_script("return document.body.dataset.state")
        if state in ("done", "error"):
            break
        time.sleep(0.1)
    if state != "done":
        raise SystemExit(f"the page did not finish: {driver.find_element('id', 'status').text}")
    data = driver.execute_script("return Object.assign({}, document.body.dataset)")
    return {"first_ms": float(data["firstCharMs"]), "cps": float(data["charsPerSecond"]), "kernel": data["kernel"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, help="an existing checkpoint (default: train one)")
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--train-seconds", type=float, default=10)
    ap.add_argument("--corpus", type=Path, default=CORPORA / "macbeth.txt", help="what to train on (default: Macbeth)")
    ap.add_argument("--length", type=int, default=20000, help="chars generated per page load")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ckpt = args.checkpoint
        if ckpt is None:
            cmd = train_cmd(args.corpus, args.train_seconds, work / "run")
            subprocess.run(
                [*cmd, "--units", str(args.units), "--layers", str(args.layers)],
                check=True,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
            ckpt = work / "run" / "best.keras"
        import charlstm

        model = charlstm.load(ckpt)
        page = model.export("web", work / "page.html")
        size = page.stat().st_size
        driver = browser()
        try:
            runs = [page_run(driver, page, args.length) for _ in range(args.repeats)]
        finally:
            driver.quit()
        numpy_cps = sampler_chars_per_s(model.path, args.length, 1)
    m = model.checkpoint.model
    print(f"model: {m.layers}×{m.units} {m.cell}, {len(model.vocabulary)} chars ({ckpt})")
    print(f"page (float16): {size:,} bytes ({size / 1e6:.2f} MB)")
    print(f"kernel in the browser: {runs[0]['kernel']}")
    first = [r["first_ms"] for r in runs]
    cps = [r["cps"] for r in runs]
    print(
        f"open -> first char: median {statistics.median(first):.0f} ms (runs: {', '.join(f'{x:.0f}' for x in first)})"
    )
    listed = ", ".join(f"{x:,.0f}" for x in cps)
    print(f"browser one stream: median {statistics.median(cps):,.0f} chars/s (runs: {listed})")
    print(f"NumPy one stream:   {numpy_cps:,.0f} chars/s")


if __name__ == "__main__":
    main()
