// Builds the oneDNN addon from source with node-gyp: `pnpm --filter @ft/backend-native build:native`
// in the repository (scripts/setup.sh runs it), or `node node_modules/@ft/backend-native/scripts/build-native.mjs`
// where no prebuilt package fits. Fails, saying what is missing, when it cannot build.
// There is no install script: package managers that refuse unapproved build scripts (pnpm 10+) would
// fail a consumer's whole install, and on Linux x64 the prebuilt platform package needs no build.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const fail = (message) => {
  console.error(`@ft/backend-native: ${message} (needs oneDNN, a C++ compiler and make: apt-get install libdnnl-dev g++ make)`);
  process.exit(1);
};

if (!["/usr/include/oneapi/dnnl/dnnl.hpp", "/usr/local/include/oneapi/dnnl/dnnl.hpp"].some((p) => existsSync(p))) {
  fail("oneDNN headers not found, the native engine cannot be built");
}
// Build against the running Node's own headers when it ships them (Debian, nodesource, official
// tarballs): otherwise node-gyp downloads them, which fails without network.
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
// binding.gyp lives in native/: at the package root npm and pnpm would run node-gyp as an install script.
const build = spawnSync(process.execPath, [nodeGyp(), "rebuild", ...nodedir], { cwd: join(packageRoot, "native"), stdio: "inherit" });
if (build.status !== 0) fail("building the native engine failed");

/** The workspace's node-gyp, else the one npm bundles. */
function nodeGyp() {
  try {
    return createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js");
  } catch {
    const bundled = join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
    if (!existsSync(bundled)) fail("node-gyp not found (npm install --global node-gyp)");
    return bundled;
  }
}
