import * as tf from "@tensorflow/tfjs-core";
import { registerNativeBackend } from "@ft/backend-native";
import "../src/models.js";
import { trainStepOf } from "./model-rows.js";
registerNativeBackend();
await tf.setBackend("ft-native");
const { step } = trainStepOf("vgg19", 224, 16, "ft-native");
for (let i = 0; i < 3; i++) {
  await step();
  const b = tf.backend() as any;
  const rows = [...b.pool.entries()].map(([len, arr]: [number, Float32Array[]]) => [len, arr.length, (len * 4 * arr.length) / 2 ** 20]).sort((a: any, b: any) => b[2] - a[2]);
  console.log(`after step ${i + 1}: rss ${Math.round(process.memoryUsage.rss() / 2 ** 20)} idle ${Math.round(b.idleBytes / 2 ** 20)} tensors ${Math.round(tf.memory().numBytes / 2 ** 20)}`);
  for (const r of rows.slice(0, 12)) console.log(`  len ${r[0]} x${r[1]} = ${Math.round(r[2])} MB`);
}
