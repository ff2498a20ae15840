// Importing an architecture package registers its models with @ft/core.
import "@ft/vgg";
import "@ft/resnet";
import "@ft/inception";
import "@ft/densenet";
// Adds the oneDNN engine to backend selection; it is skipped, with the reason, when its addon is not built.
import "@ft/backend-native";
