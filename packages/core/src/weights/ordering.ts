/**
 * Kernel ordering detection (Theano vs TensorFlow), done once per load: from the file's own facts and,
 * when a model is at hand, from its kernel shapes. See docs of `detectOrdering`.
 */
import { FtError, UsageError } from "../errors.js";
import type { DimOrdering } from "../spec.js";
import { fmt, sameShape } from "./convert.js";
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

function sample(items: string[]): string {
  return items.length <= 2 ? items.join(", ") : `${items.slice(0, 2).join(", ")} and ${items.length - 2} more`;
}
