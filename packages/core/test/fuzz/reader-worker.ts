/**
 * The fuzz harness's child: reads weight files named one per line on stdin, the way `ft weights inspect`
 * and a load do (structure, ordering evidence, every array), and answers one JSON line per file on stdout:
 * `{"outcome": "accepted" | "error" | "crash", "message", "rss"}`. An FtError is the clear error a user
 * would see; anything else thrown is a crash, as is this process dying.
 */
import { createInterface } from "node:readline";
import { FtError } from "../../src/errors.js";
import { detectOrdering } from "../../src/weights/ordering.js";
import { readKerasWeights } from "../../src/weights/keras-file.js";

async function readWhole(path: string): Promise<string> {
  const file = await readKerasWeights(path);
  try {
    detectOrdering(file);
    let values = 0;
    for (const layer of file.layers) for (const w of layer.weights) w.readBlocks(4096, (block) => void (values += block.length));
    return `${file.layout}, ${file.layers.length} layers, ${values} values`;
  } finally {
    file.close();
  }
}

for await (const line of createInterface({ input: process.stdin })) {
  if (!line) continue;
  let answer: { outcome: string; message: string };
  try {
    answer = { outcome: "accepted", message: await readWhole(line) };
  } catch (e) {
    answer = e instanceof FtError ? { outcome: "error", message: e.message } : { outcome: "crash", message: String((e as Error)?.stack ?? e).slice(0, 2000) };
  }
  process.stdout.write(JSON.stringify({ ...answer, rss: process.memoryUsage().rss }) + "\n");
}
