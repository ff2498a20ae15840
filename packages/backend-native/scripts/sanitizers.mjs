// The sanitizer builds of the addon and how to run Node with them (shared by the build script and the runner).
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const nativeDir = join(dirname(fileURLToPath(import.meta.url)), "..", "native");

export const SANITIZERS = {
  asan: {
    flags: ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"],
    runtime: "libasan.so",
    // Node's own allocations are not instrumented and are never freed at exit: leak reports would be noise.
    env: { ASAN_OPTIONS: "detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1", UBSAN_OPTIONS: "print_stacktrace=1:halt_on_error=1" },
  },
  tsan: {
    flags: ["-fsanitize=thread"],
    runtime: "libtsan.so",
    // libgomp is not instrumented, so TSan cannot see its barriers and would report every OpenMP loop as a
    // race: one OpenMP thread, and the run checks the addon against Node's own threads (GC, libuv's pool).
    env: {
      TSAN_OPTIONS: `halt_on_error=1:second_deadlock_stack=1:suppressions=${join(nativeDir, "tsan.supp")}`,
      OMP_NUM_THREADS: "1",
      FT_NATIVE_LOOP_THREADS: "1",
    },
  },
};

/** Where `build-sanitized.mjs KIND` writes the addon. */
export function sanitizedAddonPath(kind) {
  return join(nativeDir, `build-${kind}`, "ft_native.node");
}

/** The environment that loads the KIND runtime first and makes the engine load the KIND addon. */
export function sanitizedEnv(kind) {
  const sanitizer = SANITIZERS[kind];
  const runtime = execFileSync("g++", [`-print-file-name=${sanitizer.runtime}`], { encoding: "utf8" }).trim();
  return { ...sanitizer.env, LD_PRELOAD: runtime, FT_NATIVE_ADDON: sanitizedAddonPath(kind) };
}
