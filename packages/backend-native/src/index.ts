/**
 * @ft/backend-native: the `ft-native` TensorFlow.js backend, whose convolutions, matrix products,
 * pooling and BatchNorm run natively (oneDNN, through a Node-API addon) while everything else is
 * the pure-JS cpu backend's. Importing this package adds it to @ft/core's backend selection as
 * `native` (priority 30: after tfjs-node, before wasm); it is skipped, with the reason, when the
 * addon is not built.
 */
import { registerBackendCandidate } from "@ft/core";
import { BUILD_HINT, loadNativeAddon } from "./addon.js";
import { registerNativeBackend } from "./backend.js";
import { NATIVE_BACKEND } from "./kernels/util.js";

export { loadNativeAddon, ADDON_PATH, BUILD_HINT, type NativeAddon } from "./addon.js";
export { registerNativeBackend, nativeKernelNames } from "./backend.js";
export { NATIVE_BACKEND } from "./kernels/util.js";

registerBackendCandidate({
  name: "native",
  tfName: NATIVE_BACKEND,
  priority: 30,
  description: "oneDNN on the CPU (@ft/backend-native)",
  howToGet: BUILD_HINT,
  load: async () => {
    registerNativeBackend();
  },
  threads: () => loadNativeAddon().info().threads,
});
