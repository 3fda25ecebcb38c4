"""The `charlstm serve` page in headless chromium: type a prime, samples stream in side by side,
Stop aborts, no console errors, nothing requested from anywhere but the server."""

from __future__ import annotations

import json
import time

import pytest

from helpers import ServerProcess

pytestmark = pytest.mark.slow
pytest.importorskip("starlette", reason="the serve extra: pip install -e '.[serve]'")


def _wait(driver, script, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {script}")


def _fill(driver, field, value):
    box = driver.find_element("id", field)
    box.clear()
    box.send_keys(str(value))


def _running(driver, url):
    return driver.execute_script(
        "return fetch(arguments[0]).then((r) => r.json()).then((h) => h.running)", url + "/health"
    )


def test_page_streams_samples_and_stops(chromium, trained_run):
    import charlstm

    # --exact: the page's two samples share the batch, and each is compared with the CLI's text
    s = ServerProcess(trained_run, "--exact", "--max-tokens-limit", 10**6)
    try:
        chromium.get_log("performance")  # drop what earlier pages logged (the browser is shared by the session)
        chromium.get_log("browser")
        chromium.get(s.url + "/")
        _wait(chromium, "return document.body.dataset.ready")
        assert chromium.find_element("id", "model").text == trained_run.name
        chromium.find_element("id", "prime").send_keys("the cat")
        for field, value in (("length", 3000), ("samples", 2), ("seed", 4)):
            _fill(chromium, field, value)
        chromium.find_element("id", "go").click()
        _wait(chromium, "return document.getElementById('status').textContent === 'done'")
        texts = chromium.execute_script(
            "return Array.from(document.querySelectorAll('.sample .text')).map((e) => e.textContent)"
        )
        model = charlstm.load(trained_run)
        want = [
            model.generate(prime="the cat", length=3000, seed=4, temperature=0.8, echo_prime=False, sample_index=i)
            for i in (0, 1)
        ]
        assert texts == want
        assert int(chromium.execute_script("return document.body.dataset.events")) > 2  # it streamed in pieces
        # Stop: a long run is aborted and leaves the server's batch
        _fill(chromium, "length", 10**6)
        chromium.find_element("id", "go").click()
        _wait(chromium, "return Number(document.body.dataset.events) > 0")
        chromium.find_element("id", "stop").click()
        _wait(chromium, "return document.getElementById('status').textContent === 'stopped'")
        end = time.monotonic() + 10
        while _running(chromium, s.url) and time.monotonic() < end:
            time.sleep(0.05)
        assert _running(chromium, s.url) == 0
        errors = [e for e in chromium.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert errors == []
        urls = [
            json.loads(e["message"])["message"]["params"]["request"]["url"]
            for e in chromium.get_log("performance")
            if '"Network.requestWillBeSent"' in e["message"]
        ]
        assert urls and all(u.startswith(s.url + "/") for u in urls), urls
    finally:
        assert s.stop() == 0
