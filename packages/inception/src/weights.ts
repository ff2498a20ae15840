import { topAndNotopRecords, weightRecord, type WeightRecord } from "@ft/core";
import { INCEPTION_V4_CLASSES } from "./inception-v4.js";

const DLM = "https://github.com/fchollet/deep-learning-models/releases/download/";
const KERAS_TABLE = "keras.io Keras Applications table (299×299, ImageNet val)";

/** GoogLeNet weight files; the first is the default (`"imagenet"`). */
export const GOOGLENET_WEIGHTS: WeightRecord[] = [
  weightRecord(
    "googlenet.th",
    {
      layout: "keras1",
      ordering: "th",
      includeTop: true,
      preprocessing: "caffe",
      accuracy: { top1: 68.7, top5: 88.9, source: "BVLC GoogLeNet model card (Caffe model zoo), centre crop, ImageNet val" },
    },
    {
      url: "https://drive.google.com/uc?export=download&id=0B319laiAPjU3RE1maU9MMlh2dnc",
      fileName: "googlenet_weights.h5",
      bytes: 54_000_000,
      bytesApproximate: true,
      notes:
        "The BVLC Caffe model converted to Keras 1 (Theano) by Joe Marino; the seed's only GoogLeNet file. Hosted on Google Drive " +
        "(share link https://drive.google.com/open?id=0B319laiAPjU3RE1maU9MMlh2dnc), which may answer with a confirmation page for " +
        "large files; the size is the seed's rounded figure and no checksum was published. Theano kernels are flipped on load, " +
        "and the `loss1/fc`, `loss2/fc` rows come in channels-first Flatten order (128×4×4).",
    },
  ),
];

/** The seed's v0.2 file (Theano layout). */
export const INCEPTION_V3_WEIGHTS: WeightRecord[] = [
  weightRecord(
    "inception_v3.th",
    { layout: "keras1", ordering: "th", includeTop: true, preprocessing: "inception" },
    {
      url: `${DLM}v0.2/inception_v3_weights_th_dim_ordering_th_kernels.h5`,
      bytes: 95_000_000,
      bytesApproximate: true,
      notes:
        "deep-learning-models release v0.2 (Keras 1): conv with bias → ReLU → BN, auto-named layers. The size is the seed's rounded " +
        "figure and no checksum was published. No accuracy was published for this file; the v0.5 weights (inception_v3.keras) are a different network.",
    },
  ),
];

const estimated = (values: string) => `Size estimated from the parameter count (${values} float32); the md5 is authoritative.`;

/** The Keras-applications files (release v0.5, md5 from keras-applications). */
export const INCEPTION_V3_KERAS_WEIGHTS: WeightRecord[] = topAndNotopRecords(
  "inception_v3.keras",
  { layout: "keras2", ordering: "tf", preprocessing: "tf", accuracy: { top1: 77.9, top5: 93.7, source: KERAS_TABLE } },
  { url: `${DLM}v0.5/inception_v3_weights_tf_dim_ordering_tf_kernels.h5`, bytes: 95_500_000, bytesApproximate: true, md5: "9a0d58056eeedaa3f26cb7ebd46da564", notes: estimated("23,851,784") },
  { url: `${DLM}v0.5/inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`, bytes: 87_200_000, bytesApproximate: true, md5: "bcbd6486424b2319ff4ef7d526e38f63", notes: estimated("21,802,784") },
);

const V4_RELEASE = "https://github.com/kentsommer/keras-inceptionV4/releases/download/2.0/";
const V4_NOTES =
  "keras-inceptionV4 release 2.0 (Keras 1, converted from the TF-slim checkpoint): auto-named layers, BN gamma all ones, " +
  "1001 classes with class 0 = background (drop it with dropBackgroundClass before decoding ImageNet labels). " +
  "The size is the seed's rounded figure and no checksum was published.";

/** Inception-V4 weight files; the first is the default (`"imagenet"`). */
export const INCEPTION_V4_WEIGHTS: WeightRecord[] = (["tf", "th"] as const).map((ordering) =>
  weightRecord(
    `inception_v4.${ordering}`,
    {
      layout: "keras1",
      ordering,
      includeTop: true,
      classes: INCEPTION_V4_CLASSES,
      preprocessing: "inception",
      accuracy: { top1: 80.46, top5: 95.12, source: "kentsommer/keras-inceptionV4 README (top-1 error 19.54 %, top-5 error 4.88 %)" },
    },
    {
      url: `${V4_RELEASE}inception-v4_weights_${ordering}_dim_ordering_${ordering}_kernels.h5`,
      bytes: 172_000_000,
      bytesApproximate: true,
      notes: ordering === "th" ? `${V4_NOTES} Theano kernels are flipped on load.` : V4_NOTES,
    },
  ),
);
