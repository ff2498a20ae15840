// A longer fuzz run than CI's, for local use: pnpm --filter @ft/core fuzz:hdf5 [--mutants N] [--seed S]
// Mutants are kept in the directory it prints, so that a failure can be replayed with ft weights inspect.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fuzzCorpus } from "./corpus.js";
import { runFuzz } from "./harness.js";

const { values } = parseArgs({ options: { mutants: { type: "string", default: "20000" }, seed: { type: "string", default: String(Date.now() % 1e9) } } });
const dir = mkdtempSync(join(tmpdir(), "ft-fuzz-"));
const mutants = Number(values.mutants);
const started = Date.now();
const summary = await runFuzz({
  corpus: fuzzCorpus(dir),
  mutants,
  seed: Number(values.seed),
  dir,
  onResult: (r, done) => {
    if (r.outcome !== "accepted" && r.outcome !== "error") console.log(`${r.outcome}: ${r.path} (${r.description}): ${r.message.slice(0, 200)}`);
    if (done % 500 === 0) {
      const rate = done / ((Date.now() - started) / 1000);
      console.error(`${done}/${mutants} (${rate.toFixed(0)}/s, ETA ${Math.round((mutants - done) / rate)} s)`);
    }
  },
});
console.log(`${summary.line} (seed ${values.seed}, mutants in ${dir})`);
process.exitCode = summary.counts.crash + summary.counts.hang + summary.counts.memory > 0 ? 1 : 0;
