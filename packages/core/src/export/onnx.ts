/**
 * A TensorFlow.js layers model as an ONNX model (opset 13), for ONNX Runtime, TensorRT and PyTorch.
 * The ONNX input is the model's own NHWC input; it is transposed once to NCHW, ONNX's layout for
 * convolutions and pooling, and every 4-D tensor inside the graph is NCHW. Layers whose meaning
 * depends on the memory order (Flatten, Reshape, Permute) see NHWC again, so the graph computes
 * exactly what the tfjs model computes; 4-D outputs are transposed back to NHWC.
 */
import type * as tfl from "@tensorflow/tfjs-layers";
import { FtError } from "../errors.js";
import { loadOnnxSchema, OnnxGraph } from "./onnx-graph.js";

export interface OnnxExportOptions {
  /** Metadata stored with the model (`metadata_props`): preprocessing, class names, … */
  metadata?: Record<string, string>;
}

/** A tensor of the graph: its ONNX name and whether it is a 4-D tensor held as NCHW. */
interface Value {
  name: string;
  rank: number;
}

const TO_NCHW = [0, 3, 1, 2];
const TO_NHWC = [0, 2, 3, 1];
/** NHWC axis → NCHW axis. */
const AXIS_NCHW: Record<number, number> = { 0: 0, 1: 2, 2: 3, 3: 1 };
/** Layers that do nothing at inference. */
const IDENTITY = new Set(["Dropout", "SpatialDropout1D", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization"]);

/** Encodes `model` as an ONNX model. Throws an FtError naming the first layer ONNX export does not handle. */
export function toOnnx(model: tfl.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  loadOnnxSchema();
  const graph = new OnnxGraph();
  const values = new Map<string, Value>();
  const key = (layer: string, tensor: number) => `${layer}#${tensor}`;
  model.inputs.forEach((input, i) => {
    const name = model.inputs.length === 1 ? "input" : `input_${i}`;
    graph.input(name, input.shape);
    const layer = input.sourceLayer.name;
    values.set(key(layer, 0), input.shape.length === 4 ? { name: graph.node("Transpose", [name], `${layer}_nchw`, { perm: TO_NCHW }), rank: 4 } : { name, rank: input.shape.length });
  });
  // A Sequential's input layer is not among its `layers`.
  const inModel = new Set([...model.layers, ...model.inputs.map((t) => t.sourceLayer)]);
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    const nodes = layer.inboundNodes.filter((n) => n.inboundLayers.every((l) => inModel.has(l)));
    if (nodes.length !== 1) throw new FtError(`layer "${layer.name}" (${layer.getClassName()}) is applied ${nodes.length} times; ONNX export handles layers applied once`);
    const inputs = nodes[0]!.inboundLayers.map((l, i) => values.get(key(l.name, nodes[0]!.tensorIndices[i]!))!);
    const outShape = layer.outputShape as (number | null)[];
    const out = convertLayer(graph, layer, inputs, nodes[0]!.inputShapes as unknown, outShape);
    values.set(key(layer.name, 0), out);
  }
  model.outputs.forEach((output, i) => {
    const value = values.get(key(output.sourceLayer.name, 0))!;
    const name = model.outputs.length === 1 ? "output" : `output_${i}`;
    graph.node(value.rank === 4 ? "Transpose" : "Identity", [value.name], name, value.rank === 4 ? { perm: TO_NHWC } : {});
    graph.output(name, output.shape);
  });
  return graph.encode(model.name, options.metadata ?? {});
}

function convertLayer(graph: OnnxGraph, layer: tfl.layers.Layer, inputs: Value[], inShapes: unknown, outShape: (number | null)[]): Value {
  const cls = layer.getClassName();
  const config = layer.getConfig() as Record<string, unknown>;
  const refuse = (why: string) => new FtError(`layer "${layer.name}" (${cls}): ${why}, which the ONNX export does not handle yet`);
  const x = inputs[0]!;
  const inShape = (Array.isArray((inShapes as unknown[])[0]) ? (inShapes as unknown[])[0] : inShapes) as (number | null)[];
  const weights = () => layer.getWeights().map((w) => ({ data: w.dataSync() as Float32Array, shape: w.shape }));
  const base = layer.name.replace(/[^\w.-]/g, "_");
  const rank4 = (name: string): Value => ({ name, rank: 4 });
  const same = (name: string): Value => ({ name, rank: outShape.length });
  if (IDENTITY.has(cls)) return { name: graph.node("Identity", [x.name], base), rank: x.rank };

  switch (cls) {
    case "Conv2D":
    case "DepthwiseConv2D":
    case "SeparableConv2D": {
      if (config.data_format === "channels_first" || config.dataFormat === "channelsFirst") throw refuse("channels-first data");
      const w = weights();
      const kernel = w[0]!;
      const [kh, kw] = kernel.shape as number[];
      const strides = pair(config.strides);
      const dilations = pair(config.dilationRate ?? config.dilation_rate ?? 1);
      const pads = padsFor(String(config.padding), inShape, [kh!, kw!], strides, dilations);
      let y: string;
      if (cls === "Conv2D") {
        const bias = config.useBias ? [graph.floats(`${base}.bias`, w[1]!.data, w[1]!.shape)] : [];
        y = graph.node("Conv", [x.name, graph.floats(`${base}.weight`, transposed(kernel.data, kernel.shape, [3, 2, 0, 1]), [kernel.shape[3]!, kernel.shape[2]!, kh!, kw!]), ...bias], base, { kernel_shape: [kh!, kw!], strides, dilations, pads, group: 1 });
      } else {
        const [, , channels, multiplier] = kernel.shape as number[];
        const depthwise = graph.floats(`${base}.depthwise`, transposed(kernel.data, kernel.shape, [2, 3, 0, 1]), [channels! * multiplier!, 1, kh!, kw!]);
        const depthBias = cls === "DepthwiseConv2D" && config.useBias ? [graph.floats(`${base}.bias`, w[1]!.data, w[1]!.shape)] : [];
        y = graph.node("Conv", [x.name, depthwise, ...depthBias], cls === "DepthwiseConv2D" ? base : `${base}_depthwise`, { kernel_shape: [kh!, kw!], strides, dilations, pads, group: channels! });
        if (cls === "SeparableConv2D") {
          const pointwise = w[1]!;
          const bias = config.useBias ? [graph.floats(`${base}.bias`, w[2]!.data, w[2]!.shape)] : [];
          const [, , cin, cout] = pointwise.shape as number[];
          y = graph.node("Conv", [y, graph.floats(`${base}.pointwise`, transposed(pointwise.data, pointwise.shape, [3, 2, 0, 1]), [cout!, cin!, 1, 1]), ...bias], base, { kernel_shape: [1, 1] });
        }
      }
      return rank4(activation(graph, y, config.activation, base, 4));
    }
    case "Conv2DTranspose": {
      if (config.padding !== "valid") throw refuse(`padding "${String(config.padding)}"`);
      const [kernel, bias] = weights();
      const [kh, kw, cout, cin] = kernel!.shape as number[];
      const inputs2 = [x.name, graph.floats(`${base}.weight`, transposed(kernel!.data, kernel!.shape, [3, 2, 0, 1]), [cin!, cout!, kh!, kw!]), ...(config.useBias ? [graph.floats(`${base}.bias`, bias!.data, bias!.shape)] : [])];
      const y = graph.node("ConvTranspose", inputs2, base, { kernel_shape: [kh!, kw!], strides: pair(config.strides) });
      return rank4(activation(graph, y, config.activation, base, 4));
    }
    case "Dense": {
      if (x.rank !== 2) throw refuse(`a ${x.rank}-D input`);
      const [kernel, bias] = weights();
      const inputs2 = [x.name, graph.floats(`${base}.weight`, kernel!.data, kernel!.shape), ...(config.useBias ? [graph.floats(`${base}.bias`, bias!.data, bias!.shape)] : [])];
      return same(activation(graph, graph.node("Gemm", inputs2, base), config.activation, base, 2));
    }
    case "BatchNormalization": {
      const axis = normalAxis(Number(config.axis ?? -1), x.rank);
      if (axis !== x.rank - 1) throw refuse(`axis ${String(config.axis)} (only the channel axis)`);
      const w = weights();
      const channels = w.at(-1)!.shape[0]!;
      let k = 0;
      const gamma = config.scale ? w[k++]!.data : new Float32Array(channels).fill(1);
      const beta = config.center ? w[k++]!.data : new Float32Array(channels);
      const [mean, variance] = [w[k]!.data, w[k + 1]!.data];
      const params = [gamma, beta, mean, variance].map((p, i) => graph.floats(`${base}.${["scale", "bias", "mean", "var"][i]}`, p, [channels]));
      return { name: graph.node("BatchNormalization", [x.name, ...params], base, { epsilon: Number(config.epsilon) }), rank: x.rank };
    }
    case "Scale": {
      const [gamma, beta] = weights();
      const shape = x.rank === 4 ? [gamma!.shape[0]!, 1, 1] : gamma!.shape;
      if (normalAxis(Number(config.axis ?? -1), x.rank) !== x.rank - 1) throw refuse("an axis other than the channels");
      const scaled = graph.node("Mul", [x.name, graph.floats(`${base}.gamma`, gamma!.data, shape)], `${base}_mul`);
      return { name: graph.node("Add", [scaled, graph.floats(`${base}.beta`, beta!.data, shape)], base), rank: x.rank };
    }
    case "Activation":
      return { name: activation(graph, x.name, config.activation, base, x.rank, true), rank: x.rank };
    case "ReLU":
      return { name: config.maxValue == null ? graph.node("Relu", [x.name], base) : clip(graph, x.name, 0, Number(config.maxValue), base), rank: x.rank };
    case "LeakyReLU":
      return { name: graph.node("LeakyRelu", [x.name], base, { alpha: Number(config.alpha) }), rank: x.rank };
    case "ELU":
      return { name: graph.node("Elu", [x.name], base, { alpha: Number(config.alpha ?? 1) }), rank: x.rank };
    case "Softmax":
      return { name: graph.node("Softmax", [x.name], base, { axis: x.rank === 4 ? AXIS_NCHW[normalAxis(Number(config.axis ?? -1), 4)]! : Number(config.axis ?? -1) }), rank: x.rank };
    case "PReLU": {
      const [alpha] = weights();
      const slope = x.rank === 4 ? transposed(alpha!.data, alpha!.shape, [2, 0, 1]) : alpha!.data;
      const shape = x.rank === 4 ? [alpha!.shape[2]!, alpha!.shape[0]!, alpha!.shape[1]!] : alpha!.shape;
      return { name: graph.node("PRelu", [x.name, graph.floats(`${base}.slope`, slope, shape)], base), rank: x.rank };
    }
    case "MaxPooling2D":
    case "AveragePooling2D": {
      const kernel = pair(config.poolSize);
      const strides = pair(config.strides ?? config.poolSize);
      const pads = padsFor(String(config.padding), inShape, kernel, strides, [1, 1]);
      const op = cls === "MaxPooling2D" ? "MaxPool" : "AveragePool";
      return rank4(graph.node(op, [x.name], base, { kernel_shape: kernel, strides, pads, ...(op === "AveragePool" ? { count_include_pad: 0 } : {}) }));
    }
    case "GlobalAveragePooling2D":
    case "GlobalMaxPooling2D": {
      if (config.keepDims) throw refuse("keepdims");
      const pooled = graph.node(cls === "GlobalMaxPooling2D" ? "GlobalMaxPool" : "GlobalAveragePool", [x.name], `${base}_pool`);
      return same(graph.node("Flatten", [pooled], base, { axis: 1 }));
    }
    case "ZeroPadding2D": {
      const [[top, bottom], [left, right]] = padding2d(config.padding);
      return rank4(graph.node("Pad", [x.name, graph.ints(`${base}.pads`, [0, 0, top, left, 0, 0, bottom, right])], base));
    }
    case "Cropping2D": {
      const [[top, bottom], [left, right]] = padding2d(config.cropping);
      const [h, w] = [inShape[1]!, inShape[2]!];
      return rank4(graph.node("Slice", [x.name, graph.ints(`${base}.starts`, [top, left]), graph.ints(`${base}.ends`, [h - bottom, w - right]), graph.ints(`${base}.axes`, [2, 3])], base));
    }
    case "PoolHelper":
      return rank4(graph.node("Slice", [x.name, graph.ints(`${base}.starts`, [1, 1]), graph.ints(`${base}.ends`, [2 ** 31 - 1, 2 ** 31 - 1]), graph.ints(`${base}.axes`, [2, 3])], base));
    case "UpSampling2D": {
      if (config.interpolation && config.interpolation !== "nearest") throw refuse(`interpolation "${String(config.interpolation)}"`);
      const [sh, sw] = pair(config.size);
      const scales = graph.floats(`${base}.scales`, Float32Array.of(1, 1, sh!, sw!), [4]);
      return rank4(graph.node("Resize", [x.name, "", scales], base, { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }));
    }
    case "LRN": {
      const lrn = layer as unknown as { alpha: number; beta: number; k: number; n: number };
      if (x.rank !== 4) throw refuse(`a ${x.rank}-D input`);
      return rank4(graph.node("LRN", [x.name], base, { size: lrn.n, alpha: lrn.alpha, beta: lrn.beta, bias: lrn.k }));
    }
    case "Flatten":
      return same(graph.node("Flatten", [nhwc(graph, x, base)], base, { axis: 1 }));
    case "Reshape":
    case "Permute": {
      const source = nhwc(graph, x, base);
      const moved =
        cls === "Reshape"
          ? graph.node("Reshape", [source, graph.ints(`${base}.shape`, [0, ...(config.targetShape as number[])])], outShape.length === 4 ? `${base}_nhwc` : base)
          : graph.node("Transpose", [source], outShape.length === 4 ? `${base}_nhwc` : base, { perm: [0, ...(config.dims as number[])] });
      return outShape.length === 4 ? rank4(graph.node("Transpose", [moved], base, { perm: TO_NCHW })) : same(moved);
    }
    case "Concatenate": {
      const axis = normalAxis(Number(config.axis ?? -1), x.rank);
      return { name: graph.node("Concat", inputs.map((v) => v.name), base, { axis: x.rank === 4 ? AXIS_NCHW[axis]! : axis }), rank: x.rank };
    }
    case "Add":
    case "Multiply":
    case "Maximum":
    case "Minimum":
    case "Average": {
      const op = { Add: "Sum", Multiply: "Mul", Maximum: "Max", Minimum: "Min", Average: "Sum" }[cls]!;
      let y = op === "Mul" ? inputs.slice(1).reduce((acc, v, i) => graph.node("Mul", [acc, v.name], i === inputs.length - 2 ? base : `${base}_${i}`), x.name) : graph.node(op, inputs.map((v) => v.name), cls === "Average" ? `${base}_sum` : base);
      if (cls === "Average") y = graph.node("Div", [y, graph.floats(`${base}.count`, Float32Array.of(inputs.length), [])], base);
      return { name: y, rank: x.rank };
    }
    default:
      throw refuse("this layer class");
  }
}

/** The activation a Conv/Dense/Activation layer applies. */
function activation(graph: OnnxGraph, x: string, name: unknown, base: string, rank: number, alone = false): string {
  const act = String(name ?? "linear");
  const out = alone ? base : `${base}_${act}`;
  switch (act) {
    case "linear":
      return alone ? graph.node("Identity", [x], out) : x;
    case "relu":
      return graph.node("Relu", [x], out);
    case "relu6":
      return clip(graph, x, 0, 6, out);
    case "sigmoid":
      return graph.node("Sigmoid", [x], out);
    case "hardSigmoid":
    case "hard_sigmoid":
      return graph.node("HardSigmoid", [x], out, { alpha: 0.2, beta: 0.5 });
    case "tanh":
      return graph.node("Tanh", [x], out);
    case "elu":
      return graph.node("Elu", [x], out, { alpha: 1 });
    case "selu":
      return graph.node("Selu", [x], out);
    case "softplus":
      return graph.node("Softplus", [x], out);
    case "softsign":
      return graph.node("Softsign", [x], out);
    case "swish":
      return graph.node("Mul", [x, graph.node("Sigmoid", [x], `${out}_sigmoid`)], out);
    case "softmax":
      return graph.node("Softmax", [x], out, { axis: rank === 4 ? 1 : -1 });
    default:
      throw new FtError(`activation "${act}" (in ${base}): the ONNX export does not handle it yet`);
  }
}

function clip(graph: OnnxGraph, x: string, min: number, max: number, out: string): string {
  return graph.node("Clip", [x, graph.floats(`${out}.min`, Float32Array.of(min), []), graph.floats(`${out}.max`, Float32Array.of(max), [])], out);
}

/** A 4-D value as NHWC (what order-dependent layers see in tfjs); other ranks unchanged. */
function nhwc(graph: OnnxGraph, x: Value, base: string): string {
  return x.rank === 4 ? graph.node("Transpose", [x.name], `${base}_nhwc_in`, { perm: TO_NHWC }) : x.name;
}

/**
 * Explicit ONNX pads `[top, left, bottom, right]` for TensorFlow's "valid" or "same" padding (same:
 * the extra row or column goes at the bottom or right).
 */
function padsFor(padding: string, inShape: (number | null)[], kernel: number[], strides: number[], dilations: number[]): number[] {
  if (padding === "valid") return [0, 0, 0, 0];
  const before: number[] = [];
  const after: number[] = [];
  for (let i = 0; i < 2; i++) {
    const size = inShape[1 + i];
    if (size == null) throw new FtError(`"same" padding needs a known input size to export to ONNX (input ${JSON.stringify(inShape)}); export a model built for a fixed size`);
    const effective = (kernel[i]! - 1) * dilations[i]! + 1;
    const total = Math.max((Math.ceil(size / strides[i]!) - 1) * strides[i]! + effective - size, 0);
    before.push(Math.floor(total / 2));
    after.push(total - Math.floor(total / 2));
  }
  return [...before, ...after];
}

function pair(value: unknown): number[] {
  return Array.isArray(value) ? value.map(Number) : [Number(value), Number(value)];
}

function padding2d(value: unknown): [[number, number], [number, number]] {
  if (typeof value === "number") return [[value, value], [value, value]];
  const [a, b] = value as (number | number[])[];
  const side = (v: number | number[]): [number, number] => (Array.isArray(v) ? [v[0]!, v[1]!] : [v, v]);
  return [side(a!), side(b!)];
}

function normalAxis(axis: number, rank: number): number {
  return axis < 0 ? axis + rank : axis;
}

/** `data` of `shape` transposed by `perm` (row-major). */
function transposed(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const outShape = perm.map((p) => shape[p]!);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  const out = new Float32Array(data.length);
  const index = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let source = 0;
    for (let d = 0; d < perm.length; d++) source += index[d]! * strides[perm[d]!]!;
    out[o] = data[source]!;
    for (let d = outShape.length - 1; d >= 0; d--) {
      if (++index[d]! < outShape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}
