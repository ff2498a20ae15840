// Runs a command with the sanitized addon: `node scripts/sanitized.mjs asan -- node ../../node_modules/vitest/vitest.mjs run`
// (node itself, not a shell shim: the sanitizer runtime is preloaded into every process the command starts, and
// ThreadSanitizer aborts in /bin/sh).
// The command's exit status is this script's; a sanitizer report ends the command with a non-zero status.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { SANITIZERS, sanitizedAddonPath, sanitizedEnv } from "./sanitizers.mjs";

const [kind, separator, command, ...args] = process.argv.slice(2);
if (!SANITIZERS[kind] || separator !== "--" || !command) {
  console.error(`usage: sanitized.mjs ${Object.keys(SANITIZERS).join("|")} -- COMMAND [ARGS...]`);
  process.exit(2);
}
if (!existsSync(sanitizedAddonPath(kind))) {
  console.error(`no ${kind} build at ${sanitizedAddonPath(kind)}: run pnpm --filter @ft/backend-native build:${kind} first`);
  process.exit(2);
}
const env = { ...process.env, ...sanitizedEnv(kind) };
// The runtime is preloaded and the addon says it is the sanitized build, or nothing is run.
const probe = spawnSync(process.execPath, ["-p", `require(${JSON.stringify(sanitizedAddonPath(kind))}).info().sanitizer`], { env, encoding: "utf8" });
if (probe.stdout.trim() !== kind) {
  console.error(`the ${kind} addon did not load under ${env.LD_PRELOAD}: ${probe.stderr.trim() || probe.stdout.trim()}`);
  process.exit(1);
}
console.error(`${kind}: running ${[command, ...args].join(" ")} with ${sanitizedAddonPath(kind)}`);
const result = spawnSync(command, args, { stdio: "inherit", env });
process.exit(result.status ?? 128 + 6);
