{
  "variables": {
    "napi_include": "<!(node -p \"require('node-addon-api').include_dir\")",
    "common_cflags": ["-std=c++17", "-O3", "-fopenmp-simd", "-fexceptions", "-Wall", "-Wextra"]
  },
  "targets": [
    {
      "target_name": "adpc_native",
      "sources": [
        "src/binding.cc", "src/executor.cc", "src/program.cc", "src/row_ops.cc",
        "kernels/isa.cc", "kernels/conv.cc", "kernels/conv_scalar.cc", "kernels/thread_pool.cc"
      ],
      "include_dirs": ["<(napi_include)", "."],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_ENABLE_TYPE_CHECK_ON_AS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["<@(common_cflags)"],
      "libraries": ["-pthread"],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["adpc_kernels_avx2", "adpc_kernels_avx512"]}],
        ["target_arch=='arm64'", {"sources": ["kernels/conv_neon.cc"]}]
      ]
    }
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          # Only the per-ISA units get ISA flags: everything else runs on any x86-64 CPU,
          # and detect_isa() picks these at run time.
          "target_name": "adpc_kernels_avx2",
          "type": "static_library",
          "sources": ["kernels/conv_avx2.cc"],
          "include_dirs": ["."],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
          "cflags_cc": ["<@(common_cflags)", "-fPIC", "-mavx2", "-mfma"]
        },
        {
          "target_name": "adpc_kernels_avx512",
          "type": "static_library",
          "sources": ["kernels/conv_avx512.cc"],
          "include_dirs": ["."],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
          "cflags_cc": ["<@(common_cflags)", "-fPIC", "-mavx512f", "-mfma"]
        }
      ]
    }]
  ]
}
