import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import * as tfl from "@tensorflow/tfjs-layers";
import { registerModel, unregisterModel, type ModelSpec, type WeightRecord } from "@ft/core";

/** The h5py-written fixtures of `fixtures/make_tiny_weights.py`. */
export const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));
export const TINY_TH = FIXTURES + "tiny_th.h5";
export const TINY_TF = FIXTURES + "tiny_tf.h5";

/** Input and expected softmax output computed by NumPy from the Theano file's semantics. */
export function tinyReference(): { inputShape: number[]; input: number[]; output: number[] } {
  const ref = JSON.parse(readFileSync(FIXTURES + "tiny_reference.json", "utf8")) as { input_shape: number[]; input: number[]; output: number[] };
  return { inputShape: ref.input_shape, input: ref.input, output: ref.output };
}

function record(id: string, file: string, overrides: Partial<WeightRecord>, base: string): WeightRecord {
  const bytes = readFileSync(file);
  const fileName = file.slice(FIXTURES.length);
  return {
    id,
    url: `${base}/files/${fileName}`,
    fileName,
    bytes: statSync(file).size,
    checksum: { algorithm: "md5", value: createHash("md5").update(bytes).digest("hex") },
    layout: "keras1",
    ordering: "th",
    includeTop: true,
    preprocessing: "caffe",
    classes: 5,
    ...overrides,
  };
}

/** `clitiny`: input 8×8×3 → conv1 (3×3, 4, same, ReLU) → flatten → predictions (Dense 5, softmax). */
export function tinySpec(base: string): ModelSpec {
  return {
    name: "clitiny",
    family: "test",
    description: "CLI test model",
    inputShape: [8, 8, 3],
    classes: 5,
    preprocessing: "caffe",
    topLayers: ["flatten", "predictions"],
    featureLayer: "conv1",
    build: ({ includeTop = true, classes = 5 }) => {
      const input = tfl.input({ shape: [8, 8, 3], name: "input_1" });
      let x = tfl.layers.conv2d({ filters: 4, kernelSize: 3, padding: "same", activation: "relu", name: "conv1" }).apply(input) as tfl.SymbolicTensor;
      if (includeTop) {
        x = tfl.layers.flatten({ name: "flatten" }).apply(x) as tfl.SymbolicTensor;
        x = tfl.layers.dense({ units: classes, activation: "softmax", name: "predictions" }).apply(x) as tfl.SymbolicTensor;
      }
      return tfl.model({ inputs: input, outputs: x, name: "clitiny" });
    },
    weights: [
      record("clitiny.th", TINY_TH, {}, base),
      record("clitiny.tf", TINY_TF, { layout: "keras2", ordering: "tf", preprocessing: "tf" }, base),
      {
        ...record("clitiny.tf.notop", TINY_TF, { layout: "keras2", ordering: "tf", includeTop: false }, base),
        fileName: "tiny_tf_notop.h5",
        dead: "the test host that served it is gone.",
      },
    ],
  };
}

/** A local server for the fixtures (`/files/<name>`), counting requests. */
export async function startFixtureServer(): Promise<{ base: string; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? "");
    const m = /^\/files\/([\w.]+)$/.exec(req.url ?? "");
    let body: Buffer | undefined;
    try {
      body = m ? readFileSync(FIXTURES + m[1]) : undefined;
    } catch {
      body = undefined;
    }
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export function registerTiny(base: string): () => void {
  registerModel(tinySpec(base));
  return () => void unregisterModel("clitiny");
}
