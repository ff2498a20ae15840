/**
 * Kernel ordering detection (Theano vs TensorFlow), done once per load: from the file's own facts and,
 * when a model is at hand, from its kernel shapes. See docs of `detectOrdering`.
 */
import { FtError, UsageError } from "../errors.js";
import type { DimOrdering } from "../spec.js";
import { fmt, sameShape } from "./convert.js";
import type { KerasWeightFile } from "./keras-file.js";

/**
 * One fact pointing to an ordering. The file's own configuration is decisive; otherwise strong facts
 * outvote weak ones, and strong facts that disagree make it ambiguous.
 */
export interface OrderingEvidence {
  ordering: DimOrdering;
  strength: "decisive" | "strong" | "weak";
  reason: string;
}

/** What a file says about its kernel ordering. */
export interface OrderingDetection {
  /** The ordering, or `undefined` when the evidence is missing or contradictory. */
  ordering?: DimOrdering;
  evidence: OrderingEvidence[];
  /** Why no ordering was decided, when `ordering` is undefined. */
  problem?: string;
  /** The evidence that decided, when `ordering` is set. */
  decidedBy?: string;
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
 * Detects the ordering from, in this order: the `dim_ordering` a Keras 1 `model.save` file's own
 * `model_config` states (decisive); the `backend` attribute, the kernel shapes (Keras 0/1 files store
 * Theano kernels as `(out, in, kh, kw)`) and the model's expected shapes (strong); and Keras-1 weight
 * names (weak: the TensorFlow backend appends `:0`, which tells the backend, not the ordering).
 */
export function detectOrdering(
  file: Pick<KerasWeightFile, "layers" | "backend" | "kerasMajor"> & { modelConfig?: unknown },
  options: DetectOrderingOptions = {},
): OrderingDetection {
  const evidence: OrderingEvidence[] = [];
  if (file.kerasMajor === 1) evidence.push(...configEvidence(file.modelConfig));
  const backend = file.backend?.toLowerCase();
  if (backend === "theano") evidence.push({ ordering: "th", strength: "strong", reason: 'backend attribute is "theano"' });
  else if (backend === "tensorflow" || backend === "cntk" || backend === "jax") {
    evidence.push({ ordering: "tf", strength: "strong", reason: `backend attribute is "${file.backend}"` });
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
        evidence.push({ ordering: o, strength: "strong", reason: `kernel shapes read as ${layoutName}: ${sample(votes[o])}` });
      }
      if (modelVotes[o].length) {
        evidence.push({ ordering: o, strength: "strong", reason: `kernels match the model's in ${layoutName} order: ${sample(modelVotes[o])}` });
      }
    }
    if (suffixed.length) {
      if (suffixed.every(Boolean)) evidence.push({ ordering: "tf", strength: "weak", reason: 'weight names end in ":0" (saved by the TensorFlow backend)' });
      else if (!suffixed.some(Boolean)) evidence.push({ ordering: "th", strength: "weak", reason: 'weight names have no ":0" suffix (saved by the Theano backend)' });
    }
  }

  for (const strength of ["decisive", "strong", "weak"] as const) {
    const facts = evidence.filter((e) => e.strength === strength);
    const orderings = new Set(facts.map((e) => e.ordering));
    if (orderings.size === 2) {
      if (strength === "weak") break;
      return { evidence, problem: `the file's evidence disagrees: ${facts.map((e) => `${e.ordering} (${e.reason})`).join("; ")}` };
    }
    if (orderings.size === 1) return { ordering: facts[0]!.ordering, evidence, decidedBy: `${strength}: ${facts.map((e) => e.reason).join("; ")}` };
  }
  return { evidence, problem: "the file records no backend and its kernel shapes fit both orderings" };
}

/**
 * What a Keras 1 `model_config` says: every layer's `dim_ordering` (Keras 1's name for the kernel and
 * image layout), nested models included. Layers that do not record one say nothing.
 */
function configEvidence(modelConfig: unknown): OrderingEvidence[] {
  const found = { th: [] as string[], tf: [] as string[] };
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== "object") return;
    const record = node as Record<string, unknown>;
    const config = record.config as Record<string, unknown> | undefined;
    const ordering = config && typeof config === "object" && !Array.isArray(config) ? config.dim_ordering : undefined;
    if ((ordering === "th" || ordering === "tf") && typeof record.class_name === "string") {
      found[ordering].push(String(config!.name ?? record.class_name));
    }
    for (const value of Object.values(record)) if (value !== null && typeof value === "object") visit(value);
  };
  visit(modelConfig);
  return (["th", "tf"] as const)
    .filter((o) => found[o].length)
    .map((o) => ({ ordering: o, strength: "decisive" as const, reason: `model_config says dim_ordering "${o}" (${sample(found[o])})` }));
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
