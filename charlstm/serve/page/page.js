// The play page of `charlstm serve`: streams several samples side by side from POST /v1/completions
// (Server-Sent Events, read with fetch so the Stop button can abort). Nothing is fetched from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
let controller = null;
let modelId = null; // from GET /v1/models

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim() || sessionStorage.getItem("charlstm-key") || "";
  if (key) h.Authorization = "Bearer " + key;
  return h;
}

function setStatus(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function number(id) {
  const v = $(id).value.trim();
  return v === "" ? null : Number(v);
}

function request() {
  const body = {
    max_tokens: number("length"),
    temperature: number("temperature"),
    n: number("samples"),
    stream: true,
  };
  if (modelId) body.model = modelId;
  const prime = $("prime").value;
  if (prime !== "") body.prompt = prime;
  const topP = number("top_p");
  if (topP !== null && topP < 1) body.top_p = topP;
  const seed = number("seed");
  if (seed !== null) body.seed = seed;
  return body;
}

function columns(n, prime) {
  const out = $("samples-out");
  out.replaceChildren();
  const texts = [];
  for (let i = 0; i < n; i++) {
    const box = document.createElement("section");
    box.className = "sample";
    const title = document.createElement("h2");
    title.textContent = "sample " + i;
    const pre = document.createElement("pre");
    const p = document.createElement("span");
    p.className = "prime";
    p.textContent = prime;
    const text = document.createElement("span");
    text.className = "text";
    pre.append(p, text);
    box.append(title, pre);
    out.append(box);
    texts.push(text);
  }
  return texts;
}

async function errorMessage(res) {
  try {
    return (await res.json()).error.message;
  } catch {
    return res.status + " " + res.statusText;
  }
}

// Each event is "data: {json}" then a blank line; "data: [DONE]" ends the stream.
function handleEvent(event, texts) {
  if (!event.startsWith("data: ")) return false;
  const data = event.slice(6);
  if (data === "[DONE]") return true;
  const msg = JSON.parse(data);
  if (msg.error) throw new Error(msg.error.message);
  for (const c of msg.choices) texts[c.index].textContent += c.text;
  document.body.dataset.events = String(Number(document.body.dataset.events || 0) + 1);
  return false;
}

async function generate(ev) {
  ev.preventDefault();
  const key = $("key").value.trim();
  if (key) sessionStorage.setItem("charlstm-key", key);
  const body = request();
  const texts = columns(body.n || 1, $("prime").value);
  controller = new AbortController();
  $("go").disabled = true;
  $("stop").disabled = false;
  document.body.dataset.events = "0";
  setStatus("generating…");
  try {
    const res = await fetch("v1/completions", {
      method: "POST", headers: headers(), body: JSON.stringify(body), signal: controller.signal,
    });
    if (!res.ok) throw new Error(await errorMessage(res));
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "", done = false;
    while (!done) {
      const { value, done: ended } = await reader.read();
      if (ended) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while (!done && (cut = buffer.indexOf("\n\n")) >= 0) {
        done = handleEvent(buffer.slice(0, cut), texts);
        buffer = buffer.slice(cut + 2);
      }
    }
    setStatus(done ? "done" : "the stream ended early", !done);
  } catch (e) {
    if (e.name === "AbortError") setStatus("stopped");
    else setStatus(e.message, true);
  } finally {
    controller = null;
    $("go").disabled = false;
    $("stop").disabled = true;
  }
}

async function init() {
  $("form").addEventListener("submit", generate);
  $("stop").addEventListener("click", () => controller && controller.abort());
  try {
    const res = await fetch("v1/models", { headers: headers() });
    if (res.ok) {
      modelId = (await res.json()).data[0].id;
      $("model").textContent = modelId;
    } else {
      $("model").textContent = "";
      setStatus(res.status === 401 ? "this server needs its API key: enter it below" : await errorMessage(res), true);
    }
  } catch (e) {
    setStatus("the server does not answer: " + e.message, true);
  }
  document.body.dataset.ready = "1";
}

init();
