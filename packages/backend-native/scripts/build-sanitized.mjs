// Builds the addon under a sanitizer: `pnpm --filter @ft/backend-native build:asan` (AddressSanitizer and
// UndefinedBehaviorSanitizer) or `build:tsan` (ThreadSanitizer), into native/build-<kind>/ft_native.node
// (outside node-gyp's build/, which its rebuild empties). Sources, defines and flags come from binding.gyp,
// so the sanitized addon is the released one plus instrumentation; `info().sanitizer` names the kind.
// Node itself is not instrumented, so the runtime must be loaded first: scripts/sanitized.mjs runs a command so.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SANITIZERS, sanitizedAddonPath } from "./sanitizers.mjs";

const kind = process.argv[2];
const sanitizer = SANITIZERS[kind];
if (!sanitizer) {
  console.error(`usage: build-sanitized.mjs ${Object.keys(SANITIZERS).join("|")}`);
  process.exit(2);
}
const nativeDir = join(dirname(fileURLToPath(import.meta.url)), "..", "native");
const [target] = JSON.parse(readFileSync(join(nativeDir, "binding.gyp"), "utf8")).targets;
const require = createRequire(import.meta.url);
const includes = [require("node-addon-api").include_dir, join(dirname(dirname(process.execPath)), "include", "node")];
// -O1 keeps stacks readable and runs fast enough; the release -O3 and -march stay out of a sanitizer build.
const releaseOnly = new Set(["-O3", "-march=x86-64-v2"]);
const compileFlags = [
  ...target.cflags_cc.filter((f) => !releaseOnly.has(f)),
  "-O1", "-g", "-fno-omit-frame-pointer", "-fPIC",
  ...sanitizer.flags,
  ...target.defines.map((d) => `-D${d}`),
  `-DFT_SANITIZER="${kind}"`,
  ...includes.map((i) => `-I${i}`),
];
const out = sanitizedAddonPath(kind);
const objDir = join(dirname(out), "obj");
mkdirSync(objDir, { recursive: true });

const gxx = (args) =>
  new Promise((resolve, reject) => {
    const child = spawn("g++", args, { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`g++ exited with ${code}`))));
  });

try {
  console.error(`building ${out} (${kind})`);
  const queue = target.sources.map((s) => ({ source: join(nativeDir, s), object: join(objDir, basename(s, ".cc") + ".o") }));
  const objects = queue.map((j) => j.object);
  const workers = Array.from({ length: availableParallelism() }, async () => {
    for (let job = queue.shift(); job; job = queue.shift()) await gxx([...compileFlags, "-c", job.source, "-o", job.object]);
  });
  await Promise.all(workers);
  await gxx(["-shared", ...sanitizer.flags, ...objects, ...target.ldflags.filter((f) => !f.startsWith("-Wl,-rpath")), ...target.libraries, "-o", out]);
} catch (e) {
  console.error(`@ft/backend-native: the ${kind} build failed (${e.message}; needs g++ with lib${kind}, and libdnnl-dev)`);
  process.exit(1);
}
