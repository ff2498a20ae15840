export { cifar10, SEED_SUBSET, type Cifar10Options, type Cifar10Split, type Cifar10Subset } from "./cifar10.js";
export {
  ensureCifar10,
  extractTarGz,
  unsafeEntryReason,
  CIFAR10_URL,
  CIFAR10_MD5,
  CIFAR10_BYTES,
  CIFAR10_URL_ENV,
  BATCHES_FOLDER,
  type Cifar10ArchiveOptions,
} from "./archive.js";
export { CIFAR10_CLASSES, RECORD_BYTES, recordImage, recordLabel, recordCount } from "./records.js";
// Importing the package lets `finetune({ data: "cifar10" })` (and `ft train --data cifar10`) open it.
export { CIFAR10_SOURCE } from "./source.js";
