import { describeRegistrySchema } from "@ft/model-proofs/registry-schema";
import { PARAMETER_COUNTS } from "./index.js";

/**
 * Schema test over every model this package registers (torchvision style): each spec and weight record
 * carries its mandatory fields, and the declared metadata agrees with the model actually built.
 */
describeRegistrySchema("inception", ["googlenet", "inception_v3", "inception_v3.keras", "inception_v4"], PARAMETER_COUNTS);
