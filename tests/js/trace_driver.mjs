// Node driver for tests/test_export.py's trace test: every gate and state of an exported `js` folder's network.
//   node trace_driver.mjs FOLDER KERNEL TEXTFILE SPLIT
// prints {names, layers: [{name: [chars*units]}], probs, resumed}: `resumed` is the probabilities of the
// text's tail fed after restoring the state saved at character SPLIT (an edit reruns from there).
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [folder, kernel, textFile, split] = process.argv.slice(2);
const { load } = await import(pathToFileURL(`${folder}/charlstm.mjs`).href);
const model = await load(`${folder}/model.bin`, { kernel });
const text = readFileSync(textFile, "utf-8");
const { layers, probs } = model.trace(text);
const ids = model.encode(text);
const at = Number(split);
const rec = model.newRecord();
model.reset();
for (const id of ids.slice(0, at)) model.traceStep(id, rec);
const saved = model.saveState();
for (const id of ids.slice(at, at + 5)) model.traceStep(id, rec); // wander off, then come back
model.restoreState(saved);
const resumed = ids.slice(at).flatMap((id) => Array.from(model.traceStep(id, rec)));
console.log(
  JSON.stringify({
    names: model.recorded,
    layers: layers.map((l) => Object.fromEntries(Object.entries(l).map(([k, v]) => [k, Array.from(v)]))),
    probs: Array.from(probs),
    resumed,
  }),
);
