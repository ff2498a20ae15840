#!/bin/sh
# ATen (Debian libtorch 1.13.1) against ft-native's addon, op by op on ResNet-50 shapes (224 px,
# batch 8, 2 threads): a markdown table, which oneDNN kernels each side runs, and the libraries'
# sizes on disk. Run from anywhere (takes ~2 minutes; pass --repeats N to change the sample size):
#   sh packages/backend-native/scripts/aten/compare.sh [--repeats 11]
set -e
cd "$(dirname "$0")/../../../.."
dir=packages/backend-native/scripts/aten
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load() { echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"; }
aten() { /usr/bin/python3 $dir/aten_ops.py "$@"; }
addon() { pnpm exec tsx --conditions source $dir/addon_ops.ts "$@"; }

echo "## Per-op times (median ms; ratio = ft-native / ATen, below 1 means ft-native is faster)"
echo "ATen run, $(load)"
aten "$@" >"$tmp/aten.jsonl"
echo "ft-native run, $(load)"
addon "$@" >"$tmp/addon.jsonl"
echo "done, $(load)"
echo
/usr/bin/python3 - "$tmp/aten.jsonl" "$tmp/addon.jsonl" <<'EOF'
import json, sys
read = lambda path: [json.loads(l) for l in open(path) if l.startswith("{")]
aten = {(r["op"], r["shape"]): r for r in read(sys.argv[1])}
print("| op | shape | ATen ms | ft-native ms | ratio | ATen layout |")
print("|---|---|---:|---:|---:|---|")
for r in read(sys.argv[2]):
    a = aten.get((r["op"].split(" [")[0], r["shape"]))
    if a is None:
        continue
    print(f"| {r['op']} | {r['shape']} | {a['ms']:.2f} | {r['ms']:.2f} | {r['ms'] / a['ms']:.2f} | {a['layout']} |")
EOF

echo
echo "## Does ATen's convolution run oneDNN?"
ldd /usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13 | grep -E "dnnl|mkldnn" || echo "libtorch_cpu does not link libdnnl"
aten --profile
# oneDNN logs every primitive it executes; list each convolution problem with the implementation
# each side ran (ATen: NCHW then channels_last; ft-native: NHWC).
ONEDNN_VERBOSE=1 aten --profile >"$tmp/aten.verbose"
ONEDNN_VERBOSE=1 addon --repeats 1 >"$tmp/addon.verbose"
/usr/bin/python3 - "$tmp/aten.verbose" "$tmp/addon.verbose" <<'EOF'
import sys
def convs(path):
    seen = {}
    for line in open(path):
        f = line.strip().split(",")
        if f[:4] == ["onednn_verbose", "exec", "cpu", "convolution"]:
            seen.setdefault((f[-2], f[5]), set()).add(f[4])
    return seen
aten, addon = convs(sys.argv[1]), convs(sys.argv[2])
print("\n| oneDNN problem | direction | ATen's implementation | ft-native's implementation |\n|---|---|---|---|")
for key in sorted(set(aten) | set(addon)):
    print(f"| {key[0]} | {key[1]} | {', '.join(sorted(aten.get(key, {'-'})))} | {', '.join(sorted(addon.get(key, {'-'})))} |")
EOF

echo
echo "## Shared libraries on disk (bytes)"
files() { dpkg -L "$1" | while read -r f; do [ -f "$f" ] && [ ! -L "$f" ] && echo "$f"; done; }
for pkg in libtorch1.13 libdnnl2; do
  echo "$pkg: all files $(files $pkg | xargs du -cb | tail -1 | cut -f1), its .so files:"
  files $pkg | grep '\.so' | xargs du -b
done
# What loading each really maps: the library plus everything it links, transitively.
closure() { ldd "$@" | awk '/=>/ {print $3}' | xargs -n1 readlink -f | sort -u; }
echo "ft-native addon + linked libraries: $(closure packages/backend-native/native/build/Release/ft_native.node | xargs du -cb | tail -1 | cut -f1) bytes in $(closure packages/backend-native/native/build/Release/ft_native.node | wc -l) files"
echo "libtorch + libtorch_cpu + linked libraries: $(closure /usr/lib/x86_64-linux-gnu/libtorch.so.1.13 /usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13 | xargs du -cb | tail -1 | cut -f1) bytes in $(closure /usr/lib/x86_64-linux-gnu/libtorch.so.1.13 /usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13 | wc -l) files"
