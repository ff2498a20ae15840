/**
 * Models nested in a model (a tf.keras block built as its own Sequential or functional model) are
 * inlined: their layers join the outer graph under their own names, wired to what fed the nested
 * model and to what it fed. TensorFlow.js cannot connect a deserialized nested model, and inlined
 * layers can be frozen or cut at one by one. Keras saves a nested model's weights in one group whose
 * weight names start with each inner layer's name (`block/dense/kernel:0`); `splitNestedWeights`
 * gives each inner layer its own.
 */
import { FtError } from "../errors.js";
import type { KerasLayerWeights, KerasWeightFile } from "../weights/keras-file.js";
import type { KerasLayerConfig } from "./keras1.js";
import { MODEL_CLASSES, modelLayers } from "./model-config.js";

type ModelConfig = { class_name: string; config: unknown };
/** `[layer, node index, tensor index, kwargs?]`. */
type Inbound = [string, number, number, ...unknown[]];

/**
 * The model with every nested model inlined (a functional model when any was), and the inner layer
 * names of each inlined model, by the model's name.
 */
export function inlineNestedModels(model: ModelConfig): { model: ModelConfig; inlined: Map<string, string[]> } {
  const inlined = new Map<string, string[]>();
  if (!modelLayers(model).some((l) => MODEL_CLASSES.has(l.class_name))) return { model, inlined };
  const outer = functional(model);
  const config = outer.config as { layers: KerasLayerConfig[]; output_layers: Inbound[] };
  const layers: KerasLayerConfig[] = [];
  /** Where a reference to an inlined model's output tensor now points. */
  const redirect = new Map<string, Inbound[]>();
  for (const layer of config.layers) {
    if (!MODEL_CLASSES.has(layer.class_name)) {
      layers.push(layer);
      continue;
    }
    const name = String(layer.config.name ?? layer.name);
    const nodes = (layer.inbound_nodes ?? []) as Inbound[][];
    if (nodes.length !== 1) throw new FtError(`nested model "${name}" is used ${nodes.length} times; only a nested model applied once can be imported`);
    const inner = inlineNestedModels(functional(layer as ModelConfig));
    for (const [k, v] of inner.inlined) inlined.set(k, v);
    const innerConfig = inner.model.config as { layers: KerasLayerConfig[]; input_layers: Inbound[]; output_layers: Inbound[] };
    const feeds = new Map(innerConfig.input_layers.map((ref, i) => [ref[0], nodes[0]![i]!]));
    const innerLayers = innerConfig.layers.filter((l) => !feeds.has(String(l.config.name)));
    for (const l of innerLayers) {
      l.inbound_nodes = (l.inbound_nodes as Inbound[][]).map((node) => node.map((ref) => feeds.get(ref[0]) ?? ref));
      layers.push(l);
    }
    inlined.set(name, innerLayers.map((l) => String(l.config.name)));
    redirect.set(name, innerConfig.output_layers);
  }
  const resolve = (ref: Inbound): Inbound => {
    const outputs = redirect.get(ref[0]);
    return outputs ? [...outputs[ref[2]]!.slice(0, 3), ...ref.slice(3)] as Inbound : ref;
  };
  for (const l of layers) l.inbound_nodes = ((l.inbound_nodes ?? []) as Inbound[][]).map((node) => node.map(resolve));
  config.output_layers = config.output_layers.map(resolve);
  config.layers = layers;
  const names = layers.map((l) => String(l.config.name));
  const clash = names.find((n, i) => names.indexOf(n) !== i);
  if (clash) throw new FtError(`layer name "${clash}" is used both inside a nested model and outside it; ft inlines nested models and needs unique names`);
  return { model: outer, inlined };
}

/** A Sequential as the equivalent functional model (an input, then each layer on the previous one). */
function functional(model: ModelConfig): ModelConfig {
  if (model.class_name !== "Sequential") return model;
  const layers = modelLayers(model);
  const name = String((model.config as { name?: unknown }).name ?? (model as { name?: string }).name ?? "sequential");
  const first = layers[0]?.config;
  if (!first || !Array.isArray(first.batch_input_shape)) throw new FtError(`model "${name}": its first layer records no input shape`);
  const inputName = `${name}_input`;
  const chained: KerasLayerConfig[] = [{ class_name: "InputLayer", name: inputName, config: { name: inputName, batch_input_shape: first.batch_input_shape }, inbound_nodes: [] }];
  for (const layer of layers) {
    const { batch_input_shape: _shape, ...config } = layer.config;
    chained.push({ ...layer, name: String(config.name), config, inbound_nodes: [[[chained.at(-1)!.name!, 0, 0, {}]]] });
  }
  return {
    ...model,
    class_name: "Model",
    config: { name, layers: chained, input_layers: [[inputName, 0, 0]], output_layers: [[chained.at(-1)!.name!, 0, 0]] },
  };
}

/** The file with each inlined model's weight group split into one entry per inner layer. */
export function splitNestedWeights(file: KerasWeightFile, inlined: ReadonlyMap<string, string[]>): KerasWeightFile {
  if (inlined.size === 0) return file;
  const layers = file.layers.flatMap((group): KerasLayerWeights[] => {
    const inner = inlined.get(group.name);
    if (!inner) return [group];
    const owner = (weightName: string) => weightName.split("/").find((part) => inner.includes(part));
    const orphan = group.weights.find((w) => owner(w.name) === undefined);
    if (orphan) throw new FtError(`${file.path}: weight "${orphan.name}" of the nested model "${group.name}" names none of its layers (${inner.join(", ")})`);
    return inner.map((name, k) => ({ name, index: group.index + k / inner.length, weights: group.weights.filter((w) => owner(w.name) === name) }));
  });
  return { ...file, layers };
}
