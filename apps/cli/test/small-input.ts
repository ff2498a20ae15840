import type { InputShape } from "@ft/core";

/**
 * A small input at which every BatchNormalization layer, the last included, normalises over at least 2×2
 * positions of each of the two images. At a 1×1 feature map a batch of 2 gives two values per channel, and
 * their difference is mostly rounding error: at 32 px, ResNet-50's last BN output differs from wasm's by
 * 3e-1 on the cpu backend and 5e-1 on ft-native. GoogLeNet (no BN) needs 96 px for its auxiliary heads;
 * VGG (no BN) runs at CIFAR's 32 px.
 */
export function smallInput(name: string): InputShape {
  if (name === "googlenet") return [96, 96, 3];
  if (name.startsWith("inception")) return [107, 107, 3];
  if (name.startsWith("resnet") || name.startsWith("densenet")) return [64, 64, 3];
  return [32, 32, 3];
}
