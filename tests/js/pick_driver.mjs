// Node driver for tests/test_export.py: charlstm.mjs's `pick` on cases read as JSON from stdin.
//   node pick_driver.mjs MODULE < [{logits, u, temperature, top_k, top_p}, ...]   prints [id, ...]
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const { pick } = await import(pathToFileURL(process.argv[2]).href);
const cases = JSON.parse(readFileSync(0, "utf-8"));
console.log(JSON.stringify(cases.map((c) => pick(Float32Array.from(c.logits), c.u, c.temperature, c.top_k, c.top_p))));
