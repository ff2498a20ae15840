// Shared helpers for the ft-native addon: argument checking that turns every bad call into a JS
// exception (never a crash), and the oneDNN engine/stream used by every primitive.
#pragma once

#include <napi.h>
#include <pthread.h>
#include <signal.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

namespace ft {

using Dims = std::vector<int64_t>;

/** The CPU engine and an in-order stream, created once. */
dnnl::engine& cpuEngine();
dnnl::stream& cpuStream();

/**
 * Threads for the memory-bound loops (elementwise, reductions, pooling, BatchNorm): every OpenMP
 * thread unless FT_NATIVE_LOOP_THREADS says otherwise (loops split only above ~1 MB of data).
 * 2 threads made a ResNet-50 224 px step ~15% faster than 1 here (8.4-9.4 against 7.3-8.0 img/s,
 * interleaved runs, libgomp's default waits).
 */
int loopThreads();

// Memory-bound loops split between threads (when loopThreads() > 1) only above this many elements:
// waking another OpenMP thread costs more than it saves on small tensors.
constexpr int64_t kParallelElements = 1 << 18;
inline bool parallel(int64_t elements) { return loopThreads() > 1 && elements > kParallelElements; }

/** A typed-array argument: pointer and element count (F32: Float32Array, I32: Int32Array). */
template <typename Element>
struct ArrayArg {
  Element* data = nullptr;
  int64_t length = 0;
};
using F32 = ArrayArg<float>;
using I32 = ArrayArg<int32_t>;

[[noreturn]] inline void fail(Napi::Env env, const std::string& message) {
  throw Napi::Error::New(env, "ft-native: " + message);
}

template <typename Element>
struct ArrayKind;
template <>
struct ArrayKind<float> {
  static constexpr napi_typedarray_type type = napi_float32_array;
  static constexpr const char* name = "a Float32Array";
};
template <>
struct ArrayKind<int32_t> {
  static constexpr napi_typedarray_type type = napi_int32_array;
  static constexpr const char* name = "an Int32Array";
};

/** Argument `index` as a typed array of `Element` with exactly `expected` elements. */
template <typename Element>
ArrayArg<Element> arrayArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t expected) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != ArrayKind<Element>::type) {
    fail(env, std::string(name) + " must be " + ArrayKind<Element>::name);
  }
  auto array = info[index].As<Napi::TypedArrayOf<Element>>();
  ArrayArg<Element> out{array.Data(), static_cast<int64_t>(array.ElementLength())};
  if (out.length != expected) {
    fail(env, std::string(name) + " has " + std::to_string(out.length) + " elements, expected " + std::to_string(expected));
  }
  return out;
}

/** The same, where null/undefined gives an empty one. */
template <typename Element>
ArrayArg<Element> optionalArrayArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t expected) {
  if (index >= info.Length() || info[index].IsNull() || info[index].IsUndefined()) return {};
  return arrayArg<Element>(info, index, name, expected);
}

inline F32 f32Arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t expected) {
  return arrayArg<float>(info, index, name, expected);
}

inline F32 optionalF32Arg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t expected) {
  return optionalArrayArg<float>(info, index, name, expected);
}

/** Argument `index` as an array of `count` integers in [min, max]. */
inline Dims intsArg(const Napi::CallbackInfo& info, size_t index, const char* name, size_t count, int64_t min = 1,
                    int64_t max = std::numeric_limits<int32_t>::max()) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsArray()) fail(env, std::string(name) + " must be an array of integers");
  auto array = info[index].As<Napi::Array>();
  if (array.Length() != count) {
    fail(env, std::string(name) + " must have " + std::to_string(count) + " entries, got " + std::to_string(array.Length()));
  }
  Dims out(count);
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber()) fail(env, std::string(name) + "[" + std::to_string(i) + "] is not a number");
    double d = v.As<Napi::Number>().DoubleValue();
    if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != static_cast<double>(static_cast<int64_t>(d))) {
      fail(env, std::string(name) + "[" + std::to_string(i) + "] = " + std::to_string(d) + " is not an integer in [" +
                    std::to_string(min) + ", " + std::to_string(max) + "]");
    }
    out[i] = static_cast<int64_t>(d);
  }
  return out;
}

inline int64_t intArg(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t min, int64_t max) {
  Napi::Env env = info.Env();
  if (index >= info.Length() || !info[index].IsNumber()) fail(env, std::string(name) + " must be a number");
  double d = info[index].As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != static_cast<double>(static_cast<int64_t>(d))) {
    fail(env, std::string(name) + " = " + std::to_string(d) + " is not an integer in range");
  }
  return static_cast<int64_t>(d);
}

inline bool boolArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsBoolean()) fail(info.Env(), std::string(name) + " must be a boolean");
  return info[index].As<Napi::Boolean>().Value();
}

/** Product of dims; every dim must be ≥ 1 (checked by intsArg) and the product must stay below 2^40. */
inline int64_t product(Napi::Env env, const Dims& dims, const char* name) {
  int64_t p = 1;
  for (int64_t d : dims) {
    if (d <= 0) fail(env, std::string(name) + " has a non-positive dimension");
    if (p > (int64_t(1) << 40) / d) fail(env, std::string(name) + " is too large");
    p *= d;
  }
  return p;
}

/**
 * Holds the asynchronous signals of the calling thread for its lifetime. oneDNN 2.x's JIT GEMM kernels
 * point rsp into the heap while they run (oneDNN issue #4845, fixed in 3.11.2), so a signal delivered
 * then writes its frame over heap memory: `node --cpu-prof` (SIGPROF every millisecond) aborted with
 * "corrupted size vs. prev_size", and a Ctrl-C could do the same. Held signals are delivered when the
 * addon returns; OpenMP's workers, created inside a call, inherit the mask and never receive one.
 * Faults (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) stay deliverable.
 */
class AsyncSignalsHeld {
 public:
  AsyncSignalsHeld() { pthread_sigmask(SIG_BLOCK, &asyncSignals(), &previous_); }
  ~AsyncSignalsHeld() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  AsyncSignalsHeld(const AsyncSignalsHeld&) = delete;
  AsyncSignalsHeld& operator=(const AsyncSignalsHeld&) = delete;

 private:
  static const sigset_t& asyncSignals() {
    static const sigset_t set = [] {
      sigset_t s;
      sigfillset(&s);
      for (int fault : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&s, fault);
      return s;
    }();
    return set;
  }
  sigset_t previous_;
};

/**
 * Wraps a binding so that oneDNN and C++ failures reach JavaScript as Errors (Napi::Error, which
 * the argument checks throw, passes through unchanged), with asynchronous signals held while it runs.
 */
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  AsyncSignalsHeld held;
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const dnnl::error& e) {
    fail(info.Env(), std::string("oneDNN failed: ") + e.what());
  } catch (const std::bad_alloc&) {
    fail(info.Env(), "out of memory");
  } catch (const std::exception& e) {
    fail(info.Env(), e.what());
  }
}

#define FT_EXPORT(exports, env, name, fn) (exports).Set(name, Napi::Function::New(env, ::ft::guarded<fn>, name))

// Each module registers its functions on the exports object.
void registerConv(Napi::Env env, Napi::Object exports);
void registerMatMul(Napi::Env env, Napi::Object exports);
void registerPool(Napi::Env env, Napi::Object exports);
void registerBatchNorm(Napi::Env env, Napi::Object exports);
void registerOptimizer(Napi::Env env, Napi::Object exports);
void registerElementwise(Napi::Env env, Napi::Object exports);
void registerReduce(Napi::Env env, Napi::Object exports);
void registerLayout(Napi::Env env, Napi::Object exports);

}  // namespace ft
