/**
 * Times ft-native's addon functions, called directly, on the ops and shapes of aten_ops.py
 * (ResNet-50 at 224 px, batch 8; warm-up then the median of --repeats calls). Not part of the tests.
 * Run from the repository root:
 *   pnpm exec tsx --conditions source packages/backend-native/scripts/aten/addon_ops.ts [--repeats 11]
 * Prints one JSON line per op: {op, shape, ms}. An op with a "[...]" suffix is a variant of the op
 * before the bracket (compare.sh matches it to the same ATen row).
 */
import { loadNativeAddon } from "../../src/addon.js";

const addon = loadNativeAddon();
const args = process.argv.slice(2);
const REPEATS = args.includes("--repeats") ? Number(args[args.indexOf("--repeats") + 1]) : 11;
const WARMUP = 3;

// name, [N, H, W, Cin], kernel, stride, pad, Cout: the same list as aten_ops.py.
const CONVS: Array<[string, [number, number, number, number], number, number, number, number]> = [
  ["stem 7x7/2", [8, 224, 224, 3], 7, 2, 3, 64],
  ["1x1 256->64", [8, 56, 56, 256], 1, 1, 0, 64],
  ["3x3 64->64", [8, 56, 56, 64], 3, 1, 1, 64],
  ["3x3 256->256", [8, 14, 14, 256], 3, 1, 1, 256],
  ["1x1/2 1024->2048", [8, 14, 14, 1024], 1, 2, 0, 2048],
];
const ACT = [8, 56, 56, 256];

function medianMs(fn: () => void): number {
  for (let i = 0; i < WARMUP; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    fn();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
}

const emit = (op: string, shape: string, ms: number) => console.log(JSON.stringify({ op, shape, ms: +ms.toFixed(3) }));
const random = (n: number, offset = 0) => Float32Array.from({ length: n }, () => Math.random() * 2 - 1 + offset);
const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

for (const [name, xShape, k, s, p, oc] of CONVS) {
  const [n, h, w, c] = xShape;
  const oh = Math.floor((h + 2 * p - k) / s) + 1, ow = Math.floor((w + 2 * p - k) / s) + 1;
  const filterShape = [k, k, c, oc], geometry = [s, s, 1, 1, p, p, p, p, oh, ow];
  const x = random(size(xShape)), filter = random(size(filterShape)), dy = random(n * oh * ow * oc);
  const y = new Float32Array(dy.length), dx = new Float32Array(x.length), dw = new Float32Array(filter.length);
  const shape = `${name} ${xShape.join("x")}`;
  // weightsId 0 reorders the HWIO filter into oneDNN's blocked layout on every call, as ATen does
  // (and as a training step does once per changed weight); the cached variant skips it.
  emit("conv_fwd", shape, medianMs(() => addon.conv2d(x, xShape, filterShape, geometry, filter, null, y, false, 0)));
  emit("conv_fwd [cached weights]", shape, medianMs(() => addon.conv2d(x, xShape, filterShape, geometry, filter, null, y, false, 1)));
  emit("conv_bwd_input", shape, medianMs(() => addon.conv2dBackpropInput(dy, xShape, filterShape, geometry, filter, dx, 0)));
  emit("conv_bwd_weight", shape, medianMs(() => addon.conv2dBackpropFilter(x, xShape, filterShape, geometry, dy, dw)));
}

const c = ACT[3]!, rows = size(ACT) / c, act = ACT.join("x"), eps = 1e-3;
const x = random(size(ACT)), dy = random(size(ACT)), out = new Float32Array(x.length), tmp = new Float32Array(x.length);
const gamma = random(c, 1.5), beta = random(c), mean = new Float32Array(c), variance = new Float32Array(c);
const dGamma = new Float32Array(c), dBeta = new Float32Array(c);

// Training BatchNorm as tf.moments + FusedBatchNorm run on ft-native: Mean, SquaredDifference, Mean, normalise.
emit("bn_train_fwd [separate passes]", act, medianMs(() => {
  addon.reduce(x, [1, rows, c], mean, true);
  addon.binary(6, x, ACT, mean, [1, 1, 1, c], tmp, ACT);
  addon.reduce(tmp, [1, rows, c], variance, true);
  addon.batchNorm(x, mean, variance, beta, gamma, eps, out);
}));
// Its full gradient (through the batch statistics) in the fewest passes the existing functions allow:
// dx = a·dy + b·(x − mean) + d per channel; batchNorm with variance 1 − eps computes b·(x − mean) + d.
// tfjs's own gradient graph (Tile, Sub, Mul, Add...) makes more passes than this.
const a = new Float32Array(c), b = new Float32Array(c), d = new Float32Array(c), unitVar = new Float32Array(c).fill(1 - eps);
emit("bn_train_bwd [separate passes]", act, medianMs(() => {
  addon.reduce(dy, [1, rows, c], dBeta, false);
  addon.centeredDot(x, mean, dy, dGamma);
  for (let j = 0; j < c; j++) {
    const invStd = 1 / Math.sqrt(variance[j]! + eps);
    a[j] = gamma[j]! * invStd;
    b[j] = (-a[j]! * dGamma[j]! * invStd * invStd) / rows;
    d[j] = (-a[j]! * dBeta[j]!) / rows;
    dGamma[j] = dGamma[j]! * invStd;
  }
  addon.batchNorm(x, mean, unitVar, d, b, eps, tmp);
  addon.binary(2, dy, ACT, a, [1, 1, 1, c], out, ACT);
  addon.binary(0, out, ACT, tmp, ACT, out, ACT);
}));
// The fused functions, where this build has them (zero dMean/dVariance: y is the only output used).
if (typeof addon.batchNormTraining === "function" && typeof addon.batchNormTrainingGrad === "function") {
  const zeros = new Float32Array(c);
  emit("bn_train_fwd [fused]", act, medianMs(() => addon.batchNormTraining(x, c, gamma, beta, eps, out, mean, variance)));
  emit("bn_train_bwd [fused]", act, medianMs(() =>
    addon.batchNormTrainingGrad(dy, x, mean, variance, gamma, zeros, zeros, eps, out, dGamma, dBeta)));
}

emit("relu", act, medianMs(() => addon.unary(0, x, out, 0)));
emit("relu_bwd", act, medianMs(() => addon.binary(7, dy, ACT, x, ACT, out, ACT)));
emit("add", act, medianMs(() => addon.binary(0, x, ACT, dy, ACT, out, ACT)));
