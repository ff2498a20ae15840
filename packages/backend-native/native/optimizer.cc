// The Keras-1 SGD and Adam updates of @ft/core's optimisers, one pass over each parameter instead of
// the six to nine full-size tensor ops tfjs runs per parameter. Every operation rounds to float32 in
// the order core's tensor code uses (no fused multiply-add), so both give the same bits.
#include <cmath>

#include "common.h"

namespace ft {
namespace {

constexpr int64_t kParallelElements = 1 << 16;

int64_t lengthOf(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsTypedArray()) fail(info.Env(), std::string(name) + " must be a Float32Array");
  return static_cast<int64_t>(info[index].As<Napi::TypedArray>().ElementLength());
}

float floatArg(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsNumber()) fail(info.Env(), std::string(name) + " must be a number");
  return info[index].As<Napi::Number>().FloatValue();
}

// sgdUpdate(param, velocity, grad, lr, momentum, nesterov, nextParam, nextVelocity):
//   v' = momentum·v − lr·g;  p' = p + momentum·v' − lr·g (Nesterov) or p + v'.
Napi::Value SgdUpdate(const Napi::CallbackInfo& info) {
  if (info.Length() < 8) fail(info.Env(), "sgdUpdate takes (param, velocity, grad, lr, momentum, nesterov, nextParam, nextVelocity)");
  const int64_t n = lengthOf(info, 0, "param");
  const float* p = f32Arg(info, 0, "param", n).data;
  const float* v = f32Arg(info, 1, "velocity", n).data;
  const float* g = f32Arg(info, 2, "grad", n).data;
  const float lr = floatArg(info, 3, "lr"), m = floatArg(info, 4, "momentum");
  const bool nesterov = boolArg(info, 5, "nesterov");
  float* pOut = f32Arg(info, 6, "nextParam", n).data;
  float* vOut = f32Arg(info, 7, "nextVelocity", n).data;
#pragma omp parallel for schedule(static) if (n > kParallelElements) num_threads(loopThreads())
  for (int64_t i = 0; i < n; i++) {
    const float step = g[i] * lr;
    const float vi = v[i] * m - step;
    vOut[i] = vi;
    pOut[i] = nesterov ? (p[i] + vi * m) - step : p[i] + vi;
  }
  return info.Env().Undefined();
}

// adamUpdate(param, m, v, grad, lrCorrected, beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon, nextParam, nextM, nextV):
//   m' = β1·m + (1−β1)·g;  v' = β2·v + (1−β2)·g²;  p' = p − (lrCorrected·m') / (√v' + ε).
// 1 − β arrive precomputed, rounded to float32 as core's tensor code rounds them.
Napi::Value AdamUpdate(const Napi::CallbackInfo& info) {
  if (info.Length() < 13) fail(info.Env(), "adamUpdate takes 13 arguments");
  const int64_t n = lengthOf(info, 0, "param");
  const float* p = f32Arg(info, 0, "param", n).data;
  const float* m = f32Arg(info, 1, "m", n).data;
  const float* v = f32Arg(info, 2, "v", n).data;
  const float* g = f32Arg(info, 3, "grad", n).data;
  const float lr = floatArg(info, 4, "lrCorrected"), b1 = floatArg(info, 5, "beta1"), c1 = floatArg(info, 6, "oneMinusBeta1");
  const float b2 = floatArg(info, 7, "beta2"), c2 = floatArg(info, 8, "oneMinusBeta2"), eps = floatArg(info, 9, "epsilon");
  float* pOut = f32Arg(info, 10, "nextParam", n).data;
  float* mOut = f32Arg(info, 11, "nextM", n).data;
  float* vOut = f32Arg(info, 12, "nextV", n).data;
#pragma omp parallel for schedule(static) if (n > kParallelElements) num_threads(loopThreads())
  for (int64_t i = 0; i < n; i++) {
    const float mi = m[i] * b1 + g[i] * c1;
    const float vi = v[i] * b2 + (g[i] * g[i]) * c2;
    mOut[i] = mi;
    vOut[i] = vi;
    pOut[i] = p[i] - (mi * lr) / (std::sqrt(vi) + eps);
  }
  return info.Env().Undefined();
}

}  // namespace

void registerOptimizer(Napi::Env env, Napi::Object exports) {
  FT_EXPORT(exports, env, "sgdUpdate", SgdUpdate);
  FT_EXPORT(exports, env, "adamUpdate", AdamUpdate);
}

}  // namespace ft
