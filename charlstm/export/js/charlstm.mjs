// charlstm.mjs: a trained charlstm network and its sampler, in the browser or Node, no dependencies.
//
//   import { load } from "./charlstm.mjs";
//   const model = await load("model.bin");
//   model.generate({ prime: "the ", length: 200, seed: 1, temperature: 0.8 });   // prime + 200 chars
//   for (const ch of model.stream({ prime: "the ", length: 200, seed: 1 })) ...   // one char at a time
//
// The same equations as charlstm's NumPy sampler (charlstm/sampler/equations.py), the same sampling
// rules (charlstm/sampler/sampling.py `pick`: temperature 0 = greedy, top-k, top-p, inverse CDF). The
// random stream differs from NumPy's: the same seed gives the same text here on every run.
// The matrix-vector products run in WebAssembly SIMD (kernel.wat) where it is available,
// otherwise in plain JavaScript (`matvecJS`, the reference the kernel is tested against).
// Weights file format: charlstm/export/binary.py.

const GATES = { lstm: 4, peephole: 4, cifg: 3, gru: 3, rnn: 1 };
/** What a traced step records per layer and cell, in charlstm/network.py RECORDED's order ("g": the candidate). */
export const RECORDED = {
  lstm: ["h", "c", "f", "i", "o", "g"],
  peephole: ["h", "c", "f", "i", "o", "g"],
  cifg: ["h", "c", "f", "i", "o", "g"],
  gru: ["h", "z", "r", "g"],
  rnn: ["h"],
};
const KERNEL_FILE = "charlstm-kernel.wasm";
const ALIGN = 32; // floats: matrix columns are padded to a multiple of the kernel's 32-column block

// --- the weights file ---------------------------------------------------------------------------

let HALF_TABLE = null;

function halfTable() {
  // every float16 bit pattern as float32: 256 KB, built once, makes decoding a lookup
  if (HALF_TABLE) return HALF_TABLE;
  HALF_TABLE = new Float32Array(65536);
  for (let b = 0; b < 65536; b++) {
    const sign = b & 0x8000 ? -1 : 1;
    const exp = (b >> 10) & 0x1f;
    const frac = b & 0x3ff;
    let v;
    if (exp === 0) v = frac * 2 ** -24;
    else if (exp === 31) v = frac ? NaN : Infinity;
    else v = (1 + frac / 1024) * 2 ** (exp - 15);
    HALF_TABLE[b] = sign * v;
  }
  return HALF_TABLE;
}

/** Parse a weights file: { header, arrays: { name: { shape, data: Float32Array } } }. */
export function readWeights(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const magic = String.fromCharCode(...u8.subarray(0, 8));
  if (magic !== "CHARLSTM") throw new Error("not a charlstm weights file");
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const version = view.getUint32(8, true);
  if (version !== 1) throw new Error(`weights file version ${version}: this charlstm.mjs reads version 1`);
  const n = view.getUint32(12, true);
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(16, 16 + n)));
  const start = 16 + n;
  const arrays = {};
  for (const { name, shape, offset } of header.arrays) {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    const at = start + offset;
    if (header.dtype === "float16") {
      const table = halfTable();
      for (let i = 0; i < count; i++) data[i] = table[view.getUint16(at + 2 * i, true)];
    } else {
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(at + 4 * i, true);
    }
    arrays[name] = { shape, data };
  }
  return { header, arrays };
}

// --- matrix-vector products ---------------------------------------------------------------------

/** out[j] = sum_i x[i] * M[i, j] over the heap (offsets in floats; cols a multiple of 32). */
export function matvecJS(heap, out, x, m, rows, cols) {
  const acc = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const xi = heap[x + i];
    const row = m + i * cols;
    for (let j = 0; j < cols; j++) acc[j] += xi * heap[row + j];
  }
  heap.set(acc, out);
}

async function wasmKernel(wasmBytes, floats) {
  if (!wasmBytes || typeof WebAssembly === "undefined" || !WebAssembly.validate(wasmBytes)) return null;
  const memory = new WebAssembly.Memory({ initial: Math.ceil((floats * 4) / 65536) + 1 });
  const { instance } = await WebAssembly.instantiate(wasmBytes, { env: { memory } });
  const heap = new Float32Array(memory.buffer);
  const fn = instance.exports.matvec;
  return { heap, matvec: (h, out, x, m, rows, cols) => fn(4 * out, 4 * x, 4 * m, rows, cols) };
}

// --- the network --------------------------------------------------------------------------------

const sigmoid = (x) => 1 / (1 + Math.exp(-x));
const padded = (n) => Math.ceil(n / ALIGN) * ALIGN;

class Heap {
  // A bump allocator over one Float32Array, so that the WebAssembly kernel sees every operand.
  constructor() {
    this.size = 0;
  }
  alloc(n) {
    const at = this.size;
    this.size += padded(n);
    return at;
  }
}

/** Copy a (rows, cols) matrix into the heap at `at` with its rows padded to `stride` columns. */
function place(heap, at, data, rows, cols, stride) {
  for (let i = 0; i < rows; i++) heap.set(data.subarray(i * cols, (i + 1) * cols), at + i * stride);
}

function buildLayers(header, arrays, alloc) {
  const G = GATES[header.cell];
  if (!G) throw new Error(`unknown cell ${header.cell}`);
  const u = header.units;
  const layers = [];
  for (let k = 1; k <= header.layers; k++) {
    const get = (n) => arrays[`layer${k}/${n}`]?.data;
    const inp = k === 1 ? 0 : u; // the input part of [x; h] (layer 1's input is folded into its table)
    const n = G * u;
    const L = { k, inp, n, stride: padded(n), table: get("table"), bias: get("bias"), rbias: get("recurrent_bias") };
    L.p = { i: get("peephole_i"), f: get("peephole_f"), o: get("peephole_o") };
    L.xh = alloc(inp + u); // [x; h]: the layer's input, then its own hidden state
    L.z = alloc(L.stride); // gate pre-activations
    L.zh = header.cell === "gru" ? alloc(L.stride) : null; // GRU: h @ U apart (the reset gate scales it)
    // GRU keeps W and U apart; other cells multiply [x; h] by [W; U] stacked: one product a step
    const stacked = header.cell !== "gru" && k > 1;
    L.W = k > 1 ? alloc((stacked ? inp + u : inp) * L.stride) : null;
    L.U = stacked ? L.W + inp * L.stride : alloc(u * L.stride);
    L.fill = (heap) => {
      if (L.W !== null) place(heap, L.W, get("kernel"), inp, n, L.stride);
      place(heap, L.U, get("recurrent_kernel"), u, n, L.stride);
    };
    L.stacked = stacked;
    layers.push(L);
  }
  return layers;
}

class Network {
  constructor(header, arrays, kernel) {
    this.header = header;
    this.cell = header.cell;
    this.units = header.units;
    this.vocab = header.vocabulary.length;
    this.kernelName = kernel.name;
    this.matvec = kernel.matvec;
    this.heap = kernel.heap;
    this.layers = kernel.layers;
    this.outStride = kernel.outStride;
    this.Wout = kernel.Wout;
    this.logitsAt = kernel.logits;
    this.bout = arrays["output/bias"].data;
    for (const L of this.layers) L.fill(this.heap);
    place(this.heap, this.Wout, arrays["output/kernel"].data, this.units, this.vocab, this.outStride);
    this.logits = this.heap.subarray(this.logitsAt, this.logitsAt + this.vocab);
    this.c = this.layers.map(() => new Float32Array(this.units));
    this.reset();
  }

  /** Back to the zero state. */
  reset() {
    for (const L of this.layers) this.heap.fill(0, L.xh, L.xh + L.inp + this.units);
    for (const c of this.c) c.fill(0);
  }

  /** The recurrent state (every layer's h, then c where the cell has one) as one new Float32Array. */
  saveState() {
    const u = this.units;
    const out = new Float32Array(2 * u * this.layers.length);
    this.layers.forEach((L, l) => {
      out.set(this.heap.subarray(L.xh + L.inp, L.xh + L.inp + u), 2 * l * u);
      out.set(this.c[l], (2 * l + 1) * u);
    });
    return out;
  }

  /** Continue from a state `saveState` returned. */
  restoreState(state) {
    const u = this.units;
    this.layers.forEach((L, l) => {
      this.heap.set(state.subarray(2 * l * u, (2 * l + 1) * u), L.xh + L.inp);
      this.c[l].set(state.subarray((2 * l + 1) * u, (2 * l + 2) * u));
    });
  }

  /**
   * Feed one character id; returns the logits (vocab) of the next character (a view the next step overwrites).
   * `record`, if given, is one object per layer of Float32Arrays (units) named as RECORDED[cell]; the step
   * writes every gate and state into them (the same quantities as NumPy's Network.trace).
   */
  step(id, record = null) {
    const H = this.heap;
    const u = this.units;
    let prevH = -1;
    for (let l = 0; l < this.layers.length; l++) {
      const L = this.layers[l];
      if (prevH >= 0) H.copyWithin(L.xh, prevH, prevH + u);
      this.project(L, id);
      if (record) this.updateRecorded(L, this.c[l], record[l]);
      else this.update(L, this.c[l]);
      prevH = L.xh + L.inp;
    }
    this.matvec(H, this.logitsAt, prevH, this.Wout, u, this.outStride);
    const lg = this.logits;
    for (let j = 0; j < this.vocab; j++) lg[j] += this.bout[j];
    return lg;
  }

  project(L, id) {
    // z = x W + b (+ h U for every cell but GRU, whose h U + b_h goes to zh)
    const H = this.heap;
    const u = this.units;
    const h = L.xh + L.inp;
    if (L.k === 1) {
      this.matvec(H, L.z, h, L.U, u, L.stride);
      const row = L.table.subarray(id * L.n, (id + 1) * L.n);
      if (L.zh !== null) {
        H.copyWithin(L.zh, L.z, L.z + L.n);
        H.set(row, L.z);
      } else {
        for (let j = 0; j < L.n; j++) H[L.z + j] += row[j];
      }
    } else if (L.stacked) {
      this.matvec(H, L.z, L.xh, L.W, L.inp + u, L.stride);
      for (let j = 0; j < L.n; j++) H[L.z + j] += L.bias[j];
    } else {
      this.matvec(H, L.z, L.xh, L.W, L.inp, L.stride);
      this.matvec(H, L.zh, h, L.U, u, L.stride);
      for (let j = 0; j < L.n; j++) H[L.z + j] += L.bias[j];
    }
    if (L.zh !== null) for (let j = 0; j < L.n; j++) H[L.zh + j] += L.rbias[j];
  }

  update(L, c) {
    // the cell's equations (charlstm/sampler/equations.py) on z; h is written in place into [x; h]
    const H = this.heap;
    const u = this.units;
    const z = L.z;
    const h = L.xh + L.inp;
    if (this.cell === "rnn") {
      for (let j = 0; j < u; j++) H[h + j] = Math.tanh(H[z + j]);
    } else if (this.cell === "gru") {
      const zh = L.zh;
      for (let j = 0; j < u; j++) {
        const upd = sigmoid(H[z + j] + H[zh + j]);
        const r = sigmoid(H[z + u + j] + H[zh + u + j]);
        const cand = Math.tanh(H[z + 2 * u + j] + r * H[zh + 2 * u + j]);
        H[h + j] = upd * H[h + j] + (1 - upd) * cand;
      }
    } else if (this.cell === "cifg") {
      for (let j = 0; j < u; j++) {
        const i = sigmoid(H[z + j]);
        const cj = (c[j] = (1 - i) * c[j] + i * Math.tanh(H[z + u + j]));
        H[h + j] = sigmoid(H[z + 2 * u + j]) * Math.tanh(cj);
      }
    } else {
      const p = L.p;
      const peep = this.cell === "peephole";
      for (let j = 0; j < u; j++) {
        const cp = c[j];
        const i = sigmoid(H[z + j] + (peep ? p.i[j] * cp : 0));
        const f = sigmoid(H[z + u + j] + (peep ? p.f[j] * cp : 0));
        const cj = (c[j] = f * cp + i * Math.tanh(H[z + 2 * u + j]));
        const o = sigmoid(H[z + 3 * u + j] + (peep ? p.o[j] * cj : 0));
        H[h + j] = o * Math.tanh(cj);
      }
    }
  }
}

// The update again, writing every gate: a twin of `update` (kept apart so that generation's step
// pays no branch per unit); tests check both against NumPy.
Network.prototype.updateRecorded = function (L, c, rec) {
  const H = this.heap;
  const u = this.units;
  const z = L.z;
  const h = L.xh + L.inp;
  if (this.cell === "rnn") {
    for (let j = 0; j < u; j++) rec.h[j] = H[h + j] = Math.tanh(H[z + j]);
  } else if (this.cell === "gru") {
    const zh = L.zh;
    for (let j = 0; j < u; j++) {
      const upd = (rec.z[j] = sigmoid(H[z + j] + H[zh + j]));
      const r = (rec.r[j] = sigmoid(H[z + u + j] + H[zh + u + j]));
      const cand = (rec.g[j] = Math.tanh(H[z + 2 * u + j] + r * H[zh + 2 * u + j]));
      rec.h[j] = H[h + j] = upd * H[h + j] + (1 - upd) * cand;
    }
  } else {
    const p = L.p;
    const peep = this.cell === "peephole";
    const cifg = this.cell === "cifg";
    for (let j = 0; j < u; j++) {
      const cp = c[j];
      let i, f, g, o;
      if (cifg) {
        i = sigmoid(H[z + j]);
        f = 1 - i;
        g = Math.tanh(H[z + u + j]);
      } else {
        i = sigmoid(H[z + j] + (peep ? p.i[j] * cp : 0));
        f = sigmoid(H[z + u + j] + (peep ? p.f[j] * cp : 0));
        g = Math.tanh(H[z + 2 * u + j]);
      }
      const cj = (c[j] = f * cp + i * g);
      if (cifg) o = sigmoid(H[z + 2 * u + j]);
      else o = sigmoid(H[z + 3 * u + j] + (peep ? p.o[j] * cj : 0));
      rec.i[j] = i;
      rec.f[j] = f;
      rec.g[j] = g;
      rec.o[j] = o;
      rec.c[j] = cj;
      rec.h[j] = H[h + j] = o * Math.tanh(cj);
    }
  }
};

async function network(header, arrays, kernelChoice, wasmBytes) {
  const heap = new Heap();
  const alloc = (n) => heap.alloc(n);
  const layers = buildLayers(header, arrays, alloc);
  const outStride = padded(header.vocabulary.length);
  const Wout = alloc(header.units * outStride);
  const logits = alloc(outStride);
  const wasm = kernelChoice === "js" ? null : await wasmKernel(wasmBytes, heap.size);
  if (kernelChoice === "wasm" && !wasm) throw new Error("WebAssembly SIMD is not available here");
  const kernel = wasm
    ? { name: "wasm-simd", heap: wasm.heap, matvec: wasm.matvec }
    : { name: "js", heap: new Float32Array(heap.size), matvec: matvecJS };
  return new Network(header, arrays, { ...kernel, layers, outStride, Wout, logits });
}

// --- sampling -----------------------------------------------------------------------------------

/** A seeded uniform stream in [0, 1): sfc32 seeded through splitmix32 (same seed, same numbers). */
export function uniforms(seed) {
  let s = seed >>> 0;
  const split = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = split();
  let b = split();
  let c = split();
  let d = 1;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next(); // mix the seeding in
  return next;
}

/** out (Float64Array) = softmax(logits), in float64. */
export function softmaxInto(logits, out) {
  const V = logits.length;
  let max = -Infinity;
  for (let j = 0; j < V; j++) max = Math.max(max, logits[j]);
  let sum = 0;
  for (let j = 0; j < V; j++) sum += out[j] = Math.exp(logits[j] - max);
  for (let j = 0; j < V; j++) out[j] /= sum;
  return out;
}

let SCRATCH = new Float64Array(0);

/** The next id from logits and a uniform u: charlstm/sampler/sampling.py `pick` for one row. */
export function pick(logits, u, temperature, topK = null, topP = null) {
  const V = logits.length;
  if (temperature === 0) {
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[j] > logits[best]) best = j; // the first of equal maxima
    return best;
  }
  if (SCRATCH.length < 2 * V) SCRATCH = new Float64Array(2 * V); // reused: no allocation per character
  const p = SCRATCH.subarray(0, V);
  const cdf = SCRATCH.subarray(V, 2 * V);
  for (let j = 0; j < V; j++) p[j] = logits[j] / temperature; // float64, as NumPy's pick
  if (topK !== null && topK < V) {
    const kth = Float64Array.from(p).sort()[V - topK];
    for (let j = 0; j < V; j++) if (p[j] < kth) p[j] = -Infinity;
  }
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (p[j] > max) max = p[j];
  for (let j = 0; j < V; j++) p[j] = Math.exp(p[j] - max);
  if (topP !== null && topP < 1) dropTail(p, topP);
  let s = 0;
  for (let j = 0; j < V; j++) cdf[j] = s += p[j];
  const target = u * cdf[V - 1];
  let count = 0; // inverse CDF: the first id whose cumulative mass exceeds u (zero-mass ids never win)
  for (let j = 0; j < V; j++) if (cdf[j] <= target) count++;
  return Math.min(count, V - 1);
}

function dropTail(p, topP) {
  // keep the smallest prefix of the likeliest ids whose mass reaches topP (always at least one)
  const order = Array.from(p.keys()).sort((i, j) => p[j] - p[i]); // stable: equal masses keep id order
  let total = 0;
  for (const i of order) total += p[i];
  let cum = 0;
  const drop = [];
  for (const i of order) {
    cum += p[i];
    if (cum - p[i] >= topP * total) drop.push(i);
  }
  for (const i of drop) p[i] = 0;
}

function checkOptions(o) {
  const int = (v, lo, hi) => Number.isInteger(v) && v >= lo && v <= hi;
  const fail = (name, want) => {
    throw new RangeError(`${name}=${o[name]}: must be ${want}`);
  };
  if (!int(o.length, 1, Number.MAX_SAFE_INTEGER)) fail("length", "an integer ≥ 1");
  if (!int(o.seed, 0, 2 ** 32 - 1)) fail("seed", "an integer 0 to 2**32 - 1");
  if (!(o.temperature >= 0 && o.temperature <= 100)) fail("temperature", "a number in [0, 100]");
  if (o.topK !== null && !int(o.topK, 1, Number.MAX_SAFE_INTEGER)) fail("topK", "an integer ≥ 1");
  if (o.topP !== null && !(o.topP > 0 && o.topP <= 1)) fail("topP", "a number in (0, 1]");
}

export class Model {
  constructor(header, net) {
    this.header = header;
    this.vocabulary = header.vocabulary; // id = index
    this.net = net;
    this.kernel = net.kernelName; // "wasm-simd" or "js"
  }

  /** Text as ids: newlines normalised, case-folded if the model was trained lower-case; unknown chars throw. */
  encode(text) {
    let t = text.replace(/\r\n?/g, "\n");
    if (this.header.lowercase) t = t.toLowerCase();
    const ids = [];
    const unknown = new Set();
    for (const ch of t) {
      const id = this.vocabulary.indexOf(ch);
      if (id < 0) unknown.add(ch);
      ids.push(id);
    }
    if (unknown.size) throw new Error(`characters not in the model's vocabulary: ${JSON.stringify([...unknown].join(""))}`);
    return ids;
  }

  /** Next-character probabilities after each character of `text`, from the zero state: Float64Array (chars*vocab). */
  probabilities(text) {
    const ids = this.encode(text);
    const V = this.vocabulary.length;
    const out = new Float64Array(ids.length * V);
    this.net.reset();
    ids.forEach((id, t) => softmaxInto(this.net.step(id), out.subarray(t * V, (t + 1) * V)));
    return out;
  }

  /** The names a traced step records per layer, in NumPy's order (charlstm/network.py RECORDED). */
  get recorded() {
    return RECORDED[this.header.cell];
  }

  /** One empty record for `traceStep`: per layer, { name: Float32Array(units) }. */
  newRecord() {
    return this.net.layers.map(() => Object.fromEntries(this.recorded.map((k) => [k, new Float32Array(this.net.units)])));
  }

  /** Back to the zero state (for `traceStep`). */
  reset() {
    this.net.reset();
  }

  /** The state after the last step, to come back to with `restoreState` (e.g. to rerun an edited text from there). */
  saveState() {
    return this.net.saveState();
  }

  restoreState(state) {
    this.net.restoreState(state);
  }

  /**
   * Feed one id from the current state; fills `record` (from `newRecord`) with every layer's gates and
   * states and `probs` (Float64Array vocab) with the next character's probabilities. Returns `probs`.
   */
  traceStep(id, record, probs = new Float64Array(this.vocabulary.length)) {
    const lg = this.net.step(id, record);
    softmaxInto(lg, probs);
    return probs;
  }

  /** Every gate and state of every layer at every character of `text`, from the zero state, as NumPy's trace:
   * { layers: [{ name: Float32Array(chars*units) }], probs: Float64Array(chars*vocab) }. */
  trace(text) {
    const ids = this.encode(text);
    const u = this.net.units;
    const V = this.vocabulary.length;
    const rec = this.newRecord();
    const layers = rec.map(() => Object.fromEntries(this.recorded.map((k) => [k, new Float32Array(ids.length * u)])));
    const probs = new Float64Array(ids.length * V);
    this.net.reset();
    ids.forEach((id, t) => {
      this.traceStep(id, rec, probs.subarray(t * V, (t + 1) * V));
      rec.forEach((r, l) => this.recorded.forEach((k) => layers[l][k].set(r[k], t * u)));
    });
    return { layers, probs };
  }

  /** The text generation starts from: `prime` (default: the stored excerpt), as `encode` folds it. */
  primeText(prime) {
    const text = (prime || this.header.prime || this.vocabulary[0]).replace(/\r\n?/g, "\n");
    return this.header.lowercase ? text.toLowerCase() : text;
  }

  /** An iterator of the generated characters, one by one (the prime is fed, not yielded); options are checked now. */
  stream(options = {}) {
    const o = {
      length: options.length ?? 500,
      seed: options.seed ?? Math.floor(Math.random() * 2 ** 32),
      temperature: options.temperature ?? 1,
      topK: options.topK ?? options.top_k ?? null,
      topP: options.topP ?? options.top_p ?? null,
    };
    checkOptions(o);
    return this.#steps(this.encode(this.primeText(options.prime)), o);
  }

  *#steps(ids, o) {
    const next = uniforms(o.seed);
    this.net.reset();
    let logits;
    for (const id of ids) logits = this.net.step(id);
    for (let n = 0; n < o.length; n++) {
      const id = pick(logits, next(), o.temperature, o.topK, o.topP);
      yield this.vocabulary[id];
      if (n + 1 < o.length) logits = this.net.step(id);
    }
  }

  /** The prime (folded like training) followed by `length` generated characters. */
  generate(options = {}) {
    let text = this.primeText(options.prime);
    for (const ch of this.stream(options)) text += ch;
    return text;
  }
}

/** A Model from a weights file's bytes; options.kernel "auto" | "wasm" | "js", options.wasm the kernel's bytes. */
export async function fromBytes(bytes, options = {}) {
  const { header, arrays } = readWeights(bytes);
  const net = await network(header, arrays, options.kernel ?? "auto", options.wasm ?? null);
  return new Model(header, net);
}

async function readBytes(url) {
  const isNode = typeof process !== "undefined" && process.versions?.node;
  if (isNode && url.protocol === "file:") {
    const { readFile } = await import("node:fs/promises");
    return new Uint8Array(await readFile(url));
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** A Model from a weights file's URL or path (relative to the page, or to the working directory in Node). */
export async function load(source, options = {}) {
  const isNode = typeof process !== "undefined" && process.versions?.node;
  const base = isNode ? `file://${process.cwd()}/` : globalThis.location?.href;
  const bytes = source instanceof Uint8Array ? source : await readBytes(new URL(source, base));
  let wasm = options.wasm ?? null;
  if (!wasm && options.kernel !== "js") {
    try {
      wasm = await readBytes(new URL(KERNEL_FILE, import.meta.url));
    } catch {
      wasm = null; // no kernel file beside the module: the plain JavaScript products
    }
  }
  return fromBytes(bytes, { ...options, wasm });
}
