// Importing an architecture package registers its models with @ft/core.
import "@ft/vgg";
import "@ft/resnet";
import "@ft/inception";
import "@ft/densenet";
// Lets --data cifar10 (and an extracted cifar-10-batches-bin folder) open CIFAR-10.
import "@ft/cifar10";
// Adds the oneDNN engine to backend selection; it is skipped, with the reason, when its addon is not built.
import "@ft/backend-native";
