"""Times ATen (Debian libtorch 1.13.1) CPU ops on ResNet-50 shapes at 224 px, batch 8, 2 threads.

Counterpart of addon_ops.ts (same ops, shapes and timing method); compare.sh runs both.
Run from the repository root with the Debian interpreter (the pyenv python3 has no torch):
  /usr/bin/python3 packages/backend-native/scripts/aten/aten_ops.py [--repeats 11] [--profile]
Prints one JSON line per op: {op, shape, ms, layout}. Convolutions and BatchNorm run in both
NCHW (contiguous) and channels_last; `ms` is the faster and `layout` says which.
--profile instead prints the ATen kernels each convolution direction dispatches to.
"""
import json
import statistics
import sys
import time

import torch

torch.set_num_threads(2)
aten = torch.ops.aten
REPEATS = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 11
WARMUP = 3

# name, (N, H, W, Cin), kernel, stride, pad, Cout: the same list as addon_ops.ts.
CONVS = [
    ("stem 7x7/2", (8, 224, 224, 3), 7, 2, 3, 64),
    ("1x1 256->64", (8, 56, 56, 256), 1, 1, 0, 64),
    ("3x3 64->64", (8, 56, 56, 64), 3, 1, 1, 64),
    ("3x3 256->256", (8, 14, 14, 256), 3, 1, 1, 256),
    ("1x1/2 1024->2048", (8, 14, 14, 1024), 1, 2, 0, 2048),
]
ACT = (8, 56, 56, 256)  # NHWC, as the addon sees it


def median_ms(fn):
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def nchw(shape_nhwc):
    n, h, w, c = shape_nhwc
    return (n, c, h, w)


def best_of_layouts(make_fn):
    """make_fn(memory_format) -> thunk; times both layouts, returns (ms, layout)."""
    results = [(median_ms(make_fn(fmt)), name) for fmt, name in
               ((torch.contiguous_format, "NCHW"), (torch.channels_last, "channels_last"))]
    return min(results)


def emit(op, shape, ms, layout="-"):
    print(json.dumps({"op": op, "shape": shape, "ms": round(ms, 3), "layout": layout}), flush=True)


def conv_thunks(spec, fmt):
    """Forward, backward-input and backward-weight thunks for one convolution in layout fmt."""
    _, (n, h, w, c), k, s, p, oc = spec
    x = torch.randn(nchw((n, h, w, c))).contiguous(memory_format=fmt)
    wt = torch.randn(oc, c, k, k).contiguous(memory_format=fmt)
    y = aten.convolution(x, wt, None, [s, s], [p, p], [1, 1], False, [0, 0], 1)
    dy = torch.randn(y.shape).contiguous(memory_format=fmt)
    common = ([s, s], [p, p], [1, 1], False, [0, 0], 1)
    return {
        "conv_fwd": lambda: aten.convolution(x, wt, None, *common),
        "conv_bwd_input": lambda: aten.convolution_backward(dy, x, wt, None, *common, [True, False, False]),
        "conv_bwd_weight": lambda: aten.convolution_backward(dy, x, wt, None, *common, [False, True, False]),
    }


def conv_shape(spec):
    name, (n, h, w, c), k, s, p, oc = spec
    return f"{name} {n}x{h}x{w}x{c}"


def profile():
    """Which ATen kernels the convolutions dispatch to (mkldnn_* = oneDNN; slow_conv*/thnn_* = not)."""
    print("mkldnn available:", torch.backends.mkldnn.is_available(), "enabled:", torch.backends.mkldnn.enabled)
    for spec in CONVS:
        for fmt in (torch.contiguous_format, torch.channels_last):
            thunks = conv_thunks(spec, fmt)
            with torch.autograd.profiler.profile() as prof:
                for fn in thunks.values():
                    fn()
            names = sorted({e.name for e in prof.function_events if "conv" in e.name or "mkldnn" in e.name})
            print(conv_shape(spec), "NCHW" if fmt == torch.contiguous_format else "channels_last", names)


def main():
    if "--profile" in sys.argv:
        return profile()
    with torch.no_grad():
        for spec in CONVS:
            for op in ("conv_fwd", "conv_bwd_input", "conv_bwd_weight"):
                emit(op, conv_shape(spec), *best_of_layouts(lambda fmt: conv_thunks(spec, fmt)[op]))

        act = f"{ACT[0]}x{ACT[1]}x{ACT[2]}x{ACT[3]}"
        c = ACT[3]
        gamma, beta = torch.rand(c) + 0.5, torch.randn(c)
        run_mean, run_var = torch.zeros(c), torch.ones(c)

        def bn_fwd(fmt):
            x = torch.randn(nchw(ACT)).contiguous(memory_format=fmt)
            return lambda: aten.native_batch_norm(x, gamma, beta, run_mean, run_var, True, 0.1, 1e-3)

        def bn_bwd(fmt):
            x = torch.randn(nchw(ACT)).contiguous(memory_format=fmt)
            dy = torch.randn(nchw(ACT)).contiguous(memory_format=fmt)
            _, save_mean, save_invstd = aten.native_batch_norm(x, gamma, beta, run_mean, run_var, True, 0.1, 1e-3)
            return lambda: aten.native_batch_norm_backward(dy, x, gamma, run_mean, run_var, save_mean, save_invstd,
                                                           True, 1e-3, [True, True, True])

        emit("bn_train_fwd", act, *best_of_layouts(bn_fwd))
        emit("bn_train_bwd", act, *best_of_layouts(bn_bwd))

        # Elementwise ops do not care about layout: contiguous only.
        a, b = torch.randn(nchw(ACT)), torch.randn(nchw(ACT))
        emit("relu", act, median_ms(lambda: aten.relu(a)))
        emit("relu_bwd", act, median_ms(lambda: aten.threshold_backward(b, a, 0)))
        emit("add", act, median_ms(lambda: aten.add(a, b)))


main()
