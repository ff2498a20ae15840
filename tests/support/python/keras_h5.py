"""The h5py side of the Keras weight-file fixtures, shared by every generator script
(`packages/*/test/fixtures/*.py`, `apps/cli/test/fixtures/*.py`). A generator imports it by putting
this folder on `sys.path` (it is test support, never built or published):

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..", "tests", "support", "python"))

- `write_keras_file` / `write_legacy_file`: the two container layouts Keras wrote (`save_weights` of
  Keras 1/2, and the Keras 0.x layout of the original VGG files), via a temporary name;
- `fixed`, `byte_list`, `vlen`: the ways Keras's files store a list of strings; `to_theano`: the Theano kernel of a
  TensorFlow one;
- `Net`, `KerasFiles`, `main`: a model's layer list, the JSON structure of its published files and the
  generator command line of @ft/inception and @ft/densenet:

    GENERATOR structures OUT_DIR         # OUT_DIR/<file>.json for every layout
    GENERATOR h5 FILE_ID OUT.h5 SEED [--empty] [--layers=N]
                                         # a real-structure HDF5 file with seeded values (tf layout
                                         # made first, th derived with NumPy), and OUT.h5.expected.json
                                         # (probe values, tf layout); --empty: datasets without data;
                                         # --layers=N: the first N layers only
    GENERATOR dump FILE.h5               # what h5py sees: groups, attributes, datasets
    GENERATOR reference OUT.json         # NumPy th conversions of a few small arrays
"""
import json
import os
import sys

import numpy as np

KERAS1_ROLE = {"kernel": "W", "bias": "b", "gamma": "gamma", "beta": "beta",
               "moving_mean": "running_mean", "moving_variance": "running_std"}


class Net:
    """Layers of one Keras model in creation order, with Keras auto names (one counter per prefix)."""

    def __init__(self, keras):
        self.keras = keras
        self.layers = []
        self.counters = {}

    def auto(self, prefix):
        self.counters[prefix] = self.counters.get(prefix, 0) + 1
        return "%s_%d" % (prefix, self.counters[prefix])

    def add(self, name, weights=()):
        """weights: (role, tf-layout shape[, channels-first feature (h, w, c) of a Dense after Flatten])."""
        self.layers.append((name, list(weights)))
        return name

    def conv(self, name, kh, kw, cin, cout, bias):
        w = [("kernel", (kh, kw, cin, cout))]
        return self.add(name, w + ([("bias", (cout,))] if bias else []))

    def bn(self, name, c, scale=True):
        roles = (["gamma"] if scale else []) + ["beta", "moving_mean", "moving_variance"]
        return self.add(name, [(r, (c,)) for r in roles])

    def dense(self, name, cin, cout, feature=None):
        return self.add(name, [("kernel", (cin, cout), feature), ("bias", (cout,))])


class KerasFiles:
    """The published files of one package: `files` maps a file id to (a function returning the `Net`
    of its model, "th" | "tf"); `keras2_version` is written as Keras 2 files' `keras_version`."""

    def __init__(self, files, keras2_version):
        self.files = files
        self.keras2_version = keras2_version

    # ----------------------------------------------------------------------- file structure
    def structure(self, file_id):
        """The file as a JSON-able description: root attributes and, per layer, weight names and shapes
        (`conversion` omitted when "copy", `tfShape` when equal to `shape`)."""
        make, ordering = self.files[file_id]
        net = make()
        layers = []
        for name, weights in net.layers:
            entries = []
            for w in weights:
                role, tf_shape = w[0], list(w[1])
                feature = w[2] if len(w) > 2 else None
                if net.keras == 1:
                    wname = "%s_%s%s" % (name, KERAS1_ROLE[role], ":0" if ordering == "tf" else "")
                else:
                    wname = "%s/%s:0" % (name, role)
                conversion, shape = "copy", tf_shape
                if ordering == "th" and len(tf_shape) == 4:
                    conversion, shape = "th-kernel", [tf_shape[3], tf_shape[2], tf_shape[0], tf_shape[1]]
                elif ordering == "th" and feature is not None:
                    conversion = "channels-first-dense"
                entry = {"name": wname, "role": role, "shape": shape}
                if conversion != "copy":
                    entry["conversion"] = conversion
                if shape != tf_shape:
                    entry["tfShape"] = tf_shape
                if conversion == "channels-first-dense":
                    entry["feature"] = list(feature)
                entries.append(entry)
            layers.append({"name": name, "weights": entries})
        attrs = {}
        if net.keras == 2:
            attrs = {"backend": "tensorflow", "keras_version": self.keras2_version}
        return {"file": file_id, "layout": "keras%d" % net.keras, "ordering": ordering, "attrs": attrs, "layers": layers}

    def write_structures(self, out_dir):
        os.makedirs(out_dir, exist_ok=True)
        for file_id in self.files:
            s = self.structure(file_id)
            with open(os.path.join(out_dir, file_id + ".json"), "w") as f:
                # one layer per line: readable diffs, small files
                f.write('{"file": %s, "layout": %s, "ordering": %s, "attrs": %s, "layers": [\n' % tuple(
                    json.dumps(s[k]) for k in ("file", "layout", "ordering", "attrs")))
                f.write(",\n".join(json.dumps(layer, separators=(",", ":")) for layer in s["layers"]))
                f.write("\n]}\n")

    # ----------------------------------------------------------------------- HDF5 writing (h5py)
    def write_h5(self, file_id, path, seed, empty=False, layers=None):
        """A file of `file_id`'s structure with seeded values, written as Keras did: root `layer_names`
        (every layer, weightless ones included, fixed-length byte strings); one group per layer with
        `weight_names`; one float32 dataset per weight. Keras 2 files add root `backend` and
        `keras_version` (fixed-length scalars, as h5py 2 wrote `bytes`)."""
        import h5py

        s = self.structure(file_id)
        if layers is not None:
            s["layers"] = s["layers"][:layers]
        rng = np.random.default_rng(seed)
        expected = {}
        with h5py.File(path, "w") as f:
            f.attrs["layer_names"] = fixed([layer["name"] for layer in s["layers"]])
            for key, value in s["attrs"].items():
                f.attrs[key] = np.array(value.encode("utf8"), dtype="S%d" % len(value))
            for layer in s["layers"]:
                g = f.create_group(layer["name"])
                g.attrs["weight_names"] = fixed([w["name"] for w in layer["weights"]])
                probes = []
                for w in layer["weights"]:
                    if empty:
                        g.create_dataset(w["name"], shape=tuple(w["shape"]), dtype="float32")
                        continue
                    value = canonical(w, rng)
                    g.create_dataset(w["name"], data=to_file(w, value))
                    flat = value.ravel()
                    picks = sorted(set(rng.integers(0, flat.size, 4).tolist() + [0, flat.size - 1]))
                    probes.append({"shape": tf_shape_of(w), "probes": [[i, float(flat[i])] for i in picks]})
                if probes:
                    expected[layer["name"]] = probes
        if not empty:
            with open(path + ".expected.json", "w") as f:
                json.dump(expected, f)


# --------------------------------------------------------------------------- HDF5 helpers (h5py, NumPy)
def write_keras_file(path, layers, attrs=(), names=None):
    """Keras 1/2 `save_weights`: root `layer_names` (weightless layers included), one group per layer
    with `weight_names`, one dataset per weight (a "/" in a name makes nested groups, as with h5py).
    `layers`: [(layer name, [(weight name, array), ...])]; `attrs`: further root attributes, stored as
    given; `names`: how string lists are stored (default `fixed`). Written to a temporary name, then
    renamed."""
    import h5py

    names = names or fixed
    with h5py.File(path + ".tmp", "w") as f:
        f.attrs["layer_names"] = names([name for name, _ in layers])
        for key, value in dict(attrs).items():
            f.attrs[key] = value
        for name, weights in layers:
            g = f.create_group(name)
            g.attrs["weight_names"] = names([wname for wname, _ in weights])
            for wname, value in weights:
                g.create_dataset(wname, data=value)
    os.replace(path + ".tmp", path)


def write_legacy_file(path, layers):
    """Keras 0.x `Sequential.save_weights` (the original VGG files): root `nb_layers`, group `layer_K`
    per layer (weightless ones included) with `nb_params` and datasets `param_N`. `layers`: [[array, ...]]."""
    import h5py

    with h5py.File(path + ".tmp", "w") as f:
        f.attrs["nb_layers"] = len(layers)
        for k, params in enumerate(layers):
            g = f.create_group("layer_%d" % k)
            g.attrs["nb_params"] = len(params)
            for n, value in enumerate(params):
                g.create_dataset("param_%d" % n, data=value)
    os.replace(path + ".tmp", path)


def to_theano(kernel):
    """(kh, kw, in, out) cross-correlation kernel -> (out, in, kh, kw) true-convolution kernel:
    W_tf[i, j, c, o] = W_th[o, c, kh-1-i, kw-1-j]."""
    return np.ascontiguousarray(kernel[::-1, ::-1, :, :].transpose(3, 2, 0, 1))


def byte_list(strings):
    """A list of `bytes`, which h5py 3 stores as variable-length strings (Keras 2 under h5py 3 passed such
    lists); an empty list becomes an empty float64 array."""
    return [s.encode("utf8") for s in strings]


def vlen(strings):
    """Variable-length UTF-8 strings, as newer h5py writes a list of `str`."""
    import h5py

    return np.array(strings, dtype=h5py.string_dtype("utf-8"))


def fixed(strings, empty="float64"):
    """Fixed-length byte strings, as Keras 1/2 wrote lists of `bytes` with h5py 2. An empty list became
    an empty float64 array (NumPy's default type), as in the real files' weightless layers; with
    `empty="bytes"`, an empty `S1` array (h5py 3 writing an empty array of bytes)."""
    if not strings:
        return np.zeros((0,), dtype=np.float64 if empty == "float64" else "S1")
    return np.array([s.encode("utf8") for s in strings], dtype="S%d" % max(len(s) for s in strings))


def canonical(entry, rng):
    """Random float32 values of one weight in the TensorFlow layout, positive where a variance must be."""
    shape, role = tf_shape_of(entry), entry["role"]
    if role == "kernel":
        fan_in = int(np.prod(shape[:-1]))
        return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)
    if role in ("gamma", "moving_variance"):
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    return (0.1 * rng.standard_normal(shape)).astype(np.float32)


def tf_shape_of(entry):
    """TensorFlow-layout shape of a structure entry (`tfShape` is omitted when it equals `shape`)."""
    return entry.get("tfShape", entry["shape"])


def to_file(entry, value):
    """NumPy reference of what a Theano file stores for a TensorFlow-layout value."""
    conversion = entry.get("conversion", "copy")
    if conversion == "th-kernel":
        return to_theano(value)
    if conversion == "channels-first-dense":
        h, w, c = entry["feature"]
        # rows (h, w, c) -> (c, h, w)
        return np.ascontiguousarray(value.reshape(h, w, c, -1).transpose(2, 0, 1, 3).reshape(h * w * c, -1))
    return value


def reference(path):
    """Small NumPy references of the Theano conversions, for the TypeScript writer's own test."""
    rng = np.random.default_rng(7)
    cases = []
    for tf_shape, feature in [((3, 3, 2, 4), None), ((1, 7, 3, 2), None), ((7, 1, 2, 3), None), ((5, 5, 1, 2), None),
                              ((4 * 4 * 3, 2), (4, 4, 3))]:
        entry = {"role": "kernel", "tfShape": list(tf_shape),
                 "conversion": "th-kernel" if feature is None else "channels-first-dense"}
        if feature is not None:
            entry["feature"] = list(feature)
        value = rng.standard_normal(tf_shape).astype(np.float32)
        stored = to_file(entry, value)
        cases.append(dict(entry, shape=list(stored.shape), tf=value.ravel().tolist(), file=stored.ravel().tolist()))
    with open(path, "w") as f:
        json.dump(cases, f)


def dump(path):
    """Everything h5py reports about the file's structure (no weight values)."""
    import h5py

    def attrs(obj):
        out = {}
        for key in sorted(obj.attrs.keys()):
            value = obj.attrs[key]
            dtype = obj.attrs.get_id(key).dtype
            if isinstance(value, np.ndarray):
                value = [v.decode("utf8") if isinstance(v, bytes) else v for v in value.tolist()]
            elif isinstance(value, bytes):
                value = value.decode("utf8")
            out[key] = {"dtype": dtype.str, "shape": list(obj.attrs.get_id(key).shape), "value": value}
        return out

    items = {}
    with h5py.File(path, "r") as f:
        items["/"] = {"kind": "group", "attrs": attrs(f)}

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                items[name] = {"kind": "dataset", "dtype": obj.dtype.str, "shape": list(obj.shape), "attrs": attrs(obj)}
            else:
                items[name] = {"kind": "group", "attrs": attrs(obj)}

        f.visititems(visit)
    return items


def main(files, usage):
    """The generator command line above; `usage`: the generator's docstring."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "structures" and len(sys.argv) == 3:
        files.write_structures(sys.argv[2])
    elif command == "h5" and len(sys.argv) in (5, 6, 7):
        options = sys.argv[5:]
        cut = [int(o.split("=")[1]) for o in options if o.startswith("--layers=")]
        files.write_h5(sys.argv[2], sys.argv[3], int(sys.argv[4]), empty="--empty" in options, layers=cut[0] if cut else None)
    elif command == "reference" and len(sys.argv) == 3:
        reference(sys.argv[2])
    elif command == "dump" and len(sys.argv) == 3:
        json.dump(dump(sys.argv[2]), sys.stdout, sort_keys=True)
    else:
        sys.exit(usage)
