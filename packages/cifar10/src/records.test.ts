import { describe, expect, it } from "vitest";
import { recordCount, recordImage, recordLabel, RECORD_BYTES } from "./records.js";
import { makeRecords, testLabel, testPixel } from "@ft/test-support/cifar10-archive";

describe("CIFAR-10 binary records", () => {
  it("are 1 label byte + R, G, B planes of 32×32, converted to HWC RGB", () => {
    expect(RECORD_BYTES).toBe(3073);
    const records = makeRecords(40, 3);
    for (let r = 0; r < 3; r++) {
      const image = recordImage(records, r * RECORD_BYTES);
      expect(image).toMatchObject({ height: 32, width: 32, channels: 3 });
      expect(recordLabel(records, r * RECORD_BYTES, "x")).toBe(testLabel(40 + r));
      const expected = new Uint8Array(32 * 32 * 3);
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) expected[(y * 32 + x) * 3 + c] = testPixel(40 + r, c, y, x);
      expect(Buffer.from(image.data).equals(Buffer.from(expected))).toBe(true);
    }
  });

  it("hand-written record: R plane first, row-major", () => {
    const record = new Uint8Array(RECORD_BYTES);
    record[0] = 7;
    record[1 + 0 * 1024 + 0 * 32 + 1] = 11; // R at (y 0, x 1)
    record[1 + 1 * 1024 + 1 * 32 + 0] = 22; // G at (y 1, x 0)
    record[1 + 2 * 1024 + 31 * 32 + 31] = 33; // B at (y 31, x 31)
    const image = recordImage(record, 0);
    expect(image.data[(0 * 32 + 1) * 3 + 0]).toBe(11);
    expect(image.data[(1 * 32 + 0) * 3 + 1]).toBe(22);
    expect(image.data[(31 * 32 + 31) * 3 + 2]).toBe(33);
    expect(image.data.reduce((a, b) => a + b, 0)).toBe(66);
    expect(recordLabel(record, 0, "x")).toBe(7);
  });

  it("rejects files that are not whole records and labels above 9, naming the origin", () => {
    expect(recordCount(3073 * 4, "f")).toBe(4);
    expect(() => recordCount(3073 * 4 + 1, "/data/b.bin")).toThrow("/data/b.bin is not a CIFAR-10 binary batch");
    expect(() => recordCount(0, "/data/b.bin")).toThrow(/not a CIFAR-10 binary batch/);
    const bad = new Uint8Array(RECORD_BYTES);
    bad[0] = 10;
    expect(() => recordLabel(bad, 0, "b.bin#0")).toThrow("b.bin#0: label byte 10 is not a CIFAR-10 class");
  });
});
