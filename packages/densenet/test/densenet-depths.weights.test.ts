import "../src/index.js";
import { describeLoadingProof } from "@ft/model-proofs/layout-proof";

/** The other depths share the builder's code with DenseNet-121; their files differ in size and names only. */
for (const depth of ["densenet169", "densenet161"]) {
  describeLoadingProof({
    model: depth,
    files: [`${depth}_th`, `${depth}_tf`],
    generator: "generate_densenet.py",
    input: [-2.2, 2.2],
    probeLayers: ["pool2", "relu5_blk", "fc6"],
    reloadedClasses: ["Scale"],
    h5pyStructureCheck: false, // the structures come from the same generator code as DenseNet-121's, checked there
  });
}

for (const depth of ["densenet169", "densenet201"]) {
  describeLoadingProof({
    model: `${depth}.keras`,
    files: [`${depth}.keras_tf`],
    generator: "generate_densenet.py",
    input: [-2.2, 2.7],
    probeLayers: ["pool2_pool", "relu", "avg_pool"],
    h5pyStructureCheck: false,
  });
}
