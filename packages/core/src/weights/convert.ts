/**
 * Kernel ordering detection (Theano vs TensorFlow) and the exact array conversions that turn Keras
 * weights into TensorFlow.js ones (NHWC, cross-correlation). See docs/weights-format.md.
 */
import { FtError, UsageError } from "../errors.js";
import type { DimOrdering } from "../spec.js";
import type { KerasWeightFile } from "./keras-file.js";

/** One fact pointing to an ordering. Strong facts outvote weak ones; strong facts that disagree make it ambiguous. */
export interface OrderingEvidence {
  ordering: DimOrdering;
  strong: boolean;
  reason: string;
}

/** What a file says about its kernel ordering. */
export interface OrderingDetection {
  /** The ordering, or `undefined` when the evidence is missing or contradictory. */
  ordering?: DimOrdering;
  evidence: OrderingEvidence[];
  /** Why no ordering was decided, when `ordering` is undefined. */
  problem?: string;
}

/** Largest kernel side considered plausible when guessing layouts from shapes alone. */
const MAX_KERNEL_SIDE = 11;

export interface DetectOrderingOptions {
  /**
   * The model's conv kernel shapes `(kh, kw, in, out)` by file layer name (legacy files: `layer_K`).
   * A file kernel equal to exactly one of the two layouts of the model's kernel is strong evidence.
   */
  expectedKernels?: ReadonlyMap<string, readonly number[]>;
}

/**
 * Detects the ordering from the `backend` attribute, the kernel shapes (Keras 0/1 files store Theano
 * kernels as `(out, in, kh, kw)`), the model's expected shapes and, weakly, Keras-1 weight names
 * (the TensorFlow backend appends `:0`).
 */
export function detectOrdering(
  file: Pick<KerasWeightFile, "layers" | "backend" | "kerasMajor">,
  options: DetectOrderingOptions = {},
): OrderingDetection {
  const evidence: OrderingEvidence[] = [];
  const backend = file.backend?.toLowerCase();
  if (backend === "theano") evidence.push({ ordering: "th", strong: true, reason: 'backend attribute is "theano"' });
  else if (backend === "tensorflow" || backend === "cntk" || backend === "jax") {
    evidence.push({ ordering: "tf", strong: true, reason: `backend attribute is "${file.backend}"` });
  }

  if (file.kerasMajor < 2) {
    const votes = { th: [] as string[], tf: [] as string[] };
    const modelVotes = { th: [] as string[], tf: [] as string[] };
    const suffixed: boolean[] = [];
    for (const layer of file.layers) {
      for (const w of layer.weights) {
        if (file.kerasMajor === 1) suffixed.push(/:\d+$/.test(w.name));
        if (w.shape.length !== 4) continue;
        const s = w.shape;
        const oihw = s[2]! <= MAX_KERNEL_SIDE && s[3]! <= MAX_KERNEL_SIDE;
        const hwio = s[0]! <= MAX_KERNEL_SIDE && s[1]! <= MAX_KERNEL_SIDE;
        if (oihw !== hwio) (oihw ? votes.th : votes.tf).push(`${layer.name} ${fmt(s)}`);
        const expected = options.expectedKernels?.get(layer.name);
        if (expected && expected.length === 4) {
          const [kh, kw, cin, cout] = expected;
          const asTh = sameShape(s, [cout!, cin!, kh!, kw!]);
          const asTf = sameShape(s, expected);
          if (asTh !== asTf) (asTh ? modelVotes.th : modelVotes.tf).push(`${layer.name} ${fmt(s)}`);
        }
      }
    }
    for (const o of ["th", "tf"] as const) {
      const layoutName = o === "th" ? "(out, in, kh, kw)" : "(kh, kw, in, out)";
      if (votes[o].length) {
        evidence.push({ ordering: o, strong: true, reason: `kernel shapes read as ${layoutName}: ${sample(votes[o])}` });
      }
      if (modelVotes[o].length) {
        evidence.push({ ordering: o, strong: true, reason: `kernels match the model's in ${layoutName} order: ${sample(modelVotes[o])}` });
      }
    }
    if (suffixed.length) {
      if (suffixed.every(Boolean)) evidence.push({ ordering: "tf", strong: false, reason: 'weight names end in ":0" (saved by the TensorFlow backend)' });
      else if (!suffixed.some(Boolean)) evidence.push({ ordering: "th", strong: false, reason: 'weight names have no ":0" suffix (saved by the Theano backend)' });
    }
  }

  const strong = new Set(evidence.filter((e) => e.strong).map((e) => e.ordering));
  const weak = new Set(evidence.filter((e) => !e.strong).map((e) => e.ordering));
  if (strong.size === 2) {
    return { evidence, problem: `the file's evidence disagrees: ${evidence.filter((e) => e.strong).map((e) => `${e.ordering} (${e.reason})`).join("; ")}` };
  }
  if (strong.size === 1) return { ordering: [...strong][0], evidence };
  if (weak.size === 1) return { ordering: [...weak][0], evidence };
  return { evidence, problem: "the file records no backend and its kernel shapes fit both orderings" };
}

/**
 * The ordering to convert with: the explicit override when given, else the detected one.
 * Refuses, naming `--ordering th|tf`, when nothing decides.
 */
export function resolveOrdering(path: string, detection: OrderingDetection, override?: DimOrdering, fallback?: { ordering: DimOrdering; source: string }): { ordering: DimOrdering; source: string } {
  if (override !== undefined) {
    if (override !== "th" && override !== "tf") throw new UsageError(`--ordering must be "th" or "tf" (got "${String(override)}")`);
    return { ordering: override, source: "option" };
  }
  if (detection.ordering) return { ordering: detection.ordering, source: "detected" };
  if (fallback) return fallback;
  throw new FtError(
    `${path}: cannot tell whether this file holds Theano (th) or TensorFlow (tf) kernels: ${detection.problem ?? "no evidence"}. Pass the ordering explicitly with --ordering th|tf (option "ordering").`,
  );
}

/**
 * How one stored array becomes a tfjs weight:
 * - `copy`: as stored;
 * - `theano-kernel`: `(out, in, kh, kw)` Theano kernel → `(kh, kw, in, out)`, both spatial axes flipped;
 * - `flip-kernel`: `(kh, kw, in, out)` kernel trained under Theano by Keras 2: flip both spatial axes;
 * - `channels-first-dense`: Dense kernel after a Flatten of a channels-first `[H, W, C]` map: rows `(c, h, w)` → `(h, w, c)`.
 */
export type WeightConversion =
  | { kind: "copy" }
  | { kind: "theano-kernel" }
  | { kind: "flip-kernel" }
  | { kind: "channels-first-dense"; featureShape: readonly [number, number, number] };

/** The tfjs shape a stored array of `fileShape` has after `conversion`. */
export function convertedShape(conversion: WeightConversion, fileShape: readonly number[]): number[] {
  if (conversion.kind === "theano-kernel") {
    const [o, c, kh, kw] = fileShape;
    return [kh!, kw!, c!, o!];
  }
  return [...fileShape];
}

/** The stored shape that converts to the tfjs shape `modelShape` (inverse of `convertedShape`). */
export function fileShapeFor(conversion: WeightConversion, modelShape: readonly number[]): number[] {
  if (conversion.kind === "theano-kernel") {
    const [kh, kw, c, o] = modelShape;
    return [o!, c!, kh!, kw!];
  }
  return [...modelShape];
}

/**
 * Converts rows `[start, end)` (axis 0 of the stored array, given in `src`) into their places in
 * `out`, the whole converted array. Converting row blocks lets large arrays stream through without a
 * second full-size copy.
 */
export function convertRows(conversion: WeightConversion, fileShape: readonly number[], src: Float32Array, start: number, end: number, out: Float32Array): void {
  const rowSize = fileShape.slice(1).reduce((a, b) => a * b, 1);
  if (src.length !== (end - start) * rowSize) throw new Error(`convertRows: got ${src.length} values for rows ${start}..${end} of ${fmt(fileShape)}`);
  switch (conversion.kind) {
    case "copy":
      out.set(src, start * rowSize);
      return;
    case "theano-kernel": {
      // W_tf[i, j, c, o] = W_th[o, c, kh-1-i, kw-1-j]
      const [O, C, KH, KW] = fileShape as [number, number, number, number];
      for (let o = start; o < end; o++) {
        const rowBase = (o - start) * rowSize;
        for (let c = 0; c < C; c++) {
          for (let i = 0; i < KH; i++) {
            const srcRow = rowBase + (c * KH + (KH - 1 - i)) * KW;
            for (let j = 0; j < KW; j++) out[((i * KW + j) * C + c) * O + o] = src[srcRow + (KW - 1 - j)]!;
          }
        }
      }
      return;
    }
    case "flip-kernel": {
      // W[i, j, c, o] = W_stored[kh-1-i, kw-1-j, c, o]; rows are i (the first spatial axis)
      const [KH, KW] = fileShape as [number, number, number, number];
      const inner = rowSize / KW;
      for (let i = start; i < end; i++) {
        for (let j = 0; j < KW; j++) {
          const from = ((i - start) * KW + j) * inner;
          out.set(src.subarray(from, from + inner), ((KH - 1 - i) * KW + (KW - 1 - j)) * inner);
        }
      }
      return;
    }
    case "channels-first-dense": {
      // W_nhwc[(h*W + w)*C + c, :] = W_nchw[c*H*W + h*W + w, :]
      const [H, W, C] = conversion.featureShape;
      const spatial = H * W;
      for (let r = start; r < end; r++) {
        const c = Math.floor(r / spatial);
        const hw = r - c * spatial;
        const from = (r - start) * rowSize;
        out.set(src.subarray(from, from + rowSize), (hw * C + c) * rowSize);
      }
      return;
    }
  }
}

/** Converts a whole stored array. */
export function convertWeight(conversion: WeightConversion, data: Float32Array, fileShape: readonly number[]): Float32Array {
  checkConversion(conversion, fileShape);
  const out = new Float32Array(data.length);
  convertRows(conversion, fileShape, data, 0, fileShape.length ? fileShape[0]! : 1, out);
  return out;
}

/** Throws when `conversion` cannot apply to an array of `fileShape`. */
export function checkConversion(conversion: WeightConversion, fileShape: readonly number[]): void {
  if ((conversion.kind === "theano-kernel" || conversion.kind === "flip-kernel") && fileShape.length !== 4) {
    throw new Error(`${conversion.kind} needs a 4-D kernel, got ${fmt(fileShape)}`);
  }
  if (conversion.kind === "channels-first-dense") {
    const [H, W, C] = conversion.featureShape;
    if (fileShape.length !== 2 || fileShape[0] !== H * W * C) {
      throw new Error(`channels-first-dense: kernel ${fmt(fileShape)} does not follow a flattened ${H}×${W}×${C} map`);
    }
  }
}

/** Theano kernel `(out, in, kh, kw)` → tfjs `(kh, kw, in, out)` with both spatial axes flipped. */
export function theanoKernelToTf(data: Float32Array, shape: readonly number[]): Float32Array {
  return convertWeight({ kind: "theano-kernel" }, data, shape);
}

/** Dense kernel after a channels-first Flatten of `[H, W, C]`: rows `(c, h, w)` → `(h, w, c)`. */
export function channelsFirstDenseToNhwc(data: Float32Array, shape: readonly number[], featureShape: readonly [number, number, number]): Float32Array {
  return convertWeight({ kind: "channels-first-dense", featureShape }, data, shape);
}

export function fmt(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sample(items: string[]): string {
  return items.length <= 2 ? items.join(", ") : `${items.slice(0, 2).join(", ")} and ${items.length - 2} more`;
}
