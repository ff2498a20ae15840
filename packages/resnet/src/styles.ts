/**
 * The three ResNet-v1 code bases whose weight files `ft` loads. They compute the same bottleneck
 * network but differ in layer names, numerical details and a few layers; a `ResNetStyle` captures
 * exactly those differences so that one generic builder serves all of them.
 */

/** A conv unit of a bottleneck block, by its Caffe/Keras-1 branch name. */
export type Unit = "2a" | "2b" | "2c" | "1";

/** Names of the layers of one conv unit (conv → BN → [Scale] → [ReLU]). */
export interface UnitNames {
  conv: string;
  bn: string;
  /** Present when the style puts a Scale layer after the BN. */
  scale?: string;
  /** Activation after the unit (units 2a and 2b only). */
  relu: string;
  /** ZeroPadding2D before an explicitly padded 3×3 conv (unit 2b of Caffe styles). */
  pad?: string;
}

export interface ResNetStyle {
  /** Short label for descriptions, e.g. "Keras 1 (deep-learning-models v0.2)". */
  label: string;
  /** Name of the input layer. */
  inputName: string;
  /** Whether convolutions have a bias (false in the Caffe conversions). */
  convBias: boolean;
  bnEpsilon: number;
  /** A Caffe `Scale` layer (per-channel gamma, beta) after every BatchNormalization. */
  scaleAfterBn: boolean;
  /**
   * Whether the 3×3 convolution is written as ZeroPadding2D(1) + valid conv (Caffe conversions)
   * rather than `padding: "same"`. Same result for a 3×3 stride-1 kernel; kept for name-exactness.
   */
  explicitPad3x3: boolean;
  /** ZeroPadding2D(1) before the stem max pool (Keras applications: 112→56); else valid (112→55). */
  padBeforeStemPool: boolean;
  /** Keras applications creates the projection shortcut before the residual branch. */
  shortcutFirst: boolean;
  stem: { pad: string; conv: string; bn: string; scale?: string; relu: string; poolPad?: string; pool: string };
  /** Name of block `index` (0-based) of stage `stage` (2..5) holding `count` blocks. */
  blockId(stage: number, index: number, count: number): string;
  unit(block: string, unit: Unit): UnitNames;
  /** The residual sum of a block. */
  add(block: string): string;
  /** The ReLU after the sum. */
  out(block: string): string;
  /**
   * Classifier head with `includeTop`:
   * - `pool-flatten`: AveragePooling2D over the whole final map `avg_pool` → Flatten → Dense (the
   *   Keras 1 and Caffe files, where the pool is written 7×7 for a 224 input);
   * - `global`: GlobalAveragePooling2D `avg_pool` → Dense (Keras applications).
   */
  head: "pool-flatten" | "global";
  classifier: string;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

function letter(index: number): string {
  const l = LETTERS[index];
  if (!l) throw new Error(`block index ${index} has no letter`);
  return l;
}

/** `res2a_branch2a`, `bn2a_branch2a`, … as in the Caffe prototxt and the Keras-1 ports of it. */
function caffeUnitNames(block: string, unit: Unit, scale: boolean, pad: boolean): UnitNames {
  const conv = `res${block}_branch${unit}`;
  return {
    conv,
    bn: `bn${block}_branch${unit}`,
    ...(scale ? { scale: `scale${block}_branch${unit}` } : {}),
    relu: `${conv}_relu`,
    ...(pad && unit === "2b" ? { pad: `${conv}_zeropadding` } : {}),
  };
}

/**
 * deep-learning-models v0.2 `resnet50.py` (Keras 1.x), the seed's ResNet-50: conv with bias, BN
 * epsilon 1e-3 (Keras default), 3×3 `same`, no padding before the stem pool, blocks a, b, c, ….
 * Only weighted layers are named in that script; the names given here to weightless layers
 * (`conv1_pad`, `res2a_relu`, …) are ours (the file's are Keras 1 auto names, never looked up).
 */
export const KERAS1_STYLE: ResNetStyle = {
  label: "Keras 1 port of the Caffe model (deep-learning-models v0.2)",
  inputName: "input_1",
  convBias: true,
  bnEpsilon: 1e-3,
  scaleAfterBn: false,
  explicitPad3x3: false,
  padBeforeStemPool: false,
  shortcutFirst: false,
  stem: { pad: "conv1_pad", conv: "conv1", bn: "bn_conv1", relu: "conv1_relu", pool: "pool1" },
  blockId: (stage, index) => `${stage}${letter(index)}`,
  unit: (block, unit) => caffeUnitNames(block, unit, false, false),
  add: (block) => `res${block}`,
  out: (block) => `res${block}_relu`,
  head: "pool-flatten",
  classifier: "fc1000",
};

/**
 * flyyufelix's Keras conversions of KaimingHe's Caffe ResNet-101/152 (the seed's): no conv bias,
 * BN epsilon 1.1e-5, a Scale after every BN, explicit zero padding layers, input named `data`,
 * blocks `a, b1 … bN` in stages 3 and 4 and `a, b, c` in stages 2 and 5.
 */
export const CAFFE_STYLE: ResNetStyle = {
  label: "Caffe model (KaimingHe) converted to Keras by flyyufelix",
  inputName: "data",
  convBias: false,
  bnEpsilon: 1.1e-5,
  scaleAfterBn: true,
  explicitPad3x3: true,
  padBeforeStemPool: false,
  shortcutFirst: false,
  stem: { pad: "conv1_zeropadding", conv: "conv1", bn: "bn_conv1", scale: "scale_conv1", relu: "conv1_relu", pool: "pool1" },
  blockId: (stage, index) => (stage === 3 || stage === 4 ? (index === 0 ? `${stage}a` : `${stage}b${index}`) : `${stage}${letter(index)}`),
  unit: (block, unit) => caffeUnitNames(block, unit, true, true),
  add: (block) => `res${block}`,
  out: (block) => `res${block}_relu`,
  head: "pool-flatten",
  classifier: "fc1000",
};

const KERAS_APPS_UNIT: Record<Unit, number> = { "2a": 1, "2b": 2, "2c": 3, "1": 0 };

/**
 * Name of the classifier in the Keras-applications ResNet files. The files were saved from
 * keras-applications' `resnet_common.py`, which names it `probs`; tf.keras later renamed it
 * `predictions` but loads these files by position, so the rename never touched the files.
 */
export const KERAS_APPS_CLASSIFIER = "probs";

/**
 * keras-applications `resnet_common.py` ResNet (v1): conv with bias, BN epsilon 1.001e-5, padding
 * before the stem pool, names `conv{S}_block{i}_{k}_{conv,bn,relu}`, shortcut unit 0 built first.
 */
export const KERAS_APPS_STYLE: ResNetStyle = {
  label: "Keras applications (keras-team/keras-applications release `resnet`)",
  inputName: "input_1",
  convBias: true,
  bnEpsilon: 1.001e-5,
  scaleAfterBn: false,
  explicitPad3x3: false,
  padBeforeStemPool: true,
  shortcutFirst: true,
  stem: { pad: "conv1_pad", conv: "conv1_conv", bn: "conv1_bn", relu: "conv1_relu", poolPad: "pool1_pad", pool: "pool1_pool" },
  blockId: (stage, index) => `conv${stage}_block${index + 1}`,
  unit: (block, unit) => {
    const k = KERAS_APPS_UNIT[unit];
    return { conv: `${block}_${k}_conv`, bn: `${block}_${k}_bn`, relu: `${block}_${k}_relu` };
  },
  add: (block) => `${block}_add`,
  out: (block) => `${block}_out`,
  head: "global",
  classifier: KERAS_APPS_CLASSIFIER,
};
