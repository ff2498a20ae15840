import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { PYTHON } from "@ft/test-support/system";

const FIXTURES = fileURLToPath(new URL("../fixtures/", import.meta.url));

/**
 * Small valid files of every layout the reader knows: legacy, Keras 1 (th, tf, notop), Keras 2 (tf, theano;
 * chunked name attributes), `model.save`, all with fixed-length strings, plus a copy of the Keras 1 file with
 * variable-length UTF-8 strings (as newer h5py writes), made here with h5py into `dir`.
 */
export function fuzzCorpus(dir: string): string[] {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".h5")).map((f) => join(FIXTURES, f));
  const vlen = join(dir, "tiny_keras1_tf_vlen.h5");
  const made = spawnSync(PYTHON, ["-c", `import h5py, shutil, sys
shutil.copy(sys.argv[1], sys.argv[2])
f = h5py.File(sys.argv[2], "r+")
text = h5py.string_dtype("utf-8")
def as_vlen(node, name):
    values = [v.decode() if isinstance(v, bytes) else v for v in node.attrs[name]]
    del node.attrs[name]
    node.attrs.create(name, values, dtype=text)
as_vlen(f, "layer_names")
for layer in f.attrs["layer_names"]:
    as_vlen(f[layer], "weight_names")`, join(FIXTURES, "tiny_keras1_tf.h5"), vlen], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`could not write the variable-length-string corpus file: ${made.stderr}`);
  return [...files, vlen];
}
