import { tfAndThRecords, topAndNotopRecords, weightRecord, type ReportedAccuracy, type WeightRecord } from "@ft/core";

const KERAS_V02 = "https://github.com/fchollet/deep-learning-models/releases/download/v0.2/";
const KERAS_APPS = "https://github.com/keras-team/keras-applications/releases/download/resnet/";
const DRIVE = "https://drive.google.com/uc?export=download&id=";

const KAIMING = "KaimingHe/deep-residual-networks README, 1-crop (224×224 centre crop of the 256-resized image) ImageNet val, of the Caffe original";
const KERAS_TABLE = "keras.io Keras Applications table (224×224 centre crop, ImageNet val)";

const CAFFE_50: ReportedAccuracy = { top1: 75.3, top5: 92.2, source: `${KAIMING} this file was converted from` };
const CAFFE_101: ReportedAccuracy = { top1: 76.4, top5: 92.9, source: `${KAIMING} this file was converted from` };
const CAFFE_152: ReportedAccuracy = { top1: 77.0, top5: 93.3, source: `${KAIMING} this file was converted from` };

const V02_NOTES = "Keras 1 `save_weights` file of deep-learning-models v0.2 (Caffe ResNet-50 ported to Keras).";
const V02_NOTOP_NOTES = `${V02_NOTES} Holds no classifier; its Keras model still ended in the weightless 7×7 avg_pool.`;

/** ResNet-50, deep-learning-models v0.2 (`res2a_branch2a` names); the seed's file is `resnet50.th`. */
export const RESNET50_WEIGHTS: WeightRecord[] = (() => {
  const set = { layout: "keras1", preprocessing: "caffe", accuracy: CAFFE_50 } as const;
  const file = (ordering: "th" | "tf", notop: boolean) => `${KERAS_V02}resnet50_weights_${ordering}_dim_ordering_${ordering}_kernels${notop ? "_notop" : ""}.h5`;
  return [
    weightRecord("resnet50.tf", { ...set, ordering: "tf", includeTop: true }, { url: file("tf", false), bytes: 102_853_048, md5: "a7b3fe01876f51b976af0dea6bc144eb", notes: V02_NOTES }),
    // The seed's "103 MB"; the md5 comes from Keras 1.2's resnet50.py.
    weightRecord(
      "resnet50.th",
      { ...set, ordering: "th", includeTop: true },
      { url: file("th", false), bytes: 103_000_000, bytesApproximate: true, md5: "1c1f8f5b0c8ee28fe9d950625a230e1c", notes: `${V02_NOTES} The seed's file; Theano kernels (flipped on load).` },
    ),
    weightRecord("resnet50.tf.notop", { ...set, ordering: "tf", includeTop: false }, { url: file("tf", true), bytes: 94_653_016, md5: "a268eb855778b3df3c7506639542a6af", notes: V02_NOTOP_NOTES }),
    // Not published; the tf notop file holds the same arrays transposed, so about its size.
    weightRecord(
      "resnet50.th.notop",
      { ...set, ordering: "th", includeTop: false },
      { url: file("th", true), bytes: 94_653_016, bytesApproximate: true, md5: "f64f049c92468c9affcd44b0976cdafe", notes: `${V02_NOTOP_NOTES} Theano kernels (flipped on load).` },
    ),
  ];
})();

function caffeRecords(depth: 101 | 152, ids: { th: string; tf: string }, megabytes: number, accuracy: ReportedAccuracy): WeightRecord[] {
  const notes = (driveId: string, ordering: string) =>
    `The seed's file: flyyufelix's Keras 1 conversion of KaimingHe's Caffe ResNet-${depth} (${ordering} kernels), ` +
    `on Google Drive (share link https://drive.google.com/file/d/${driveId}/view). The size is the seed's rounded ` +
    `"${megabytes} MB" and no checksum was published. A seed user measured ≈35 % top-1 error for the ResNet-101 ` +
    `conversion on ImageNet val (the paper's model: 23.6 %), so the file may carry conversion faults.`;
  const file = (ordering: "th" | "tf", driveId: string, name: string) => ({
    url: `${DRIVE}${driveId}`,
    fileName: `resnet${depth}_weights_${ordering}.h5`,
    bytes: megabytes * 1_000_000,
    bytesApproximate: true,
    notes: notes(driveId, name),
  });
  return tfAndThRecords(`resnet${depth}`, { layout: "keras1", preprocessing: "caffe", accuracy }, file("tf", ids.tf, "TensorFlow"), file("th", ids.th, "Theano"));
}

/** The seed's Caffe-converted ResNet-101 (th and tf), Google Drive. */
export const RESNET101_CAFFE_WEIGHTS = caffeRecords(101, { th: "0Byy2AcGyEVxfdUV1MHJhelpnSG8", tf: "0Byy2AcGyEVxfTmRRVmpGWDczaXM" }, 179, CAFFE_101);
/** The seed's Caffe-converted ResNet-152 (th and tf), Google Drive. */
export const RESNET152_CAFFE_WEIGHTS = caffeRecords(152, { th: "0Byy2AcGyEVxfZHhUT3lWVWxRN28", tf: "0Byy2AcGyEVxfeXExMzNNOHpEODg" }, 243, CAFFE_152);

interface KerasAppsFile {
  bytes: number;
  bytesApproximate?: boolean;
  md5: string;
}

function kerasAppsRecords(depth: 50 | 101 | 152, top: KerasAppsFile, notop: KerasAppsFile, accuracy: ReportedAccuracy): WeightRecord[] {
  const stem = `resnet${depth}_weights_tf_dim_ordering_tf_kernels`;
  const notes =
    "Keras 2 `save_weights` file of the keras-applications `resnet` release (names `conv2_block1_1_conv`). " +
    "Cached under a `keras-applications-` prefix because ResNet-50's file shares its name with the v0.2 one.";
  const file = (f: KerasAppsFile, name: string) => ({ url: `${KERAS_APPS}${name}`, fileName: `keras-applications-${name}`, ...f });
  return topAndNotopRecords(`resnet${depth}.keras`, { layout: "keras2", ordering: "tf", preprocessing: "caffe", accuracy, notes }, file(top, `${stem}.h5`), file(notop, `${stem}_notop.h5`));
}

export const RESNET50_KERAS_WEIGHTS = kerasAppsRecords(
  50,
  { bytes: 102_967_424, md5: "2cb95161c43110f7111970584f804107" },
  { bytes: 94_765_736, md5: "4d473c1dd8becc155b73f8504c6f6626" },
  { top1: 74.9, top5: 92.1, source: KERAS_TABLE },
);
export const RESNET101_KERAS_WEIGHTS = kerasAppsRecords(
  101,
  { bytes: 179_648_224, md5: "f1aeb4b969a6efcfb50fad2f0c20cfc5" },
  { bytes: 171_446_536, md5: "88cf7a10940856eca736dc7b7e228a21" },
  { top1: 76.4, top5: 92.8, source: KERAS_TABLE },
);
export const RESNET152_KERAS_WEIGHTS = kerasAppsRecords(
  152,
  // Exact size of the top file not found in any published log: about the notop file plus the classifier.
  { bytes: 242_900_000, bytesApproximate: true, md5: "100835be76be38e30d865e96f2aaae62" },
  { bytes: 234_698_864, md5: "ee4c566cf9a93f14d82f913c2dc6dd0c" },
  { top1: 76.6, top5: 93.1, source: KERAS_TABLE },
);
