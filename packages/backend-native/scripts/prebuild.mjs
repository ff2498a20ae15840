// Builds and packs the prebuilt platform package (the `sharp` pattern):
//   pnpm --filter @ft/backend-native pack:prebuilt [--out DIR]   (default DIR: packages/backend-native/prebuilds)
// 1. builds the addon (node-gyp; linked with the run path $ORIGIN),
// 2. stages it with every shared library it needs beyond glibc and the C++ runtime, each given the
//    run path $ORIGIN too (patchelf), with their Debian copyright files and the licence texts those
//    name, beside the package's own package.json, README and LICENSE,
// 3. packs the stage with pnpm (workspace versions resolved) and prints the tarball's path.
// The workspace's platform package folder itself stays source only: a local build never hides
// behind a stale prebuilt copy.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ADDON_FILE, platformPackageName, platformTag } from "./platform.mjs";

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const outArg = process.argv.indexOf("--out");
const outDir = resolve(outArg > 0 ? process.argv[outArg + 1] : join(packageRoot, "prebuilds"));
const source = join(packageRoot, "..", `backend-native-${platformTag()}`);
if (!existsSync(join(source, "package.json"))) {
  console.error(`prebuild: no platform package ${platformPackageName()} in the workspace (looked at ${source})`);
  process.exit(1);
}

/** Libraries every glibc system has, with the loader and the C++ runtime that Node itself links. */
const SYSTEM = /^(libc|libm|libdl|libpthread|librt|ld-linux[-\w]*|libstdc\+\+|libgcc_s)\.so/;

const run = (command, args, options = {}) => execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...options });

run(process.execPath, [join(packageRoot, "scripts", "build-native.mjs")], { cwd: packageRoot, stdio: "inherit" });
const addon = join(packageRoot, "native", "build", "Release", ADDON_FILE);

const stage = mkdtempSync(join(tmpdir(), "ft-prebuild-"));
try {
  for (const file of ["package.json", "README.md", "LICENSE"]) copyFileSync(join(source, file), join(stage, file));
  copyFileSync(addon, join(stage, ADDON_FILE));
  const licenses = join(stage, "licenses");
  mkdirSync(licenses);
  // ldd lists the whole closure, so a library that oneDNN needs (OpenCL, OpenMP) is found too.
  for (const line of run("ldd", [addon]).split("\n")) {
    const match = /^\s*(\S+) => (\/\S+)/.exec(line);
    if (!match || SYSTEM.test(match[1])) continue;
    const [, soname, path] = match;
    copyFileSync(realpathSync(path), join(stage, soname));
    run("patchelf", ["--set-rpath", "$ORIGIN", join(stage, soname)]);
    copyLicence(realpathSync(path), soname, licenses);
  }
  mkdirSync(outDir, { recursive: true });
  const packed = run("pnpm", ["pack", "--pack-destination", outDir], { cwd: stage }).trim().split("\n").pop();
  console.log(packed && existsSync(packed) ? packed : join(outDir, readdirSync(outDir).find((f) => f.endsWith(".tgz"))));
} finally {
  rmSync(stage, { recursive: true, force: true });
}

/** Copies the Debian copyright file of the package that owns `library`, and each licence text it names. */
function copyLicence(library, soname, licenses) {
  const owner = run("dpkg-query", ["--search", library]).split(":")[0];
  const copyright = `/usr/share/doc/${owner}/copyright`;
  if (!existsSync(copyright)) throw new Error(`prebuild: ${owner} (owner of ${soname}) has no ${copyright}`);
  copyFileSync(copyright, join(licenses, `${soname}.copyright`));
  for (const [, name] of readFileSync(copyright, "utf8").matchAll(/\/usr\/share\/common-licenses\/([\w.+-]+?)['.,]?(?=[\s'`]|$)/gm)) {
    const text = `/usr/share/common-licenses/${name}`;
    if (existsSync(text) && !existsSync(join(licenses, name))) cpSync(text, join(licenses, basename(text)), { dereference: true });
  }
}
