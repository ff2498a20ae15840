// Builds the optional oneDNN addon with node-gyp.
//   node scripts/install-native.mjs           install step: never fails the install (FT_NATIVE_BUILD=0 skips it)
//   node scripts/install-native.mjs --strict  `pnpm build:native`: fails when the build fails (CI)
// Nothing is built where the prebuilt platform package is installed (an optional dependency).
// Without it, oneDNN or a compiler the engine stays unavailable and `ft env` says why.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ADDON_FILE, platformPackageName } from "./platform.mjs";

const strict = process.argv.includes("--strict");
const how = "apt-get install libdnnl-dev g++ make, then rebuild @ft/backend-native (in the ft repository: bash scripts/setup.sh)";
const give = (message) => {
  console.warn(`@ft/backend-native: ${message} (${how})`);
  process.exit(strict ? 1 : 0);
};

if (!strict && process.env.FT_NATIVE_BUILD === "0") process.exit(0);
if (!strict && prebuiltInstalled()) process.exit(0);
if (!["/usr/include/oneapi/dnnl/dnnl.hpp", "/usr/local/include/oneapi/dnnl/dnnl.hpp"].some((p) => existsSync(p))) {
  give("oneDNN headers not found, the native engine is not built");
}
// Build against the running Node's own headers when it ships them (Debian, nodesource, official
// tarballs): otherwise node-gyp downloads them, which fails without network.
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
const build = spawnSync("node-gyp", ["rebuild", ...nodedir], { stdio: "inherit", shell: true });
if (build.status !== 0) give("building the native engine failed; ft falls back to wasm");

function prebuiltInstalled() {
  try {
    const manifest = createRequire(import.meta.url).resolve(`${platformPackageName()}/package.json`);
    return existsSync(join(dirname(manifest), ADDON_FILE));
  } catch {
    return false;
  }
}
