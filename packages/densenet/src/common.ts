import * as tfl from "@tensorflow/tfjs-layers";


/** A symbolic tensor of the functional API. */
export type Tensor = tfl.SymbolicTensor;

/** Applies a layer to one or several symbolic tensors and returns its single output. */
export function apply(layer: tfl.layers.Layer, input: Tensor | Tensor[]): Tensor {
  return layer.apply(input) as Tensor;
}

/** Output side of a `valid` convolution or pooling window. */
export function validOut(side: number, kernel: number, stride: number): number {
  return Math.floor((side - kernel) / stride) + 1;
}
