// Node driver for tests/test_export_js.py: runs an exported `js` folder and prints JSON on stdout.
//   node export_driver.mjs FOLDER KERNEL TEXTFILE GREEDY_PRIME GREEDY_LENGTH
// prints {kernel, probs (chars*vocab), greedy (text), seeded: [two runs with one seed]}
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [folder, kernel, textFile, prime, length] = process.argv.slice(2);
const { load } = await import(pathToFileURL(`${folder}/charlstm.mjs`).href);
const model = await load(`${folder}/model.bin`, { kernel });
const text = readFileSync(textFile, "utf-8");
const probs = Array.from(model.probabilities(text));
const greedy = model.generate({ prime, length: Number(length), temperature: 0 });
const seeded = [1, 2].map(() => model.generate({ prime, length: 200, seed: 7, temperature: 1, topK: 5, topP: 0.9 }));
console.log(JSON.stringify({ kernel: model.kernel, probs, greedy, seeded }));
