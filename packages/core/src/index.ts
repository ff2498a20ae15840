export * from "./spec.js";
export { FtError, UsageError } from "./errors.js";
export { registerModel, getModel, listModels, findWeightRecord, unregisterModel } from "./registry/registry.js";
export { countParams } from "./registry/params.js";
export { resolveBuildOptions, type ResolvedBuildOptions, type BuildDefaults } from "./registry/build-options.js";
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
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from "./backend/wasm-kernels/index.js";
export { registerCpuTrainingKernels } from "./backend/avg-pool-grad.js";
export { ftHome } from "./paths.js";
export type { Example, RawImage, ImageDataset, Batch, BatchSource } from "./data/dataset.js";
export { resizeBilinear, resizeBilinearBytes } from "./data/resize.js";
export { decodeImage, probeImage } from "./data/decode.js";
export { augmentAndResize, cropImage, flipHorizontal, type AugmentOptions, type CropWindow } from "./data/augment.js";
export { hashSeed, mulberry32, permutation, type Random } from "./data/random.js";
export {
  loadImageFolder,
  imageFolderDataset,
  IMAGE_EXTENSIONS,
  type ImageFolder,
  type ImageFolderDataset,
  type ImageFolderOptions,
  type ImageVerification,
  type SkippedFile,
  type ValidationSource,
} from "./data/image-folder.js";
export { createBatchSource, type BatchSourceOptions, type StreamingBatchSource } from "./data/pipeline.js";
export { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD, batchNormTraining, hasBatchNormTrainingKernel } from "./layers/batch-norm-training.js";
export { LRN, type LRNArgs } from "./layers/lrn.js";
export { PoolHelper, type PoolHelperArgs } from "./layers/pool-helper.js";
export { downloadFile, hashFile, formatBytes, PARTIAL_SUFFIX, type DownloadOptions, type DownloadProgress, type DownloadResult } from "./weights/download.js";
export { ensureWeightFile, verifyWeightFile, weightCachePath, weightCacheDir, weightCacheState, weightSource, mirrorOverridesPath, type WeightFileCheck, type WeightSource } from "./weights/hub.js";
export { saveModelDir, loadModelDir, readModelDirMetadata, MODEL_JSON, type SaveModelDirOptions, type SavedModelDir } from "./io/model-dir.js";
export { readKerasWeights, weightedLayers, type KerasWeightFile, type KerasLayerWeights, type KerasWeight } from "./weights/keras-file.js";
export { detectOrdering, resolveOrdering, convertWeight, convertRows, convertedShape, fileShapeFor, theanoKernelToTf, channelsFirstDenseToNhwc, type OrderingDetection, type OrderingEvidence, type WeightConversion } from "./weights/convert.js";
export { loadWeights, flattenedFeatureShape, type LoadWeightsOptions, type LoadReport, type SkippedLayer } from "./weights/load.js";
export { createModel, createModelWithReport, type CreateModelOptions, type CreatedModel } from "./weights/create.js";
export { Scale, type ScaleArgs } from "./layers/scale.js";
export { Trainer, splitSizes, trainableKeys, type TrainerOptions, type TrainResult, type TrainState, type EpochLog, type BatchInfo, type Callback, type StopReason, type CheckpointMeta } from "./train/trainer.js";
export { KERAS_ADAM_UPDATE, KERAS_SGD_UPDATE, KerasSgd, KerasAdam, Optimizer, createOptimizer, resolveOptimizerConfig, SEED_SGD, type OptimizerConfig, type SgdConfig, type AdamConfig, type OptimizerState, type ParamUpdate } from "./train/optimizers.js";
export { scheduleFactor, resolveSchedule, type ScheduleConfig, type ScheduleKind, type ScheduleClock } from "./train/schedules.js";
export { ProgressCallback, MetricsLogger, CheckpointCallback, EarlyStopping, ReportCallback, CSV_COLUMNS, CHECKPOINT_FILES, writeFileAtomic, type ProgressInfo } from "./train/callbacks.js";
export { writeCheckpoint, readCheckpoint, loadModelWeights, weightKey, type LoadedCheckpoint } from "./train/checkpoint.js";
export { renderReport, type ReportInput } from "./train/report.js";
export { runTraining, readRunConfig, runCheckpointPath, newRunDirName, type TrainingRunOptions, type TrainingRunResult } from "./train/run.js";
export { loadRunModel, type RunModel, type RunModelConfig } from "./train/run-model.js";
export { replaceHead, headsForSpec, type NewHead, type FineTunableSpec, type ReplaceHeadOptions, type ReplacedHead } from "./finetune/head.js";
export { withNewHead, buildFineTuneSkeleton, type NewHeadOptions } from "./finetune/model.js";
export { applyFreeze, parseFreezeSpec, layerStages, orderedLayers, type FreezeSpec } from "./finetune/freeze.js";
export { applyBatchNormPolicy, BATCH_NORM_POLICIES, type BatchNormPolicy } from "./finetune/batchnorm.js";
export { seedDropout, type DropoutClock } from "./finetune/dropout.js";
export { layerLrScales, parseLrGroups, type LrGroups } from "./finetune/lr-groups.js";
export { MetricsAccumulator, type EvalMetrics } from "./eval/metrics.js";
export { evaluate, predictProbabilities, type EvaluateOptions } from "./eval/evaluate.js";
export { planMicroBatches, activationsPerImage, type MicroBatchPlan } from "./train/memory.js";
