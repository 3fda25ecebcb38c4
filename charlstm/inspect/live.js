/* global fromBytes, uniforms, pick -- live.js is appended to charlstm.mjs in one inline module (inspect/report.py) */
// live.js: the inspect page's live view. Inlined after charlstm.mjs (the export's one JavaScript network)
// in a module script; runs the typed text through `traceStep` and shows it through page.js's views.
//
// Per position t it keeps the state before t, every gate after t and the next-character probabilities,
// so one more character costs one step and an edit in the middle reruns from the first changed character.

const b64bytes = (id) => {
  const bin = atob(document.getElementById(id).textContent.trim());
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
};

async function startLive() {
  await window.inspectReady;
  const view = window.inspectView;
  const model = await fromBytes(b64bytes("live-weights"), { wasm: b64bytes("live-kernel") });
  const names = model.recorded;
  const ids = []; // the text's kept ids
  const states = [model.saveState()]; // states[t]: before character t (states[0]: the zero state)
  const recs = []; // recs[t]: [layer]{name: Float32Array(units)} after character t
  const probs = []; // probs[t]: Float64Array(vocab), p(next char | text up to t)
  let kept = ""; // the text that ran (characters outside the vocabulary skipped)

  const box = document.getElementById("live-text");
  const note = document.getElementById("live-note");

  function encode(text) {
    let t = text.replace(/\r\n?/g, "\n");
    if (model.header.lowercase) t = t.toLowerCase();
    const out = [];
    const skipped = new Map();
    let s = "";
    for (const ch of t) {
      const id = model.vocabulary.indexOf(ch);
      if (id < 0) skipped.set(ch, (skipped.get(ch) || 0) + 1);
      else {
        out.push(id);
        s += ch;
      }
    }
    return { ids: out, text: s, skipped };
  }

  /** Run `text`: reuse every position before the first changed id, step the rest. */
  function run(text) {
    const enc = encode(text);
    let k = 0;
    while (k < ids.length && k < enc.ids.length && ids[k] === enc.ids[k]) k++;
    ids.length = k;
    recs.length = k;
    probs.length = k;
    states.length = k + 1;
    model.restoreState(states[k]);
    for (let t = k; t < enc.ids.length; t++) {
      const rec = model.newRecord();
      probs.push(model.traceStep(enc.ids[t], rec));
      recs.push(rec);
      ids.push(enc.ids[t]);
      states.push(model.saveState());
    }
    kept = enc.text;
    return enc;
  }

  function quantise(arr, lo, hi) {
    return Math.max(0, Math.min(255, Math.round(((arr - lo) / (hi - lo)) * 255)));
  }

  /** page.js's data for the current text: arrays as bytes (units × time) over each array's recorded range. */
  function data() {
    const T = ids.length;
    const layers = view.layers.map(({ layer, names: shown }) => {
      const arrays = {};
      for (const q of shown) {
        const [lo, hi] = view.range(layer, q);
        const bytes = new Uint8Array(view.units.length * T);
        view.units.forEach((u, r) => {
          for (let t = 0; t < T; t++) bytes[r * T + t] = quantise(recs[t][layer - 1][q][u], lo, hi);
        });
        arrays[q] = { bytes, levels: 256 };
      }
      return { layer, arrays };
    });
    const surprise = [];
    for (let t = 0; t + 1 < T; t++) surprise.push(-Math.log2(Math.max(probs[t][ids[t + 1]], 1e-30)));
    const top_ids = [];
    const top_p = [];
    for (let t = 0; t < T; t++) {
      const order = Array.from(probs[t].keys()).sort((a, b) => probs[t][b] - probs[t][a]).slice(0, 5);
      top_ids.push(order);
      top_p.push(order.map((j) => probs[t][j]));
    }
    return { text: kept, layers, surprise, top_ids, top_p };
  }

  function update() {
    const t0 = performance.now();
    document.body.dataset.liveState = "running";
    const enc = run(box.value);
    const d = data();
    view.show(d);
    const bits = d.surprise.length ? d.surprise.reduce((a, b) => a + b, 0) / d.surprise.length : 0;
    note.textContent = enc.skipped.size
      ? `Skipped, not in the model's vocabulary: ${[...enc.skipped].map(([c, n]) => `${JSON.stringify(c)} ×${n}`).join(", ")}. `
      : "";
    note.textContent += `${ids.length} characters run in this page; ${bits.toFixed(3)} bits/char.`;
    note.classList.toggle("skipped", enc.skipped.size > 0);
    document.body.dataset.liveBitsPerChar = String(bits);
    document.body.dataset.liveUpdateMs = String(performance.now() - t0);
    document.body.dataset.liveState = "done";
  }

  let generating = null;
  function write() {
    if (generating) {
      generating = null;
      return;
    }
    const temperature = Number(document.getElementById("live-temperature").value);
    const seed = Number(document.getElementById("live-seed").value);
    const length = Number(document.getElementById("live-length").value);
    const next = uniforms(seed);
    if (!ids.length) box.value = model.primeText("") + box.value;
    update();
    let left = length;
    const button = document.getElementById("live-write");
    button.textContent = "stop";
    generating = () => {
      const batch = Math.min(left, 50); // characters per frame: the views redraw once per frame
      let text = box.value;
      for (let n = 0; n < batch; n++) {
        const id = pick(probs[probs.length - 1].map(Math.log), next(), temperature); // log p: logits up to a constant
        text += model.vocabulary[id];
        box.value = text;
        run(text);
      }
      left -= batch;
      update();
      if (left > 0 && generating) requestAnimationFrame(generating);
      else {
        generating = null;
        button.textContent = "let the model write";
      }
    };
    requestAnimationFrame(generating);
  }

  box.addEventListener("input", update);
  document.getElementById("live-write").addEventListener("click", write);
  document.getElementById("live").hidden = false;
  // for tests and scripts: the float values behind the views
  window.charlstmLive = { model, names, trace: () => ({ ids: [...ids], recs, probs }), update };
  const fromUrl = new URLSearchParams(location.search).get("text");
  if (fromUrl !== null) {
    box.value = fromUrl;
    update();
  }
  document.body.dataset.live = "ready";
}

startLive().catch((e) => {
  console.error(e);
  document.body.dataset.liveState = "error";
});
