"use strict";
(function () {
const D = JSON.parse(document.getElementById("data").textContent);
let chars = Array.from(D.text);
let T = chars.length;

// --- colour scales: diverging (RdBu) for h and c, sequential (viridis) for gates ---
function lut(stops) {
  const out = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const x = i / 255 * (stops.length - 1), k = Math.min(Math.floor(x), stops.length - 2), f = x - k;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = stops[k][c] + (stops[k + 1][c] - stops[k][c]) * f;
  }
  return out;
}
const DIVERGING = lut([[5, 48, 97], [67, 147, 195], [209, 229, 240], [247, 247, 247], [253, 219, 199], [214, 96, 77], [103, 0, 31]]);
const SEQUENTIAL = lut([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]]);
const SURPRISE = lut([[255, 255, 255], [254, 217, 118], [253, 141, 60], [227, 26, 28], [128, 0, 38]]);
const GREY = lut([[255, 255, 255], [60, 60, 60]]);
function lut32(L) {  // RGBA packed for a Uint32 view of ImageData (little-endian: A B G R)
  const out = new Uint32Array(256);
  for (let i = 0; i < 256; i++) out[i] = (255 << 24 | L[i * 3 + 2] << 16 | L[i * 3 + 1] << 8 | L[i * 3]) >>> 0;
  return out;
}
const isGate = (q) => !(q === "h" || q === "c");
const scaleFor = (q) => isGate(q) ? SEQUENTIAL : DIVERGING;
const rgb = (L, i) => { i = Math.max(0, Math.min(255, i | 0)); return `rgb(${L[i * 3]},${L[i * 3 + 1]},${L[i * 3 + 2]})`; };
const textOn = (L, i) => { i = Math.max(0, Math.min(255, i | 0)); return (0.299 * L[i * 3] + 0.587 * L[i * 3 + 1] + 0.114 * L[i * 3 + 2]) < 120 ? "#fff" : "#111"; };
const showChar = (c) => c === "\n" ? "↵" : c === " " ? "\u00a0" : c === "\t" ? "→" : c;

function drawLegend(canvas, L) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  for (let x = 0; x < w; x++) { ctx.fillStyle = rgb(L, x / (w - 1) * 255); ctx.fillRect(x, 0, 1, h); }
}

// --- data: uint8 (units × time) per layer and quantity, zlib + base64 ---
async function inflate(b64) {
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
const stride = (arr) => arr.stride ?? T;  // bytes per unit row: T, or the live view's capacity (it grows by columns)
const value = (arr, q) => arr.lo + (q / 255) * (arr.hi - arr.lo);
const U = D.units.length;
const unitIndex = new Map(D.units.map((u, k) => [u, k]));

const state = { layer: D.default.layer, quantity: D.default.quantity, unit: D.default.unit, cur: 0 };
const layerData = (li) => D.layers.find((l) => l.layer === li);

// --- 1. the text view ---
const textEl = document.getElementById("text");
const spans = [];
function buildText(keep = 0) {
  // keep the first `keep` spans (the live view's unchanged prefix): typing one character adds one span
  while (spans.length > keep) {
    const s = spans.pop();
    if (s.nextSibling?.tagName === "BR") s.nextSibling.remove();
    s.remove();
  }
  const frag = document.createDocumentFragment();
  for (let t = keep; t < T; t++) {
    const c = chars[t], s = document.createElement("span");
    s.className = "ch" + (c === "\n" ? " nl" : "");
    s.textContent = showChar(c);
    s.dataset.t = t;
    s.tabIndex = -1;
    spans.push(s);
    frag.appendChild(s);
    if (c === "\n") frag.appendChild(document.createElement("br"));
  }
  textEl.appendChild(frag);
  for (let t = Math.max(0, keep - 1); t < T; t++) {  // the last kept char's surprise is new: its next char is
    const b = t < D.surprise.length ? Math.min(D.surprise[t] / 8, 1) * 255 : 0;
    spans[t].style.borderBottomColor = t < D.surprise.length ? rgb(SURPRISE, b) : "transparent";
  }
}
function colourText(from = 0) {
  const arr = layerData(state.layer).arrays[state.quantity], k = unitIndex.get(state.unit), L = scaleFor(state.quantity);
  const row = arr.bytes.subarray(k * stride(arr), k * stride(arr) + T);
  for (let t = from; t < T; t++) { spans[t].style.background = rgb(L, row[t]); spans[t].style.color = textOn(L, row[t]); }
  drawLegend(document.getElementById("legend-unit"), L);
  document.getElementById("legend-unit-label").textContent =
    `${arr.label}: ${arr.lo.toFixed(2)} … ${arr.hi.toFixed(2)} (layer ${state.layer}, unit ${state.unit})`;
}
const esc = (s) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
function tipHTML(t) {
  const rows = D.top_ids[t].map((id, n) => {
    const c = D.vocab[id], p = D.top_p[t][n], actual = t + 1 < T && chars[t + 1] === c;
    return `<tr class="${actual ? "actual" : ""}"><td><code>${esc(showChar(c))}</code></td><td>${(p * 100).toFixed(1)}%</td>` +
      `<td><span class="bar" style="width:${Math.round(p * 90)}px"></span></td></tr>`;
  }).join("");
  let next = "end of the text: nothing to predict";
  if (t + 1 < T) {
    const bits = D.surprise[t];
    next = `actual next <code>${esc(showChar(chars[t + 1]))}</code>: p = ${(Math.pow(2, -bits) * 100).toFixed(2)}%, ` +
      `surprise ${bits.toFixed(2)} bits`;
  }
  const k = unitIndex.get(state.unit), ld = layerData(state.layer);
  const gates = Object.entries(ld.arrays).map(([q, a]) => `${q} ${value(a, a.bytes[k * stride(a) + t]).toFixed(2)}`).join(" · ");
  return `<div>after <code>${esc(showChar(chars[t]))}</code> (char ${t}) the model predicts:</div>` +
    `<table>${rows}</table><div>${next}</div><div>layer ${state.layer} unit ${state.unit}: ${gates}</div>`;
}
const tip = document.getElementById("tip");
function showTip(t, el) {
  tip.innerHTML = tipHTML(t);
  tip.hidden = false;
  const r = el.getBoundingClientRect(), w = tip.offsetWidth, h = tip.offsetHeight;
  let x = Math.min(r.left, window.innerWidth - w - 8), y = r.bottom + 6;
  if (y + h > window.innerHeight) y = Math.max(4, r.top - h - 6);
  tip.style.left = `${Math.max(4, x)}px`;
  tip.style.top = `${y}px`;
}
function setCur(t, focus) {
  if (!T) return;
  spans[state.cur]?.classList.remove("cur");
  state.cur = Math.max(0, Math.min(T - 1, t));
  const s = spans[state.cur];
  s.classList.add("cur");
  if (focus) s.focus({ preventScroll: false });
  showTip(state.cur, s);
}
textEl.addEventListener("mouseover", (e) => { if (e.target.dataset.t !== undefined) showTip(+e.target.dataset.t, e.target); });
textEl.addEventListener("mouseleave", () => { if (!textEl.contains(document.activeElement)) tip.hidden = true; });
textEl.addEventListener("focus", (e) => { if (e.target === textEl) setCur(state.cur, true); });
textEl.addEventListener("click", (e) => { if (e.target.dataset.t !== undefined) setCur(+e.target.dataset.t, true); });
textEl.addEventListener("focusout", (e) => { if (!textEl.contains(e.relatedTarget)) tip.hidden = true; });
textEl.addEventListener("keydown", (e) => {
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: 40, ArrowUp: -40, Home: -T, End: T }[e.key];
  if (step !== undefined) { e.preventDefault(); setCur(state.cur + step, true); }
  if (e.key === "Escape") tip.hidden = true;
});

function buildControls() {
  const sl = document.getElementById("sel-layer"), sq = document.getElementById("sel-quantity"), su = document.getElementById("sel-unit");
  D.layers.forEach((l) => sl.add(new Option(`layer ${l.layer}`, l.layer)));
  const fillQ = () => {
    sq.innerHTML = "";
    Object.entries(layerData(state.layer).arrays).forEach(([q, a]) => sq.add(new Option(a.label, q)));
    if (!layerData(state.layer).arrays[state.quantity]) state.quantity = Object.keys(layerData(state.layer).arrays)[0];
    sq.value = state.quantity;
  };
  sl.value = state.layer; fillQ();
  su.min = D.units[0]; su.max = D.units[D.units.length - 1]; su.value = state.unit;
  sl.onchange = () => { state.layer = +sl.value; fillQ(); colourText(); };
  sq.onchange = () => { state.quantity = sq.value; colourText(); };
  su.onchange = () => {
    const u = +su.value;
    if (unitIndex.has(u)) { state.unit = u; colourText(); } else su.value = state.unit;
  };
}
function selectUnit(layer, unit, quantity) {
  if (!layerData(layer) || !unitIndex.has(unit)) return;
  state.layer = layer; state.unit = unit;
  if (quantity) state.quantity = quantity;
  document.getElementById("sel-layer").value = layer;
  document.getElementById("sel-layer").onchange();
  document.getElementById("sel-quantity").value = state.quantity;
  state.quantity = document.getElementById("sel-quantity").value;
  document.getElementById("sel-unit").value = unit;
  colourText();
  document.getElementById("text-view").scrollIntoView({ behavior: "smooth" });
}

// --- 2. heatmaps ---
function buildHeatmaps() {
  const legends = document.getElementById("heatmap-legends");
  [["h, c", DIVERGING, "−  0  +"], ["gates", SEQUENTIAL, "0 … 1"]].forEach(([name, L, range]) => {
    const box = document.createElement("span"); box.className = "legend-box";
    const c = document.createElement("canvas"); c.width = 160; c.height = 12; drawLegend(c, L);
    box.append(`${name} `, c, ` ${range}   `); legends.appendChild(box);
  });
  legends.textContent = "";
  const list = document.getElementById("heatmap-list"), readout = document.getElementById("heat-readout");
  list.textContent = "";
  heats.length = 0;
  if (!T) return;
  D.layers.forEach((l) => Object.entries(l.arrays).forEach(([q, a]) => {
    const wrap = document.createElement("div"); wrap.className = "heat";
    const title = document.createElement("div"); title.className = "heat-title";
    const c = document.createElement("canvas"); c.width = stride(a); c.height = U;
    c.dataset.layer = l.layer; c.dataset.quantity = q;
    const h = { l, q, c, title, L32: lut32(scaleFor(q)) };
    heats.push(h);
    drawColumns(h, 0);
    const at = (e) => {
      const r = c.getBoundingClientRect();
      const t = Math.floor((e.clientX - r.left) / r.width * c.width), k = Math.floor((e.clientY - r.top) / r.height * U);
      return [Math.max(0, Math.min(T - 1, t)), Math.max(0, Math.min(U - 1, k))];
    };
    c.addEventListener("mousemove", (e) => {
      const [t, k] = at(e), a = l.arrays[q];
      readout.textContent = `layer ${l.layer} unit ${D.units[k]}, char ${t} '${showChar(chars[t])}': ${a.label} = ${value(a, a.bytes[k * stride(a) + t]).toFixed(3)}`;
    });
    c.addEventListener("click", (e) => { const [, k] = at(e); selectUnit(l.layer, D.units[k], q); });
    wrap.append(title, c); list.appendChild(wrap);
  }));
}
const heats = [];
/** Draw columns from..T-1 of one heat map (and clear what lies right of T): typing one char draws one column. */
function drawColumns(h, from) {
  const a = h.l.arrays[h.q], S = stride(a), w = T - from, ctx = h.c.getContext("2d");
  h.title.textContent = `layer ${h.l.layer} · ${a.label} · ${U} units × ${T} characters · ${a.lo.toFixed(2)} … ${a.hi.toFixed(2)}`;
  ctx.clearRect(from, 0, h.c.width - from, U);
  if (w <= 0) return;
  const img = ctx.createImageData(w, U), px = new Uint32Array(img.data.buffer), bytes = a.bytes, L32 = h.L32;
  for (let k = 0; k < U; k++) for (let t = 0; t < w; t++) px[k * w + t] = L32[bytes[k * S + from + t]];  // one 32-bit store per pixel
  ctx.putImageData(img, from, 0);
}
/** The live view's redraw: only the new columns when every canvas still has the arrays' width. */
function updateHeatmaps(from) {
  if (!heats.length || heats.some((h) => h.c.width !== stride(h.l.arrays[h.q]))) buildHeatmaps();
  else heats.forEach((h) => drawColumns(h, from));
}

// --- 4. interpretable cells ---
function buildStrips() {
  const box = document.getElementById("strips");
  if (!D.strips.length) { box.textContent = "No detector varies over this text."; return; }
  let last = "";
  D.strips.forEach((s) => {
    if (s.detector !== last) {
      const h = document.createElement("h3"); h.textContent = s.detector; box.appendChild(h); last = s.detector;
    }
    const div = document.createElement("div"); div.className = "strip"; div.tabIndex = 0;
    const lab = document.createElement("div"); lab.className = "strip-label";
    lab.textContent = `layer ${s.layer}, unit ${s.unit} (${s.state}): r = ${s.r >= 0 ? "+" : ""}${s.r.toFixed(3)}` +
      ` · characters ${s.start}–${s.start + s.series.length - 1}`;
    const txt = document.createElement("div"); txt.className = "strip-text";
    const m = Math.max(...s.series.map(Math.abs)) || 1;
    s.series.forEach((v, t) => {
      const sp = document.createElement("span"), i = (v / m + 1) * 127.5;
      const c = chars[s.start + t];
      sp.textContent = showChar(c);
      sp.style.background = rgb(DIVERGING, i); sp.style.color = textOn(DIVERGING, i);
      sp.style.borderBottomColor = rgb(GREY, s.signal[t] * 255);
      txt.appendChild(sp);
      if (c === "\n") txt.appendChild(document.createElement("br"));
    });
    div.append(lab, txt);
    const go = () => selectUnit(s.layer, s.unit, s.state);
    div.addEventListener("click", go);
    div.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
    box.appendChild(div);
  });
  const f = document.getElementById("forget");
  f.innerHTML = D.forget.length ? "<ul>" + D.forget.map((d) =>
    `<li>layer ${d.layer}, unit ${d.unit}: ${d.gate} = ${d.at_end.toFixed(2)} at . ! ? against ${d.elsewhere.toFixed(2)} elsewhere (drop ${d.drop.toFixed(2)})</li>`).join("") + "</ul>"
    : "<p>No forget gate drops at sentence ends in this text (or the cell has none).</p>";
}

async function main() {
  for (const l of D.layers) for (const a of Object.values(l.arrays)) {
    const q = await inflate(a.b64), f = 255 / (a.levels - 1);  // fewer levels for big pages: back to 0..255
    if (a.levels !== 256) for (let i = 0; i < q.length; i++) q[i] = Math.round(q[i] * f);
    a.bytes = q; delete a.b64;
  }
  drawLegend(document.getElementById("legend-surprise"), SURPRISE);
  buildText(); buildControls(); colourText(); buildHeatmaps(); buildStrips();
  document.body.dataset.ready = "1";
}

// The live view (live.js) shows another text through the same views: `data` has D's shape, arrays as bytes.
let shownLive = false;

/** Move the recorded saturation charts' points (report.py draws one SVG per shown layer with gates, each gate's
 * units in order) to the live text's fractions; the diagonal line gives the chart's axes. */
function updateSaturation(sat) {
  const svgs = document.querySelectorAll("#saturation .charts svg");
  const withGates = D.layers.map((l) => l.layer).filter((li) => Object.keys(sat[li - 1]).length);
  withGates.forEach((li, n) => {
    const svg = svgs[n], diag = svg?.querySelector("line.diag");
    if (!diag) return;
    const x0 = +diag.getAttribute("x1"), x1 = +diag.getAttribute("x2"), y1 = +diag.getAttribute("y1"), y0 = +diag.getAttribute("y2");
    const circles = svg.querySelectorAll("circle");
    let k = 0;
    for (const c of Object.values(sat[li - 1])) {
      for (let j = 0; j < c.low.length; j++, k++) {
        const lo = c.n ? c.low[j] / c.n : 0, hi = c.n ? c.high[j] / c.n : 0;
        const c2 = circles[k];
        if (!c2) continue;
        // whole pixels, written only when they move: one more character moves few points by a pixel
        // (every point written each keystroke took 2×300 LSTM keystrokes from 33 to 49 ms at 1,800 chars)
        const cx = Math.round(x0 + lo * (x1 - x0)), cy = Math.round(y0 + hi * (y1 - y0));
        if (c2._cx !== cx) { c2.setAttribute("cx", cx); c2._cx = cx; }
        if (c2._cy !== cy) { c2.setAttribute("cy", cy); c2._cy = cy; }
      }
    }
  });
}

// The detector units' traces over the live text: the units found on the recorded text (that needs the
// training corpus), their values over the first STRIP live characters; typing adds one span per strip.
const STRIP = 240;
const liveStrips = [];
function updateLiveStrips(keep, valueAt) {
  const box = document.getElementById("strips");
  if (!D.strips.length) return;
  if (!liveStrips.length) {
    box.textContent = "";
    const note = document.createElement("p"); note.className = "hint";
    note.textContent = "Live text: these units were found on the recorded text (finding them needs the training " +
      "corpus); below, their values over the first " + STRIP + " characters of the text you typed.";
    box.appendChild(note);
    D.strips.forEach((s) => {
      const div = document.createElement("div"); div.className = "strip";
      const lab = document.createElement("div"); lab.className = "strip-label";
      lab.textContent = `${s.detector}: layer ${s.layer}, unit ${s.unit} (${s.state}), r = ${s.r.toFixed(3)} on the recorded text`;
      const txt = document.createElement("div"); txt.className = "strip-text";
      div.append(lab, txt); box.appendChild(div);
      div.addEventListener("click", () => selectUnit(s.layer, s.unit, s.state));
      liveStrips.push({ s, txt, spans: [], m: Math.max(...s.series.map(Math.abs)) || 1 });
    });
  }
  const end = Math.min(T, STRIP);
  for (const ls of liveStrips) {
    while (ls.spans.length > Math.min(keep, end)) {
      const sp = ls.spans.pop();
      if (sp.nextSibling?.tagName === "BR") sp.nextSibling.remove();
      sp.remove();
    }
    for (let t = ls.spans.length; t < end; t++) {
      const sp = document.createElement("span"), c = chars[t];
      const i = (valueAt(ls.s.layer, ls.s.state, ls.s.unit, t) / ls.m + 1) * 127.5;
      sp.textContent = showChar(c);
      sp.style.background = rgb(DIVERGING, i); sp.style.color = textOn(DIVERGING, i);
      ls.txt.appendChild(sp); ls.spans.push(sp);
      if (c === "\n") ls.txt.appendChild(document.createElement("br"));
    }
  }
}
window.inspectView = {
  show(data) {
    D.text = data.text; D.surprise = data.surprise; D.top_ids = data.top_ids; D.top_p = data.top_p;
    data.layers.forEach((l) => { const ld = layerData(l.layer); for (const [q, a] of Object.entries(l.arrays)) ld.arrays[q] = { ...ld.arrays[q], ...a }; });
    const next = Array.from(D.text);
    let keep = 0;  // the recorded text's spans are never kept: its values came quantised from the file
    while (shownLive && keep < spans.length && keep < next.length && chars[keep] === next[keep]) keep++;
    spans[state.cur]?.classList.remove("cur");
    chars = next; T = chars.length; state.cur = 0; tip.hidden = true;
    shownLive = true;
    buildText(keep); if (T) colourText(keep); updateHeatmaps(keep);
    if (data.valueAt) updateLiveStrips(keep, data.valueAt);
    if (data.saturation) updateSaturation(data.saturation);
  },
  units: D.units, layers: D.layers.map((l) => ({ layer: l.layer, names: Object.keys(l.arrays) })),
  range: (layer, q) => { const a = layerData(layer).arrays[q]; return [a.lo, a.hi]; },
};
window.inspectReady = main().catch((e) => { console.error(e); document.body.dataset.ready = "error"; });
})();
