/* global fromBytes -- page.js is appended to charlstm.mjs in one inline module (export/web.py) */
// page.js: the `charlstm export --format web` page's controls, appended to charlstm.mjs in one module.
// URL contract: ?prime=&length=&seed=&temperature=&top_k=&top_p=&autorun=1 fill the controls, and
// autorun=1 generates at once; <body data-state> goes loading → ready → running → done (or error),
// data-chars-per-second reports the last run's speed, data-first-char-ms when its first character
// appeared (ms since the page was opened: for autorun, the time to the first character).

const $ = (id) => document.getElementById(id);
const FIELDS = ["prime", "length", "seed", "temperature", "top_k", "top_p"];
const SLICE_MS = 30; // generate this long between yields to the event loop: the page stays responsive
const NODE_CHARS = 4096; // the output grows in text nodes of this many UTF-16 units: see appendText
let stopRequested = false;

function fromBase64(text) {
  const binary = atob(text.trim());
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function yieldToEventLoop() {
  // a message round trip: unlike setTimeout(0), not clamped to 4 ms once calls nest
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

// Appends `piece` to `element`'s text, filling its last text node up to NODE_CHARS and then new ones.
// With one growing node every frame laid the whole text out again (Chromium, 10^9 characters asked of
// the tiny test model: 751K after 5.3 s, an event-loop turn taking 1 s; in nodes: 874K after 3.3 s,
// 0.49 s). A cut never separates a surrogate pair.
function appendText(element, piece) {
  let i = 0;
  while (i < piece.length) {
    let node = element.lastChild;
    if (node?.nodeType !== Node.TEXT_NODE || node.length >= NODE_CHARS) {
      node = element.appendChild(document.createTextNode(""));
    }
    let end = Math.min(piece.length, i + NODE_CHARS - node.length);
    const unit = piece.charCodeAt(end - 1);
    if (end < piece.length && unit >= 0xd800 && unit <= 0xdbff) {
      end = end - 1 > i ? end - 1 : end + 1; // a high surrogate: its pair goes to the next node, or both here
    }
    node.appendData(piece.slice(i, end));
    i = end;
  }
}

function readControls() {
  const num = (id) => ($(id).value.trim() === "" ? null : Number($(id).value));
  return {
    prime: $("prime").value,
    length: num("length"),
    seed: num("seed"),
    temperature: num("temperature"),
    topK: num("top_k"),
    topP: num("top_p"),
  };
}

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

async function run(model) {
  const body = document.body;
  const options = readControls();
  const output = $("output");
  let stream;
  try {
    stream = model.stream(options);
    output.textContent = model.primeText(options.prime);
  } catch (e) {
    body.dataset.state = "error";
    setStatus(e.message, true);
    return;
  }
  body.dataset.state = "running";
  $("generate").disabled = true;
  $("stop").disabled = false;
  stopRequested = false;
  const start = performance.now();
  let count = 0;
  let budget = 0; // the first slice is one character: it shows at once
  for (;;) {
    const until = performance.now() + budget;
    let piece = "";
    let step;
    while (!(step = stream.next()).done) {
      piece += step.value;
      if (++count % 16 === 0 && performance.now() >= until) break;
      if (count === 1) break;
    }
    appendText(output, piece);
    if (count === 1 && piece) body.dataset.firstCharMs = performance.now().toFixed(1); // since the page was opened
    if (step.done || stopRequested) break;
    budget = SLICE_MS;
    await yieldToEventLoop();
  }
  const seconds = (performance.now() - start) / 1000;
  const speed = count / Math.max(seconds, 1e-6);
  body.dataset.charsPerSecond = speed.toFixed(1);
  setStatus(`${count} characters in ${seconds.toFixed(2)} s: ${speed.toFixed(0)} chars/s (${model.kernel}).`);
  $("generate").disabled = false;
  $("stop").disabled = true;
  body.dataset.state = "done";
}

async function start() {
  const body = document.body;
  const weights = fromBase64($("weights").textContent);
  const kernelBytes = fromBase64($("kernel").textContent);
  const model = await fromBytes(weights, { wasm: kernelBytes });
  globalThis.charlstm = { model, fromBytes, weights, kernelBytes }; // for the console and for tests
  body.dataset.kernel = model.kernel;
  const params = new URLSearchParams(location.search);
  $("prime").value = model.header.prime;
  for (const name of FIELDS) if (params.has(name)) $(name).value = params.get(name);
  $("controls").addEventListener("submit", (event) => {
    event.preventDefault();
    run(model);
  });
  $("stop").addEventListener("click", () => {
    stopRequested = true;
  });
  body.dataset.state = "ready";
  setStatus(`Ready: ${model.header.layers}×${model.header.units} ${model.header.cell}, ${model.vocabulary.length} characters.`);
  if (params.get("autorun") === "1") await run(model);
}

start().catch((e) => {
  document.body.dataset.state = "error";
  setStatus(`could not start: ${e.message}`, true);
});
