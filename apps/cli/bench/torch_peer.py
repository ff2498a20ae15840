"""PyTorch peer for `pnpm bench`: the same training and inference steps, timed the same way.

Run with the system Python (Debian python3-torch). Prints one JSON object per row on stdout.
`--model` names an `ft` model; `PEERS` builds the torchvision network of the same structure, adjusted
where the Keras original differs (ResNet's strides). Models without one are refused by name.
"""
import argparse
import json
import resource
import statistics
import sys
import time

import torch
import torchvision


def keras_resnet(depth: int, classes: int) -> torch.nn.Module:
    """The Keras ResNet (deep-learning-models v0.2): the stride of a stage's first block sits on its
    first 1x1 convolution, not on the 3x3 as in torchvision."""
    model = getattr(torchvision.models, f"resnet{depth}")(num_classes=classes)
    for stage in (model.layer2, model.layer3, model.layer4):
        block = stage[0]
        block.conv1.stride, block.conv2.stride = block.conv2.stride, (1, 1)
    return model


# ft model name (without a ".keras" suffix) -> torchvision network of the same structure. VGG: the same
# layers (torchvision's 7x7 adaptive pool is the identity at 224 px). DenseNet: the same blocks, growth
# and compression (the Keras files' separate Scale layers are BatchNorm's affine part here).
# Inception-V3: the same modules, without the auxiliary head (ft's has none either).
PEERS = {
    "resnet50": lambda c: keras_resnet(50, c),
    "resnet101": lambda c: keras_resnet(101, c),
    "resnet152": lambda c: keras_resnet(152, c),
    "vgg16": lambda c: torchvision.models.vgg16(num_classes=c),
    "vgg19": lambda c: torchvision.models.vgg19(num_classes=c),
    "densenet121": lambda c: torchvision.models.densenet121(num_classes=c),
    "densenet169": lambda c: torchvision.models.densenet169(num_classes=c),
    "densenet161": lambda c: torchvision.models.densenet161(num_classes=c),
    "inception_v3": lambda c: torchvision.models.inception_v3(num_classes=c, aux_logits=False, init_weights=False),
}


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
    parser.add_argument("--model", default="resnet50")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    peer = PEERS.get(args.model.removesuffix(".keras"))
    if peer is None:
        sys.exit(f"no PyTorch peer for {args.model} (peers: {', '.join(PEERS)})")
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = peer(args.classes)
    x = torch.rand(args.batch, 3, args.size, args.size) * 255
    y = torch.randint(0, args.classes, (args.batch,))
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
        "model": args.model,
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
