// Which prebuilt platform package fits this machine (the `sharp` pattern: one package per platform,
// named by OS, CPU and C library). Shared by the loader (src/addon.ts), the install step and the
// prebuild script, so the name is decided in one place.
import process from "node:process";

/** `linux-x64-gnu`, `linux-x64-musl`, `darwin-arm64`, … */
export function platformTag() {
  if (process.platform !== "linux") return `${process.platform}-${process.arch}`;
  const glibc = process.report?.getReport().header.glibcVersionRuntime;
  return `linux-${process.arch}-${glibc ? "gnu" : "musl"}`;
}

/** The npm name of the prebuilt package for this machine. */
export function platformPackageName() {
  return `@ft/backend-native-${platformTag()}`;
}

/** The file name of the addon, in a local build (native/build/Release) and in the platform package alike. */
export const ADDON_FILE = "ft_native.node";
