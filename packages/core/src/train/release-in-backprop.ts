import * as tf from "@tensorflow/tfjs-core";

/*
 * tfjs 4.22's backward pass keeps every node's saved tensors (the activations) and every intermediate
 * gradient until the whole pass ends: its peak holds all activations and all their gradients at once,
 * where PyTorch frees each as soon as the backward pass is past it (VGG-19 at batch 16 holds 15 arrays
 * of one 51 MB activation size at the end of its backward pass, for 5 needed).
 */

interface TapeNode {
  saved?: tf.Tensor[];
  gradient?: (dys: Array<tf.Tensor | null>) => Record<string, () => tf.Tensor>;
}

/**
 * Call at the end of the function given to `tf.variableGrads` (or `tf.grads`): in the backward pass that
 * follows, each node's saved tensors and output gradients are released as soon as the node's gradient
 * has run (when the pass reaches the node before it), instead of at the end of the pass.
 *
 * Safe because tfjs runs the nodes strictly one after another in reverse order, the output gradients of a
 * node are read by that node only, and each saved tensor is the node's own clone. A gradient function that
 * returns a tensor it did not create (one of its output gradients, a saved tensor, another input's gradient)
 * gets a clone in its place, so that every gradient the pass holds is a tensor of its own.
 */
export function releaseInBackprop(): void {
  const engine = tf.engine() as unknown as { state: { activeTape: TapeNode[] | null; gradientDepth: number }; constructor: { nextTensorId: number } };
  const tape = engine.state.activeTape;
  if (!tape || engine.state.gradientDepth > 1) return; // inside a gradient of a gradient, the outer pass reads the tape again
  let done: tf.Tensor[] = [];
  for (const node of tape) {
    const gradient = node.gradient;
    if (!gradient) continue;
    node.gradient = (dys) => {
      tf.dispose(done); // the node the pass ran before this one is finished with its output gradients and saved tensors
      done = [...dys.filter((d): d is tf.Tensor => d !== null), ...(node.saved ?? [])];
      const thunks = gradient(dys);
      return Object.fromEntries(Object.entries(thunks).map(([name, thunk]) => [name, () => {
        const firstNew = engine.constructor.nextTensorId; // ids only grow: an older tensor was not made by the thunk
        const dx = thunk();
        return dx.id >= firstNew ? dx : dx.clone();
      }]));
    };
  }
}
