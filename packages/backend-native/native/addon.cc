// Entry point of the ft-native addon: kernels for the `ft-native` TensorFlow.js backend.
#include <malloc.h>
#include <omp.h>

#include <cstdlib>
#include <cstring>

#include "common.h"

namespace ft {

dnnl::engine& cpuEngine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::stream& cpuStream() {
  static dnnl::stream stream(cpuEngine());
  return stream;
}

int loopThreads() {
  static int threads = [] {
    const char* v = std::getenv("FT_NATIVE_LOOP_THREADS");
    int n = v ? std::atoi(v) : omp_get_max_threads();
    return n >= 1 ? n : 1;
  }();
  return threads;
}

namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const dnnl_version_t* v = dnnl_version();
  out.Set("onednn", std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch));
  out.Set("threads", omp_get_max_threads());
  out.Set("loopThreads", loopThreads());
  out.Set("cpuIsa", static_cast<double>(static_cast<int>(dnnl::get_effective_cpu_isa())));
#ifdef FT_SANITIZER
  out.Set("sanitizer", FT_SANITIZER);  // scripts/build-sanitized.mjs
#endif
  return out;
}

/**
 * Every kernel output is a fresh Float32Array, which Node allocates with calloc. glibc serves
 * blocks above its mmap threshold with fresh mappings and returns freed heap tops to the OS, so
 * each large output page-faults in again: on this VM that cost more than the arithmetic (a 2 MB
 * multiply took 2-10 ms instead of 0.4 ms). Keep freed memory in the heap instead: blocks up to
 * 32 MB (glibc's maximum threshold) come from the heap and freed memory is not trimmed. Peak RSS
 * is unchanged (the memory was needed anyway); FT_NATIVE_MALLOC=default keeps glibc's policy.
 */
void tuneMalloc() {
  const char* mode = std::getenv("FT_NATIVE_MALLOC");
  if (mode && std::strcmp(mode, "default") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tuneMalloc();
  FT_EXPORT(exports, env, "info", Info);
  registerConv(env, exports);
  registerMatMul(env, exports);
  registerPool(env, exports);
  registerBatchNorm(env, exports);
  registerOptimizer(env, exports);
  registerElementwise(env, exports);
  registerReduce(env, exports);
  registerLayout(env, exports);
  return exports;
}

}  // namespace
}  // namespace ft

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return ft::Init(env, exports); }

NODE_API_MODULE(ft_native, InitAddon)
