"""The inspect page in a real browser: Debian's chromium, headless, driven by selenium.

Checks what a person would see: no console errors, heatmaps and charts drawn,
hovering (and keyboard focus on) a character shows its predictions, and the page
asks for nothing over the network. Chromium is installed by the `chromium` fixture (conftest.py) when it is
missing and we are root; where it cannot be had the test fails with the reason in CI (`CI` set) and
is skipped with it elsewhere (helpers.unavailable).
"""

from __future__ import annotations

import time

import pytest

from helpers import TINY_TEXT, invoke

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def page(trained_run, tmp_path_factory):
    from click.testing import CliRunner

    d = tmp_path_factory.mktemp("page")
    text = d / "text.txt"
    text.write_text(TINY_TEXT[:600], encoding="utf-8")
    out = d / "page.html"
    r = invoke(CliRunner(), "inspect", "-c", trained_run, "--compare", trained_run / "last.keras", text, "--out", out)
    assert r.exit_code == 0, r.output
    return out


def _load(driver, path):
    driver.get_log("performance")  # drop what earlier pages logged (the browser is shared by the session)
    driver.get_log("browser")
    driver.get(path.as_uri())
    for _ in range(200):
        if driver.execute_script("return document.body.dataset.ready"):
            break
        time.sleep(0.05)
    assert driver.execute_script("return document.body.dataset.ready") == "1"


def test_page_draws_without_errors_or_network(chromium, page):
    _load(chromium, page)
    errors = [e for e in chromium.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    # Every heatmap canvas holds a picture, not one flat colour.
    spread = chromium.execute_script("""
        return Array.from(document.querySelectorAll('#heatmap-list canvas')).map((c) => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, seen = new Set();
          for (let i = 0; i < d.length; i += 4) seen.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
          return seen.size; });""")
    assert len(spread) == 5  # h, c, f, i, o of the one layer
    assert min(spread) > 2 and max(spread) > 20  # the tiny model's gates saturate: few colours, but never flat
    assert chromium.execute_script("return document.querySelectorAll('#gradient svg polyline').length") == 2
    assert chromium.execute_script("return document.querySelectorAll('#history svg polyline').length") >= 2
    assert chromium.execute_script("return document.querySelectorAll('#saturation svg circle').length") == 3 * 16
    assert chromium.execute_script("return document.querySelectorAll('#strips .strip').length") > 3
    # The text is coloured per character.
    colours = chromium.execute_script(
        "return new Set(Array.from(document.querySelectorAll('#text .ch')).map((s) => s.style.background)).size"
    )
    assert colours >= 2  # coloured, not left blank (the tiny default unit may be saturated: two colours)
    # Nothing but the page itself was requested.
    import json

    urls = [
        json.loads(e["message"])["message"]["params"]["request"]["url"]
        for e in chromium.get_log("performance")
        if '"Network.requestWillBeSent"' in e["message"]
    ]
    assert urls and all(u == page.as_uri() for u in urls), urls


def test_hover_and_keyboard_show_predictions(chromium, page):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    _load(chromium, page)
    spans = chromium.find_elements("css selector", "#text .ch")
    ActionChains(chromium).move_to_element(spans[3]).perform()
    tip = chromium.find_element("id", "tip")
    assert tip.is_displayed()
    assert "(char 3) the model predicts" in tip.text
    assert len(tip.find_elements("css selector", "tr")) == 5
    assert "actual next" in tip.text and "surprise" in tip.text and "layer 1 unit" in tip.text
    # Keyboard: focus the text, move right twice.
    ActionChains(chromium).move_by_offset(0, 0).perform()
    chromium.find_element("id", "text").send_keys(Keys.ARROW_RIGHT)
    chromium.switch_to.active_element.send_keys(Keys.ARROW_RIGHT)
    assert "(char 2) the model predicts" in chromium.find_element("id", "tip").text
    assert chromium.switch_to.active_element.get_attribute("data-t") == "2"
