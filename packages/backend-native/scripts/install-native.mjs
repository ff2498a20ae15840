// Builds the optional oneDNN addon with node-gyp.
//   node scripts/install-native.mjs           install step: never fails the install (FT_NATIVE_BUILD=0 skips it)
//   node scripts/install-native.mjs --strict  `pnpm build:native`: fails when the build fails (CI)
// Without oneDNN or a compiler the engine stays unavailable and `ft env` says why.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

const strict = process.argv.includes("--strict");
const how = "apt-get install libdnnl-dev g++ make, then: pnpm --filter @ft/backend-native build:native";
const give = (message) => {
  console.warn(`@ft/backend-native: ${message} (${how})`);
  process.exit(strict ? 1 : 0);
};

if (!strict && process.env.FT_NATIVE_BUILD === "0") process.exit(0);
if (!["/usr/include/oneapi/dnnl/dnnl.hpp", "/usr/local/include/oneapi/dnnl/dnnl.hpp"].some((p) => existsSync(p))) {
  give("oneDNN headers not found, the native engine is not built");
}
// Build against the running Node's own headers when it ships them (Debian, nodesource, official
// tarballs): otherwise node-gyp downloads them, which fails without network.
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
const build = spawnSync("node-gyp", ["rebuild", ...nodedir], { stdio: "inherit", shell: true });
if (build.status !== 0) give("building the native engine failed; ft falls back to wasm");
