"""PyTorch peer for `pnpm bench`: the same ResNet-50 steps, timed the same way.

Run with the system Python (Debian python3-torch). Prints one JSON object per row on stdout.
Structure matches the Keras ResNet-50 that `ft` builds (deep-learning-models v0.2): the stride
of a stage's first block sits on its first 1x1 convolution, not on the 3x3 as in torchvision.
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torchvision


def keras_resnet50(classes: int) -> torch.nn.Module:
    model = torchvision.models.resnet50(num_classes=classes)
    for stage in (model.layer2, model.layer3, model.layer4):
        block = stage[0]
        block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    return model


def blas() -> str:
    """The BLAS library actually loaded (Debian picks it through alternatives at run time)."""
    torch.mm(torch.ones(64, 64), torch.ones(64, 64))
    try:
        with open("/proc/self/maps") as maps:
            libs = sorted({line.rsplit("/", 1)[-1].strip() for line in maps if "blas" in line.lower()})
    except OSError:
        libs = []
    return ", ".join(libs) or "unknown"


def timed(fn, warmup: int, steps: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--row", required=True, choices=["train", "infer"])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = keras_resnet50(1000)
    x = torch.rand(args.batch, 3, args.size, args.size) * 255
    y = torch.randint(0, 1000, (args.batch,))
    if args.row == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, nesterov=True)
        loss_fn = torch.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                model(x)

    times = timed(step, args.warmup, args.steps)
    median = statistics.median(times)
    print(json.dumps({
        "engine": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas": blas(),
        "median_s": median,
        "images_per_s": args.batch / median,
        "steps": len(times),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    sys.exit(main())
