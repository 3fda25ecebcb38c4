"""The `web` (one offline HTML page) and `js` (an ES module and its weights file) exports.

Both ship the same JavaScript, read from this package's `js/` folder: charlstm.mjs (the
network and sampler), kernel.wasm (its matrix-vector product in WebAssembly SIMD, assembled
from kernel.wat) and, for the page, page.html and page.js. The page embeds the weights file
and the kernel as base64 (4 bytes of text per 3 of data): a 2×300 LSTM in float16 is
2.4 MB of weights, a 3.18 MB page (measured, 67 characters, float16).
"""

from __future__ import annotations

import base64
import html
import re
from importlib import resources
from pathlib import Path

from charlstm.export.arrays import NetworkArrays
from charlstm.export.binary import encode

MODULE, KERNEL, WEIGHTS = "charlstm.mjs", "charlstm-kernel.wasm", "model.bin"


def asset(name: str) -> bytes:
    """One of the package's JavaScript files (js/charlstm.mjs, js/kernel.wasm, ...)."""
    return resources.files("charlstm.export").joinpath("js", name).read_bytes()


def page(net: NetworkArrays, precision: str, title: str) -> bytes:
    """The single-file page: controls, the module and the page script inline, weights and kernel embedded."""
    script = asset("charlstm.mjs").decode("utf-8") + "\n" + asset("page.js").decode("utf-8")
    if "</script" in script.lower():
        raise AssertionError("the inline script must not contain </script")  # a packaging mistake, not input
    description = f"A {net.layers}×{net.units} {net.cell} character model, {len(net.vocabulary)} characters."
    fill = {
        "TITLE": html.escape(title),
        "DESCRIPTION": html.escape(description),
        "WEIGHTS": base64.b64encode(encode(net, precision)).decode("ascii"),
        "KERNEL": base64.b64encode(asset("kernel.wasm")).decode("ascii"),
        "SCRIPT": script,
    }
    # one pass: a title holding "__SCRIPT__" stays text
    return re.sub(r"__([A-Z]+)__", lambda m: fill[m.group(1)], asset("page.html").decode("utf-8")).encode("utf-8")


def live_assets(checkpoint: str | Path, precision: str = "float16") -> dict[str, str]:
    """What `charlstm inspect`'s live view embeds: the one JavaScript network (charlstm.mjs), the
    weights file and the kernel as base64, the same bytes as this page's. The CLI hands them to
    inspect (inspect and export stay independent packages)."""
    from charlstm.export.arrays import network_arrays

    _, net = network_arrays(checkpoint)
    return {
        "module": asset("charlstm.mjs").decode("utf-8"),
        "weights": base64.b64encode(encode(net, precision)).decode("ascii"),
        "kernel": base64.b64encode(asset("kernel.wasm")).decode("ascii"),
    }


def write_module(net: NetworkArrays, precision: str, folder: Path) -> None:
    """The `js` export into an empty folder: charlstm.mjs, its kernel and model.bin."""
    (folder / MODULE).write_bytes(asset("charlstm.mjs"))
    (folder / KERNEL).write_bytes(asset("kernel.wasm"))
    (folder / WEIGHTS).write_bytes(encode(net, precision))
