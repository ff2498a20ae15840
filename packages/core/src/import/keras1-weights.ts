/**
 * Keras 1 weight arrays presented in Keras 2's form, without copying the file: a Keras 1 LSTM stores
 * 12 arrays (`W_i, U_i, b_i, W_c, U_c, b_c, W_f, U_f, b_f, W_o, U_o, b_o`), a GRU 9 (`z, r, h`), where
 * Keras 2 and TensorFlow.js hold one kernel, one recurrent kernel and one bias with the gates side by
 * side (LSTM `i, f, c, o`; GRU `z, r, h`), the same concatenation Keras 2 does when it loads a Keras 1
 * file. A Keras 1 Conv1D kernel is `(length, 1, in, out)`, Keras 2's `(length, in, out)`. Files of
 * Keras 1's `consume_less="gpu"` already hold the concatenated arrays and pass unchanged.
 */
import { FtError } from "../errors.js";
import type { KerasLayerWeights, KerasWeight, KerasWeightFile } from "../weights/keras-file.js";
import { fmt } from "../weights/convert.js";

/** Gate arrays of each merged weight, by position in the Keras 1 list: [kernel, recurrent kernel, bias]. */
const GATES: Record<string, { count: number; parts: number[][] }> = {
  LSTM: { count: 12, parts: [[0, 6, 3, 9], [1, 7, 4, 10], [2, 8, 5, 11]] },
  GRU: { count: 9, parts: [[0, 3, 6], [1, 4, 7], [2, 5, 8]] },
};

/**
 * The file with the weights of its Keras 1 recurrent and Conv1D layers in Keras 2's form. `classes`
 * gives each layer's (Keras 2) class, and for wrappers (Bidirectional, TimeDistributed) the wrapped one.
 */
export function keras2View(file: KerasWeightFile, classes: ReadonlyMap<string, { className: string; inner?: string }>): KerasWeightFile {
  const layers = file.layers.map((layer): KerasLayerWeights => {
    const cls = classes.get(layer.name);
    if (!cls || layer.weights.length === 0) return layer;
    if (cls.className === "Bidirectional" && cls.inner && GATES[cls.inner]) {
      const half = layer.weights.length / 2;
      const forward = adapt(file.path, layer.name, cls.inner, layer.weights.slice(0, half));
      const backward = adapt(file.path, layer.name, cls.inner, layer.weights.slice(half));
      return { ...layer, weights: [...forward, ...backward] };
    }
    return { ...layer, weights: adapt(file.path, layer.name, cls.inner ?? cls.className, layer.weights) };
  });
  return { ...file, layers };
}

function adapt(path: string, layer: string, className: string, weights: KerasWeight[]): KerasWeight[] {
  if (className === "Conv1D" && weights[0]?.shape.length === 4) {
    const [length, one, cin, cout] = weights[0].shape;
    if (one !== 1) throw new FtError(`${path}: layer "${layer}" (Conv1D): the Keras 1 kernel ${fmt(weights[0].shape)} is not (length, 1, in, out)`);
    return [{ ...weights[0], shape: [length!, cin!, cout!] }, ...weights.slice(1)];
  }
  const gates = GATES[className];
  if (!gates || weights.length !== gates.count) return weights;
  return gates.parts.map((indices) => concatenateLastAxis(path, layer, indices.map((i) => weights[i]!)));
}

/** Arrays of equal leading shape side by side along their last axis, read lazily. */
function concatenateLastAxis(path: string, layer: string, parts: KerasWeight[]): KerasWeight {
  const lead = parts[0]!.shape.slice(0, -1);
  if (parts.some((p) => p.shape.length !== lead.length + 1 || p.shape.slice(0, -1).some((d, i) => d !== lead[i]))) {
    throw new FtError(`${path}: layer "${layer}": the Keras 1 gate arrays ${parts.map((p) => `${p.name} ${fmt(p.shape)}`).join(", ")} do not fit side by side`);
  }
  const widths = parts.map((p) => p.shape.at(-1)!);
  const width = widths.reduce((a, b) => a + b, 0);
  const shape = [...lead, width];
  const rowsOf = (start: number, end: number): Float32Array => {
    const blocks = parts.map((p) => (shape.length > 1 ? p.readRows(start, end) : p.read()));
    const lines = blocks[0]!.length / widths[0]!;
    const out = new Float32Array(lines * width);
    for (let r = 0; r < lines; r++) {
      let offset = r * width;
      blocks.forEach((block, k) => {
        out.set(block.subarray(r * widths[k]!, (r + 1) * widths[k]!), offset);
        offset += widths[k]!;
      });
    }
    return out;
  };
  const vector = shape.length === 1;
  const readRows = (start: number, end: number) => (vector ? rowsOf(0, 1).slice(start, end) : rowsOf(start, end));
  return {
    name: parts.map((p) => p.name).join("+"),
    role: parts[0]!.role.replace(/_[a-z]$/, ""),
    path: parts[0]!.path,
    shape,
    size: shape.reduce((a, b) => a * b, 1),
    dtype: parts[0]!.dtype,
    read: () => rowsOf(0, vector ? 1 : shape[0]!),
    readRows,
    readBlocks: (rowsPerBlock, onBlock) => {
      const step = Math.max(1, Math.floor(rowsPerBlock));
      for (let start = 0; start < shape[0]!; start += step) {
        const end = Math.min(shape[0]!, start + step);
        onBlock(readRows(start, end), start, end);
      }
    },
  };
}
