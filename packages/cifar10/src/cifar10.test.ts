import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { createBatchSource, FtError, resizeBilinear, selectBackend, UsageError } from "@ft/core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CIFAR10_URL, CIFAR10_URL_ENV, ensureCifar10 } from "./archive.js";
import { cifar10 } from "./cifar10.js";
import { recordImage } from "./records.js";
import { cifarTestArchive, makeRecords, tarGz, TEST_RECORDS, testLabel, TRAIN_PER_BATCH } from "@ft/test-support/cifar10-archive";
import { deadUrl, serveFiles, type TestServer } from "@ft/test-support/http-server";

const archive = cifarTestArchive();
const expected = { md5: createHash("md5").update(archive).digest("hex"), bytes: archive.length };
const evilArchive = tarGz([{ path: "cifar-10-batches-bin/", type: "Directory" }, { path: "cifar-10-batches-bin/../../escape.bin", data: Buffer.from("x") }]);

let server: TestServer;
let home: string;
const savedEnv = { FT_HOME: process.env.FT_HOME, [CIFAR10_URL_ENV]: process.env[CIFAR10_URL_ENV] };

beforeAll(async () => {
  server = await serveFiles({ "/cifar-10-binary.tar.gz": archive, "/evil.tar.gz": evilArchive });
  await selectBackend("cpu");
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), "ft-home-"));
  process.env.FT_HOME = home;
  delete process.env[CIFAR10_URL_ENV];
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

/** Expected HWC bytes of test record `index` (see fixtures.testPixel) via the planar record. */
const expectedImage = (index: number) => recordImage(makeRecords(index, 1), 0).data;

describe("cifar10()", () => {
  it("downloads, verifies, extracts and caches the archive; seed subset is 3000 / 100", async () => {
    const url = server.url("/cifar-10-binary.tar.gz");
    const statuses: string[] = [];
    const train = await cifar10({ url, expected, split: "train", onStatus: (s) => statuses.push(s) });
    expect(train.name).toBe("cifar10/train[0:3000]");
    expect(train.classes).toEqual(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]);
    expect(train.examples).toHaveLength(3000);
    expect(statuses[0]).toContain(`downloading CIFAR-10 from ${url}`);
    // The seed subset runs into the 5th batch file: check examples on both sides of each boundary.
    for (const i of [0, 1, TRAIN_PER_BATCH - 1, TRAIN_PER_BATCH, 4 * TRAIN_PER_BATCH, 2999]) {
      const example = train.examples[i];
      expect(example.label).toBe(testLabel(i));
      expect(example.origin).toBe(join(home, "datasets", "cifar-10-batches-bin", `data_batch_${Math.floor(i / TRAIN_PER_BATCH) + 1}.bin#${i % TRAIN_PER_BATCH}`));
      expect(Buffer.from((await example.load()).data).equals(Buffer.from(expectedImage(i)))).toBe(true);
    }

    const test = await cifar10({ url, expected, split: "test" });
    expect(test.examples).toHaveLength(100);
    expect(Buffer.from((await test.examples[99].load()).data).equals(Buffer.from(expectedImage(100_099)))).toBe(true);
    expect(server.requests.filter((r) => r.path === "/cifar-10-binary.tar.gz")).toHaveLength(1); // cached

    const full = await cifar10({ url, expected, subset: "full" });
    expect(full.examples).toHaveLength(5 * TRAIN_PER_BATCH);
    expect((await cifar10({ url, expected, split: "test", subset: "full" })).examples).toHaveLength(TEST_RECORDS);
    const range = await cifar10({ url, expected, subset: { start: 2400, count: 100 } });
    expect(range.name).toBe("cifar10/train[2400:2500]");
    expect(range.examples.map((e) => e.label)).toEqual(Array.from({ length: 100 }, (_, k) => testLabel(2400 + k)));
    expect(Buffer.from((await range.examples[60].load()).data).equals(Buffer.from(expectedImage(2460)))).toBe(true);
    const firstTen = await cifar10({ url, expected, split: "test", count: 10 });
    expect(firstTen.name).toBe("cifar10/test[0:10]");
    expect(firstTen.examples.map((e) => e.label)).toEqual(Array.from({ length: 10 }, (_, k) => testLabel(100_000 + k)));
    await expect(cifar10({ url, expected, subset: { start: 3000, count: 100 } })).rejects.toThrow(UsageError);
    await expect(cifar10({ url, expected, subset: { start: 3000, count: 100 } })).rejects.toThrow("is outside its 3050 images");
    expect((await readdir(join(home, "datasets"))).sort()).toEqual(["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]);
  });

  it("feeds the batch source: the seed recipe's 32→224 resize and raw 0–255 input", async () => {
    process.env[CIFAR10_URL_ENV] = server.url("/cifar-10-binary.tar.gz"); // mirror via the environment
    const test = await cifar10({ expected, split: "test", subset: { start: 5, count: 3 } });
    const source = createBatchSource(test, { batchSize: 2, imageSize: 224, preprocessing: "none", shuffle: false });
    const sizes: number[] = [];
    for await (const batch of source.batches(0)) {
      sizes.push(batch.size);
      if (sizes.length === 1) {
        const first = tf.slice(batch.images, [1, 0, 0, 0], [1, 224, 224, 3]);
        const want = resizeBilinear({ data: expectedImage(100_006), height: 32, width: 32, channels: 3 }, 224, 224).data;
        expect(Buffer.from(Uint8Array.from(first.dataSync())).equals(Buffer.from(want))).toBe(true);
        expect(first.dataSync().every((v) => Number.isInteger(v))).toBe(true); // raw 0–255, no scaling
        expect(batch.labels.arraySync()[1]).toEqual(Array.from({ length: 10 }, (_, c) => (c === testLabel(100_006) ? 1 : 0)));
        first.dispose();
      }
      tf.dispose([batch.images, batch.labels]);
    }
    expect(sizes).toEqual([2, 1]);
  });

  it("without network: one FtError naming the URL and --data DIR, nothing left in the cache", async () => {
    const url = await deadUrl("/cifar-10-binary.tar.gz");
    const error = await cifar10({ url, expected }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FtError);
    const message = (error as Error).message;
    expect(message).toContain(url);
    expect(message).toContain("--data DIR");
    expect(await readdir(home)).toEqual([]);
  });

  it("an md5 mismatch is refused and the download discarded", async () => {
    const url = server.url("/cifar-10-binary.tar.gz");
    const error = await ensureCifar10({ url, expected: { ...expected, md5: "0".repeat(32) } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FtError);
    expect((error as Error).message).toMatch(/checksum mismatch/);
    expect((error as Error).message).toContain(url);
    expect(await readdir(home)).toEqual([]); // no archive, no .part, no empty datasets/ folder
  });

  it("an archive with a path-traversal entry is refused", async () => {
    const evil = { md5: createHash("md5").update(evilArchive).digest("hex"), bytes: evilArchive.length };
    const error = await ensureCifar10({ url: server.url("/evil.tar.gz"), expected: evil }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FtError);
    expect((error as Error).message).toContain('unsafe entry "cifar-10-batches-bin/../../escape.bin"');
    expect(existsSync(join(home, "datasets", "cifar-10-batches-bin"))).toBe(false);
    expect(existsSync(join(home, "escape.bin"))).toBe(false);
    expect(existsSync(join(home, "datasets", "escape.bin"))).toBe(false);
  });

  it("defaults to the official archive", () => {
    expect(CIFAR10_URL).toBe("https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
  });
});
