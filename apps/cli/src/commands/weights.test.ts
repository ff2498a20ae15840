import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../test/capture.js";
import { registerTiny, startFixtureServer, TINY_TF, TINY_TH } from "../../test/tiny-model.js";

let server: Awaited<ReturnType<typeof startFixtureServer>>;
let unregister: () => void;
let home: string;
const saved = { FT_HOME: process.env.FT_HOME, FT_MIRROR: process.env.FT_MIRROR };

beforeAll(async () => {
  server = await startFixtureServer();
  unregister = registerTiny(server.base);
});
afterAll(async () => {
  unregister();
  await server.close();
});
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), "ft-cli-weights-"));
  process.env.FT_HOME = home;
  delete process.env.FT_MIRROR;
  server.requests.length = 0;
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** A user error: exit 1 or 2, one line on stderr, no stack trace. */
function expectOneLineError(r: { code: number; stderr: string }, code: number, pattern: RegExp): void {
  expect(r.code).toBe(code);
  expect(r.stderr.trimEnd()).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().split("\n").filter((l) => !l.startsWith("(run ft --help"))).toHaveLength(1);
}

describe("ft weights list", () => {
  it("lists a model's records with size, checksum, cache state and dead hosts", async () => {
    const r = await runCli(["weights", "list", "clitiny"]);
    expect(r.code).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^id\s+model\s+ordering\s+top\s+layout\s+size\s+checksum\s+cache\s+status$/);
    expect(r.stdout).toMatch(/^clitiny\.th\s+clitiny\s+th\s+top\s+keras1\s+17\.7 kB\s+md5 \w{8}…\s+-$/m);
    expect(r.stdout).toMatch(/^clitiny\.tf\.notop\s+clitiny\s+tf\s+notop\s+keras2\s+.*dead host$/m);
    expect(r.stdout).toContain(`cache: ${join(home, "weights")}`);
  });

  it("--json prints every record with its cache path and source", async () => {
    const r = await runCli(["weights", "list", "clitiny", "--json"]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as { id: string; cachePath: string; cacheState: string; source: { via: string } }[];
    expect(rows.map((x) => x.id)).toEqual(["clitiny.th", "clitiny.tf", "clitiny.tf.notop"]);
    expect(rows[0]).toMatchObject({ cachePath: join(home, "weights", "tiny_th.h5"), cacheState: "missing", source: { via: "record" } });
  });

  it("an unknown model is a usage error", async () => {
    expectOneLineError(await runCli(["weights", "list", "clitinny"]), 2, /^ft: unknown model "clitinny"\. Did you mean .*clitiny/);
  });
});

describe("ft weights download", () => {
  it("downloads the chosen record with a progress line on stderr and prints the path", async () => {
    const r = await runCli(["weights", "download", "clitiny", "--ordering", "tf"]);
    expect(r.code).toBe(0);
    const path = join(home, "weights", "tiny_tf.h5");
    expect(r.stdout).toBe(path + "\n");
    expect(readFileSync(path).equals(readFileSync(TINY_TF))).toBe(true);
    expect(r.stderr).toMatch(/clitiny\.tf █+ 100% 19\.8 kB \/ 19\.8 kB \| [\d.]+ [kMG]?B\/s \| done/);
    expect(server.requests).toEqual(["/files/tiny_tf.h5"]);

    const again = await runCli(["weights", "download", "clitiny.tf"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(path + "\n");
    expect(again.stderr).toMatch(/already in the cache, verified/);
    expect(server.requests).toHaveLength(1);
  });

  it("picks up a partial download left in the cache", async () => {
    const path = join(home, "weights", "tiny_th.h5");
    mkdirSync(join(home, "weights"), { recursive: true });
    writeFileSync(path + ".part", readFileSync(TINY_TH).subarray(0, 5000));
    const r = await runCli(["weights", "download", "clitiny.th"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`resuming clitiny.th from ${path}.part`);
    expect(readFileSync(path).equals(readFileSync(TINY_TH))).toBe(true);
    expect(existsSync(path + ".part")).toBe(false);
  });

  it("--variant picks top/notop or a record id; a dead record says so and how to pass a file", async () => {
    const r = await runCli(["weights", "download", "clitiny", "--variant", "clitiny.th"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(join(home, "weights", "tiny_th.h5"));
    expectOneLineError(
      await runCli(["weights", "download", "clitiny", "--variant", "notop"]),
      1,
      /^ft: weights "clitiny\.tf\.notop" cannot be downloaded: the test host that served it is gone\. To use them, pass a local copy with --weights FILE, or drop the file at .*tiny_tf_notop\.h5/,
    );
    expectOneLineError(await runCli(["weights", "download", "clitiny", "--ordering", "th", "--variant", "notop"]), 2, /no weight file of "clitiny" matches --ordering th --variant notop; published: clitiny\.th \(th, top\)/);
    expectOneLineError(await runCli(["weights", "download", "clitiny", "--variant", "big"]), 2, /--variant must be top, notop or a record id of "clitiny"/);
    expect((await runCli(["weights", "download", "clitiny", "--ordering", "xy"])).code).toBe(2);
  });

  it("without network: one line naming the URL, --weights FILE and the cache path; exit 1", async () => {
    process.env.FT_MIRROR = "http://127.0.0.1:9/mirror";
    const r = await runCli(["weights", "download", "clitiny"]);
    expectOneLineError(r, 1, /^ft: cannot download http:\/\/127\.0\.0\.1:9\/mirror\/tiny_th\.h5: connection refused \(ECONNREFUSED\)\. To work without the network, pass a local copy with --weights FILE, or drop the file at .*tiny_th\.h5\.$/);
    expect(r.stdout).toBe("");
  });
});

describe("ft weights verify", () => {
  it("verifies a file by name against its record, and reports a mismatch with expected vs found", async () => {
    const ok = await runCli(["weights", "verify", TINY_TH]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^ok {3}clitiny\.th {2}.*tiny_th\.h5 {2}\(17\.7 kB, md5 [0-9a-f]{32}\)$/m);

    const bad = join(home, "tiny_th.h5");
    const bytes = readFileSync(TINY_TH);
    bytes[bytes.length - 10] ^= 1;
    writeFileSync(bad, bytes);
    const r = await runCli(["weights", "verify", bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^BAD {2}clitiny\.th/m);
    expect(r.stdout).toMatch(/md5: expected [0-9a-f]{32}, found [0-9a-f]{32}/);
    expect(r.stderr).toBe(`ft: 1 of 1 file failed verification: ${bad}\n`);
  });

  it("verifies a model's cached files, and says when none is cached", async () => {
    expectOneLineError(await runCli(["weights", "verify", "clitiny"]), 1, /no weight file of "clitiny" is in the cache .*ft weights download clitiny/);
    await runCli(["weights", "download", "clitiny"]);
    const r = await runCli(["weights", "verify", "clitiny", "--json"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject([{ record: "clitiny.th", ok: true, problems: [] }]);
    // A renamed copy is still recognised by its size.
    const renamed = join(home, "renamed.h5");
    copyFileSync(TINY_TF, renamed);
    expect((await runCli(["weights", "verify", renamed])).stdout).toMatch(/^ok {3}clitiny\.tf /m);
  });

  it("a missing path or an unknown file is a clear error", async () => {
    expectOneLineError(await runCli(["weights", "verify", join(home, "nope.h5")]), 1, /^ft: no such file: .*nope\.h5$/);
    const other = join(home, "other.bin");
    writeFileSync(other, "12345");
    expectOneLineError(await runCli(["weights", "verify", other]), 1, /^ft: no weight record matches .*other\.bin by file name or size \(5 bytes, md5 827ccb0eea8a706c4c34a16891f84e7b\)/);
  });
});

describe("ft weights inspect", () => {
  it("shows a Keras 1 Theano file: layout, backend, ordering, layers with shapes and totals", async () => {
    const r = await runCli(["weights", "inspect", TINY_TH]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^layout {6}keras1 \(Keras 1 save_weights\)$/m);
    expect(r.stdout).toMatch(/^backend {5}\(not recorded\)$/m);
    // conv1's (4, 3, 3, 3) kernel fits both layouts: only the names speak, weakly
    expect(r.stdout).toMatch(/^ordering {4}th \(decided by the weak evidence: weight names have no ":0" suffix \(saved by the Theano backend\)\)$/m);
    expect(r.stdout).toMatch(/^ {12}weak {5}th: weight names have no ":0" suffix/m);
    expect(r.stdout).toMatch(/^dtypes {6}float32 \(4 arrays\)$/m);
    expect(r.stdout).toMatch(/^layers {6}4 listed, 2 with weights$/m);
    expect(r.stdout).toMatch(/^parameters {2}1,397 \(5\.59 kB as float32\)$/m);
    expect(r.stdout).toMatch(/^conv1\s+conv1_W\s+\(4, 3, 3, 3\)\s+float32\s+108$/m);
    expect(r.stdout).toMatch(/^\s+conv1_b\s+\(4\)\s+float32\s+4$/m);
    expect(r.stdout).toMatch(/^predictions\s+predictions_W\s+\(256, 5\)\s+float32\s+1,280$/m);
  });

  it("--json describes a Keras 2 TensorFlow file", async () => {
    const r = await runCli(["weights", "inspect", TINY_TF, "--json"]);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ layout: "keras2", kerasVersion: "2.1.5", backend: "tensorflow", ordering: { ordering: "tf" }, totalParams: 1397, totalBytes: 1397 * 4 });
    expect(info.layers.map((l: { name: string }) => l.name)).toEqual(["input_1", "conv1", "flatten", "predictions"]);
    expect(info.layers[1].weights).toEqual([
      { name: "conv1/kernel:0", shape: [3, 3, 3, 4], dtype: "float32", size: 108 },
      { name: "conv1/bias:0", shape: [4], dtype: "float32", size: 4 },
    ]);
  });

  it("a missing or non-HDF5 file gives one clear line and exit 1", async () => {
    expectOneLineError(await runCli(["weights", "inspect", join(home, "missing.h5")]), 1, /missing\.h5/);
    const text = join(home, "notes.h5");
    writeFileSync(text, "this is not an HDF5 file at all\n".repeat(20));
    expectOneLineError(await runCli(["weights", "inspect", text]), 1, /notes\.h5/);
    expect(existsSync(text)).toBe(true);
  });
});
