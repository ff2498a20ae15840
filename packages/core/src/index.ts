export * from "./spec.js";
export { FtError, UsageError } from "./errors.js";
export { registerModel, getModel, listModels, findWeightRecord, unregisterModel } from "./registry/registry.js";
export { countParams } from "./registry/params.js";
export { preprocess, preprocessor, PREPROCESSING_DESCRIPTIONS } from "./preprocessing.js";
export {
  selectBackend,
  currentBackend,
  registerBackendCandidate,
  listBackendCandidates,
  type BackendCandidate,
  type BackendSelection,
  type BackendAttempt,
} from "./backend/select.js";
export { ftHome } from "./paths.js";
export type { Example, RawImage, ImageDataset, Batch, BatchSource } from "./data/dataset.js";
