import * as tf from "@tensorflow/tfjs-core";

/**
 * Runs `fn` and returns the names of the kernels it ran, sorted: every op and every gradient reaches
 * its backend through `tf.engine().runKernel`, which this wraps for the call (kernels that call other
 * kernels inside a backend are that backend's business). Unlike `tf.profile` it reads no outputs, so
 * the engine under test runs exactly as it does in training (ft-native's deferred outputs stay deferred).
 */
export async function kernelsRunBy(fn: () => unknown): Promise<string[]> {
  const engine = tf.engine();
  const runKernel = engine.runKernel;
  const names = new Set<string>();
  engine.runKernel = function (this: typeof engine, kernelName: string, ...rest: unknown[]) {
    names.add(kernelName);
    return (runKernel as (...args: unknown[]) => unknown).call(this, kernelName, ...rest);
  } as typeof engine.runKernel;
  try {
    await fn();
  } finally {
    engine.runKernel = runKernel;
  }
  return [...names].sort();
}
