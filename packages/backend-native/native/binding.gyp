{
  "targets": [
    {
      "target_name": "ft_native",
      "sources": [
        "addon.cc",
        "conv.cc",
        "matmul.cc",
        "pool.cc",
        "batchnorm.cc",
        "optimizer.cc",
        "elementwise.cc",
        "reduce.cc",
        "layout.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-march=x86-64-v2", "-ffp-contract=off", "-fopenmp", "-fexceptions"],
      "ldflags": ["-fopenmp", "-Wl,-rpath,'$$ORIGIN'"],
      "libraries": ["-ldnnl"]
    }
  ]
}
