// Install step of @ft/backend-native: builds the optional oneDNN addon when oneDNN and a compiler are
// present, and never fails the install (the engine then stays unavailable and `ft env` says why).
// FT_NATIVE_BUILD=0 skips it (CI builds it explicitly, strictly, afterwards).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const how = "apt-get install libdnnl-dev g++ make, then: pnpm --filter @ft/backend-native build:native";
if (process.env.FT_NATIVE_BUILD === "0") process.exit(0);
const header = ["/usr/include/oneapi/dnnl/dnnl.hpp", "/usr/local/include/oneapi/dnnl/dnnl.hpp"].find((p) => existsSync(p));
if (!header) {
  console.warn(`@ft/backend-native: oneDNN headers not found, the native engine is not built (${how})`);
  process.exit(0);
}
const build = spawnSync("node-gyp", ["rebuild"], { stdio: "inherit", shell: true });
if (build.status !== 0) console.warn(`@ft/backend-native: building the native engine failed; ft falls back to wasm (${how})`);
process.exit(0);
