import { describeRegistrySchema } from "@ft/model-proofs/registry-schema";
import { PARAMETER_COUNTS } from "./index.js";

/**
 * Schema test over every model this package registers (torchvision style): each spec and weight record
 * carries its mandatory fields, and the declared metadata agrees with the model actually built.
 */
describeRegistrySchema("densenet", ["densenet121", "densenet121.keras", "densenet161", "densenet169", "densenet169.keras", "densenet201.keras"], PARAMETER_COUNTS);
