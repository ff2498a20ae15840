import type { ReportedAccuracy, WeightRecord } from "@ft/core";

const KERAS_V01 = "https://github.com/fchollet/deep-learning-models/releases/download/v0.1/";
const DRIVE = "https://drive.google.com/uc?export=download&id=";
const KERAS_TABLE = "keras.io Keras Applications table (224×224 centre crop, ImageNet val)";

const VGG16_KERAS_ACCURACY: ReportedAccuracy = { top1: 71.3, top5: 90.1, source: KERAS_TABLE };
const VGG19_KERAS_ACCURACY: ReportedAccuracy = { top1: 71.3, top5: 90.0, source: KERAS_TABLE };

const LEGACY_NOTES =
  "The seed's file: a Keras 0.x Sequential container (`nb_layers`, `layer_k/param_p`) loaded by position over " +
  "all {n} layers, Theano kernels (flipped on load) and `fc1` rows in channels-first Flatten order (reordered on load). " +
  "Hosted on Google Drive (share link https://drive.google.com/file/d/{id}/view); the size is the seed's rounded figure " +
  "and no checksum was published, so only a plausible size can be checked. Same Oxford VGG weights as the Keras-applications file.";

function legacyNotes(layers: number, driveId: string): string {
  return LEGACY_NOTES.replace("{n}", String(layers)).replace("{id}", driveId);
}

/** VGG-16 weight files; the first is the default (`"imagenet"`): the GitHub-hosted file with an md5. */
export const VGG16_WEIGHTS: WeightRecord[] = [
  {
    id: "vgg16.keras",
    url: `${KERAS_V01}vgg16_weights_tf_dim_ordering_tf_kernels.h5`,
    fileName: "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
    bytes: 553_467_096,
    checksum: { algorithm: "md5", value: "64373286793e3c8b2b4e3219cbf3544b" },
    layout: "keras1",
    ordering: "tf",
    includeTop: true,
    classes: 1000,
    preprocessing: "caffe",
    accuracy: VGG16_KERAS_ACCURACY,
  },
  {
    id: "vgg16.keras.notop",
    url: `${KERAS_V01}vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`,
    fileName: "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    bytes: 58_889_256,
    checksum: { algorithm: "md5", value: "6d6bbae143d832006294945121d1f1fc" },
    layout: "keras1",
    ordering: "tf",
    includeTop: false,
    preprocessing: "caffe",
  },
  {
    id: "vgg16.th",
    url: `${DRIVE}0Bz7KyqmuGsilT0J5dmRCM0ROVHc`,
    fileName: "vgg16_weights.h5",
    bytes: 553_000_000,
    bytesApproximate: true,
    layout: "legacy",
    ordering: "th",
    includeTop: true,
    classes: 1000,
    preprocessing: "caffe",
    accuracy: { ...VGG16_KERAS_ACCURACY, source: `${KERAS_TABLE}, measured on the Keras-applications conversion of the same Oxford weights` },
    notes: legacyNotes(37, "0Bz7KyqmuGsilT0J5dmRCM0ROVHc"),
  },
];

/** VGG-19 weight files; the first is the default (`"imagenet"`). */
export const VGG19_WEIGHTS: WeightRecord[] = [
  {
    id: "vgg19.keras",
    url: `${KERAS_V01}vgg19_weights_tf_dim_ordering_tf_kernels.h5`,
    fileName: "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
    bytes: 574_710_816,
    checksum: { algorithm: "md5", value: "cbe5617147190e668d6c5d5026f83318" },
    layout: "keras1",
    ordering: "tf",
    includeTop: true,
    classes: 1000,
    preprocessing: "caffe",
    accuracy: VGG19_KERAS_ACCURACY,
  },
  {
    id: "vgg19.keras.notop",
    url: `${KERAS_V01}vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`,
    fileName: "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
    bytes: 80_134_624,
    checksum: { algorithm: "md5", value: "253f8cb515780f3b799900260a226db6" },
    layout: "keras1",
    ordering: "tf",
    includeTop: false,
    preprocessing: "caffe",
  },
  {
    id: "vgg19.th",
    url: `${DRIVE}0Bz7KyqmuGsilZ2RVeVhKY0FyRmc`,
    fileName: "vgg19_weights.h5",
    bytes: 575_000_000,
    bytesApproximate: true,
    layout: "legacy",
    ordering: "th",
    includeTop: true,
    classes: 1000,
    preprocessing: "caffe",
    accuracy: { ...VGG19_KERAS_ACCURACY, source: `${KERAS_TABLE}, measured on the Keras-applications conversion of the same Oxford weights` },
    notes: legacyNotes(43, "0Bz7KyqmuGsilZ2RVeVhKY0FyRmc"),
  },
];
