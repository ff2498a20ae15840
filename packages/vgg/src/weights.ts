import { topAndNotopRecords, weightRecord, type ReportedAccuracy, type WeightRecord } from "@ft/core";

const KERAS_V01 = "https://github.com/fchollet/deep-learning-models/releases/download/v0.1/";
const DRIVE = "https://drive.google.com/uc?export=download&id=";
const KERAS_TABLE = "keras.io Keras Applications table (224×224 centre crop, ImageNet val)";

const LEGACY_NOTES =
  "The seed's file: a Keras 0.x Sequential container (`nb_layers`, `layer_k/param_p`) loaded by position over " +
  "all {n} layers, Theano kernels (flipped on load) and `fc1` rows in channels-first Flatten order (reordered on load). " +
  "Hosted on Google Drive (share link https://drive.google.com/file/d/{id}/view); the size is the seed's rounded figure " +
  "and no checksum was published, so only a plausible size can be checked. Same Oxford VGG weights as the Keras-applications file.";

/**
 * A VGG's records; the first is the default (`"imagenet"`): the GitHub-hosted Keras-applications file with an
 * md5, then its notop sibling, then the seed's legacy Theano file (the same Oxford weights).
 */
function vggRecords(
  depth: 16 | 19,
  keras: { bytes: number; md5: string; notopBytes: number; notopMd5: string },
  seed: { driveId: string; megabytes: number; layers: number },
  accuracy: ReportedAccuracy,
): WeightRecord[] {
  const stem = `${KERAS_V01}vgg${depth}_weights_tf_dim_ordering_tf_kernels`;
  return [
    ...topAndNotopRecords(
      `vgg${depth}.keras`,
      { layout: "keras1", ordering: "tf", preprocessing: "caffe", accuracy },
      { url: `${stem}.h5`, bytes: keras.bytes, md5: keras.md5 },
      { url: `${stem}_notop.h5`, bytes: keras.notopBytes, md5: keras.notopMd5 },
    ),
    weightRecord(
      `vgg${depth}.th`,
      {
        layout: "legacy",
        ordering: "th",
        includeTop: true,
        preprocessing: "caffe",
        accuracy: { ...accuracy, source: `${KERAS_TABLE}, measured on the Keras-applications conversion of the same Oxford weights` },
      },
      {
        url: `${DRIVE}${seed.driveId}`,
        fileName: `vgg${depth}_weights.h5`,
        bytes: seed.megabytes * 1_000_000,
        bytesApproximate: true,
        notes: LEGACY_NOTES.replace("{n}", String(seed.layers)).replace("{id}", seed.driveId),
      },
    ),
  ];
}

/** VGG-16 weight files. */
export const VGG16_WEIGHTS = vggRecords(
  16,
  { bytes: 553_467_096, md5: "64373286793e3c8b2b4e3219cbf3544b", notopBytes: 58_889_256, notopMd5: "6d6bbae143d832006294945121d1f1fc" },
  { driveId: "0Bz7KyqmuGsilT0J5dmRCM0ROVHc", megabytes: 553, layers: 37 },
  { top1: 71.3, top5: 90.1, source: KERAS_TABLE },
);

/** VGG-19 weight files. */
export const VGG19_WEIGHTS = vggRecords(
  19,
  { bytes: 574_710_816, md5: "cbe5617147190e668d6c5d5026f83318", notopBytes: 80_134_624, notopMd5: "253f8cb515780f3b799900260a226db6" },
  { driveId: "0Bz7KyqmuGsilZ2RVeVhKY0FyRmc", megabytes: 575, layers: 43 },
  { top1: 71.3, top5: 90.0, source: KERAS_TABLE },
);
