import { tfAndThRecords, topAndNotopRecords, type ReportedAccuracy, type WeightRecord } from "@ft/core";

const DRIVE = "https://drive.google.com/uc?export=download&id=";
const KERAS_RELEASE = "https://github.com/keras-team/keras-applications/releases/download/densenet/";
const CAFFE_SOURCE = "shicai/DenseNet-Caffe README (single centre crop 224, ImageNet val)";
const KERAS_TABLE = "keras.io Keras Applications table (224×224 centre crop, ImageNet val)";

/** One Caffe-converted file pair (Theano and TensorFlow layouts of the same weights), hosted on Google Drive. */
function caffeRecords(model: string, megabytes: number, thId: string, tfId: string, accuracy: ReportedAccuracy): WeightRecord[] {
  const file = (ordering: "th" | "tf", id: string, layout: string) => ({
    url: `${DRIVE}${id}`,
    fileName: `${model}_weights_${ordering}.h5`,
    bytes: megabytes * 1_000_000,
    bytesApproximate: true,
    notes:
      `shicai's Caffe model converted to Keras 1 by flyyufelix (DenseNet-Keras), ${layout}. Hosted on Google Drive ` +
      `(share link https://drive.google.com/open?id=${id}), which may answer with a confirmation page for large files; ` +
      "the size is the seed's rounded figure and no checksum was published. BN gamma/beta are 1/0; the Scale layers hold the affine.",
  });
  return tfAndThRecords(model, { layout: "keras1", preprocessing: "densenet", accuracy }, file("tf", tfId, "TensorFlow layout"), file("th", thId, "Theano layout (kernels flipped on load)"));
}

/** Keras-applications top and notop files (md5 from keras-applications' densenet.py); sizes estimated from the parameter counts. */
function kerasRecords(model: string, params: { top: number; notop: number }, md5: { top: string; notop: string }, accuracy: ReportedAccuracy): WeightRecord[] {
  const file = (values: number, digest: string, suffix: string) => ({
    url: `${KERAS_RELEASE}${model}_weights_tf_dim_ordering_tf_kernels${suffix}.h5`,
    bytes: values * 4,
    bytesApproximate: true,
    md5: digest,
    notes: `Size estimated from the parameter count (${values.toLocaleString("en-US")} float32); the md5 is authoritative.`,
  });
  return topAndNotopRecords(`${model}.keras`, { layout: "keras2", ordering: "tf", preprocessing: "torch", accuracy }, file(params.top, md5.top, ""), file(params.notop, md5.notop, "_notop"));
}

export const DENSENET121_WEIGHTS = caffeRecords("densenet121", 32, "0Byy2AcGyEVxfMlRYb3YzV210VzQ", "0Byy2AcGyEVxfSTA4SHJVOHNuTXc", { top1: 74.91, top5: 92.19, source: CAFFE_SOURCE });
export const DENSENET169_WEIGHTS = caffeRecords("densenet169", 56, "0Byy2AcGyEVxfN0d3T1F1MXg0NlU", "0Byy2AcGyEVxfSEc5UC1ROUFJdmM", { top1: 76.09, top5: 93.14, source: CAFFE_SOURCE });
export const DENSENET161_WEIGHTS = caffeRecords("densenet161", 112, "0Byy2AcGyEVxfVnlCMlBGTDR3RGs", "0Byy2AcGyEVxfUDZwVjU2cFNidTA", { top1: 77.64, top5: 93.79, source: CAFFE_SOURCE });

export const DENSENET121_KERAS_WEIGHTS = kerasRecords(
  "densenet121",
  { top: 8_062_504, notop: 7_037_504 },
  { top: "9d60b8095a5708f2dcce2bca79d332c7", notop: "30ee3e1110167f948a6b9946edeeb738" },
  { top1: 75.0, top5: 92.3, source: KERAS_TABLE },
);
export const DENSENET169_KERAS_WEIGHTS = kerasRecords(
  "densenet169",
  { top: 14_307_880, notop: 12_642_880 },
  { top: "d699b8f76981ab1b30698df4c175e90b", notop: "b8c4d4c20dd625c148057b9ff1c1176b" },
  { top1: 76.2, top5: 93.2, source: KERAS_TABLE },
);
export const DENSENET201_KERAS_WEIGHTS = kerasRecords(
  "densenet201",
  { top: 20_242_984, notop: 18_321_984 },
  { top: "1ceb130c1ea1b78c3bf6114dbdfd8807", notop: "c13680b51ded0fb44dff2d8f86ac8bb1" },
  { top1: 77.3, top5: 93.6, source: KERAS_TABLE },
);
