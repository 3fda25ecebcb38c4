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

  // gate saturation (detectors.py `saturation`): per layer and gate, per unit, how many characters have the
  // gate < 0.1 and > 0.9; kept as running counts, so a step adds one column and an edit subtracts the rerun ones
  const [LOW, HIGH] = [Math.fround(0.1), Math.fround(0.9)]; // NumPy 2 compares float32 gates with float32(0.1)
  const SATURABLE = ["f", "i", "o", "z", "r"].filter((g) => names.includes(g));
  const counts = model.net.layers.map(() =>
    Object.fromEntries(SATURABLE.map((g) => [g, { low: new Int32Array(model.net.units), high: new Int32Array(model.net.units) }])),
  );
  function count(rec, sign) {
    rec.forEach((layer, l) => {
      for (const g of SATURABLE) {
        const v = layer[g];
        const c = counts[l][g];
        for (let j = 0; j < v.length; j++) {
          if (v[j] < LOW) c.low[j] += sign;
          if (v[j] > HIGH) c.high[j] += sign;
        }
      }
    });
  }

  /** Run `text`: reuse every position before the first changed id, step the rest. */
  function run(text) {
    const enc = encode(text);
    let k = 0;
    while (k < ids.length && k < enc.ids.length && ids[k] === enc.ids[k]) k++;
    for (let t = k; t < recs.length; t++) count(recs[t], -1);
    ids.length = k;
    cols.length = Math.min(cols.length, k);
    written = Math.min(written, k);
    recs.length = k;
    probs.length = k;
    states.length = k + 1;
    model.restoreState(states[k]);
    for (let t = k; t < enc.ids.length; t++) append(enc.ids[t]);
    kept = enc.text;
    return enc;
  }

  /** One character more at the end, one step (`run` steps with it; the model writing calls it alone). */
  function append(id) {
    const rec = model.newRecord();
    probs.push(model.traceStep(id, rec));
    recs.push(rec);
    count(rec, 1);
    ids.push(id);
    states.push(model.saveState());
    kept += model.vocabulary[id];
  }

  function quantise(arr, lo, hi) {
    return Math.max(0, Math.min(255, Math.round(((arr - lo) / (hi - lo)) * 255)));
  }

  // per position, what the views need, computed once: quantised columns, top 5 (cols[t] beside recs[t])
  const cols = [];
  function column(t) {
    const out = {};
    for (const { layer, names: shown } of view.layers) {
      for (const q of shown) {
        const [lo, hi] = view.range(layer, q);
        const v = recs[t][layer - 1][q];
        const c = new Uint8Array(view.units.length);
        view.units.forEach((u, r) => (c[r] = quantise(v[u], lo, hi)));
        out[`${layer}${q}`] = c;
      }
    }
    const p = probs[t];
    const top = [];
    for (let j = 0; j < p.length; j++) {
      // insertion into the 5 best: O(vocab), no sort
      if (top.length < 5 || p[j] > p[top[4]]) {
        top.push(j);
        top.sort((a, b) => p[b] - p[a]);
        if (top.length > 5) top.pop();
      }
    }
    out.top = top;
    out.topP = top.map((j) => p[j]);
    return out;
  }

  // the views' arrays: per shown (layer, quantity), bytes (units × capacity); a column is written once
  const buffers = new Map();
  let capacity = 0;
  let written = 0; // columns valid in the buffers

  /** page.js's data for the current text: arrays as bytes (units × capacity) over each array's recorded range. */
  function data() {
    const T = ids.length;
    cols.length = Math.min(cols.length, T);
    for (let t = cols.length; t < T; t++) cols.push(column(t));
    const U = view.units.length;
    written = Math.min(written, T);
    if (T > capacity) {
      capacity = Math.max(2 * capacity, Math.ceil(T / 512) * 512); // doubling: rewritten O(log T) times
      buffers.clear();
      written = 0;
    }
    const layers = view.layers.map(({ layer, names: shown }) => {
      const arrays = {};
      for (const q of shown) {
        const key = `${layer}${q}`;
        if (!buffers.has(key)) buffers.set(key, new Uint8Array(U * capacity));
        const bytes = buffers.get(key);
        for (let t = written; t < T; t++) {
          const c = cols[t][key];
          for (let r = 0; r < U; r++) bytes[r * capacity + t] = c[r];
        }
        arrays[q] = { bytes, levels: 256, stride: capacity };
      }
      return { layer, arrays };
    });
    written = T;
    const surprise = [];
    for (let t = 0; t + 1 < T; t++) surprise.push(-Math.log2(Math.max(probs[t][ids[t + 1]], 1e-30)));
    const valueAt = (layer, q, unit, t) => recs[t][layer - 1][q][unit];
    const saturation = counts.map((gates) =>
      Object.fromEntries(Object.entries(gates).map(([g, c]) => [g, { low: c.low, high: c.high, n: T }])),
    );
    return { text: kept, layers, surprise, top_ids: cols.map((c) => c.top), top_p: cols.map((c) => c.topP), valueAt, saturation };
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

  const STEP_MS = 40; // stepping time per frame while the model writes (the views redraw after it)
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
    const start = performance.now();
    document.body.dataset.liveWrite = "running";
    generating = () => {
      // Steps for STEP_MS, then one redraw of every view: the redraw costs about the same whatever the
      // batch (2×300 LSTM, headless Chromium, machine F: 50 characters a frame wrote 912-948 chars/s,
      // benchmarks/inspect_live.py), so the frame's stepping time, not its character count, is fixed.
      const t0 = performance.now();
      model.restoreState(states[ids.length]); // the state after the text (whatever ran since)
      let text = box.value;
      do {
        const id = pick(probs[probs.length - 1].map(Math.log), next(), temperature); // log p: logits up to a constant
        text += model.vocabulary[id];
        append(id);
        left--;
      } while (left > 0 && performance.now() - t0 < STEP_MS);
      box.value = text; // once a frame: setting a long box's value lays it out again
      update();
      if (left > 0 && generating) requestAnimationFrame(generating);
      else {
        generating = null;
        button.textContent = "let the model write";
        // chars/s with the views following (they redraw once per frame)
        document.body.dataset.liveWriteCharsPerSecond = String(((length - left) * 1000) / (performance.now() - start));
        document.body.dataset.liveWrite = "done";
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
