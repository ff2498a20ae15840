// Importing an architecture package registers its models with @ft/core.
import "@ft/vgg";
import "@ft/resnet";
import "@ft/inception";
import "@ft/densenet";
