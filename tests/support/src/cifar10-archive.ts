import { gzipSync } from "node:zlib";
import { Header } from "tar";

/**
 * Test pixel of CIFAR record `index`, channel c (0 R, 1 G, 2 B), row y, column x: different in
 * every channel, row and column (so plane order, transposition and mirroring all show), and
 * patterned so that the generated archive gzips well.
 */
export function testPixel(index: number, c: number, y: number, x: number): number {
  return (index * 7 + c * 85 + y * 3 + x * 5 + ((x * y) % 7)) % 256;
}

export const testLabel = (index: number) => (index * 3 + 1) % 10;

/** `count` records in the binary format for global indices first … first+count−1. */
export function makeRecords(first: number, count: number): Buffer {
  const out = Buffer.alloc(count * 3073);
  for (let r = 0; r < count; r++) {
    const index = first + r;
    const base = r * 3073;
    out[base] = testLabel(index);
    for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[base + 1 + c * 1024 + y * 32 + x] = testPixel(index, c, y, x);
  }
  return out;
}

export interface TarEntry {
  path: string;
  data?: Buffer;
  type?: "File" | "Directory" | "SymbolicLink";
  linkpath?: string;
}

/** A gzipped ustar archive of `entries`, written verbatim (no path sanitising: tests need evil ones). */
export function tarGz(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const type = entry.type ?? "File";
    const data = entry.data ?? Buffer.alloc(0);
    const header = new Header({
      path: entry.path,
      type,
      linkpath: entry.linkpath,
      size: type === "File" ? data.length : 0,
      mode: type === "Directory" ? 0o755 : 0o644,
      mtime: new Date(0),
      uid: 0,
      gid: 0,
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (type === "File" && data.length > 0) {
      blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks), { level: 6 });
}

/** Record layout of the generated archive: 5 training batches of 610 records, 120 test records. */
export const TRAIN_PER_BATCH = 610;
export const TEST_RECORDS = 120;

/** A small CIFAR-10-shaped archive (3050 train / 120 test records). */
export function cifarTestArchive(): Buffer {
  const entries: TarEntry[] = [{ path: "cifar-10-batches-bin/", type: "Directory" }];
  for (let b = 0; b < 5; b++) {
    entries.push({ path: `cifar-10-batches-bin/data_batch_${b + 1}.bin`, data: makeRecords(b * TRAIN_PER_BATCH, TRAIN_PER_BATCH) });
  }
  // Test records use indices from 100000 so they differ from the training ones.
  entries.push({ path: "cifar-10-batches-bin/test_batch.bin", data: makeRecords(100_000, TEST_RECORDS) });
  entries.push({ path: "cifar-10-batches-bin/batches.meta.txt", data: Buffer.from("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n") });
  return tarGz(entries);
}
