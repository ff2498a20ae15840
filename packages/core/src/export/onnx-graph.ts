/**
 * An ONNX graph under construction and its encoding, with the official ONNX protobuf schema
 * (`onnx-proto`'s generated classes): nodes, float and int64 initializers, named inputs and outputs.
 */
import { createRequire } from "node:module";
import type onnxProto from "onnx-proto";
import { FtError } from "../errors.js";

type Onnx = typeof onnxProto.onnx;
let onnx: Onnx;

/**
 * Loads the schema package, an optional peer of @ft/core (its protobufjs has an install script that
 * pnpm refuses unless approved, so only those who export to ONNX install it).
 */
export function loadOnnxSchema(): void {
  if (onnx) return;
  try {
    onnx = (createRequire(import.meta.url)("onnx-proto") as typeof onnxProto).onnx;
  } catch (e) {
    throw new FtError(`ONNX export needs the optional package onnx-proto, which cannot be loaded (${(e as Error).message.split("\n")[0]}): npm install onnx-proto@8`);
  }
}

/** The opset the exporter writes (Conv, BatchNormalization, Pad and Slice with tensor inputs, Resize, LRN). */
export const OPSET = 13;

type Attribute = number | number[] | string | { floats: number[] };

export class OnnxGraph {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly used = new Set<string>();

  /** A fresh tensor name starting with `base`. */
  name(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** Adds a node; returns the name of its (first) output. */
  node(op: string, inputs: string[], base: string, attributes: Record<string, Attribute> = {}): string {
    const output = this.name(base);
    this.nodes.push(
      onnx.NodeProto.create({
        opType: op,
        input: inputs,
        output: [output],
        name: output,
        attribute: Object.entries(attributes).map(([name, value]) => attribute(name, value)),
      }),
    );
    return output;
  }

  /** A float32 initializer. */
  floats(base: string, data: Float32Array, dims: readonly number[]): string {
    return this.initializer(base, onnx.TensorProto.DataType.FLOAT, new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)), dims);
  }

  /** An int64 initializer (shapes, pads, slice bounds). */
  ints(base: string, values: readonly number[]): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    return this.initializer(base, onnx.TensorProto.DataType.INT64, new Uint8Array(data.buffer), [values.length]);
  }

  input(name: string, shape: readonly (number | null)[]): void {
    this.used.add(name);
    this.inputs.push(valueInfo(name, shape));
  }

  output(name: string, shape: readonly (number | null)[]): void {
    this.outputs.push(valueInfo(name, shape));
  }

  /** The whole model, encoded. */
  encode(graphName: string, metadata: Record<string, string>): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 7,
      producerName: "ft",
      opsetImport: [{ domain: "", version: OPSET }],
      metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
      graph: onnx.GraphProto.create({ name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs }),
    });
    return onnx.ModelProto.encode(model).finish();
  }

  private initializer(base: string, dataType: number, rawData: Uint8Array, dims: readonly number[]): string {
    const name = this.name(base);
    this.initializers.push(onnx.TensorProto.create({ name, dataType, dims: [...dims], rawData }));
    return name;
  }
}

function attribute(name: string, value: Attribute) {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === "string") return onnx.AttributeProto.create({ name, type: T.STRING, s: new TextEncoder().encode(value) });
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: value });
  if (typeof value === "object") return onnx.AttributeProto.create({ name, type: T.FLOATS, floats: value.floats });
  return Number.isInteger(value) && !FLOAT_ATTRIBUTES.has(name)
    ? onnx.AttributeProto.create({ name, type: T.INT, i: value })
    : onnx.AttributeProto.create({ name, type: T.FLOAT, f: value });
}

/** Attributes ONNX defines as floats even when their value is whole. */
const FLOAT_ATTRIBUTES = new Set(["alpha", "beta", "bias", "epsilon", "gamma", "momentum", "min", "max"]);

function valueInfo(name: string, shape: readonly (number | null)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d, i) => (d == null ? { dimParam: i === 0 ? "batch" : `d${i}` } : { dimValue: d })) },
      },
    },
  });
}
