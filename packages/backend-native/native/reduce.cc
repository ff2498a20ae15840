// Reductions: Sum/Mean over one axis, Softmax over the last, and BatchNorm's centred dot product.
// Sums accumulate in double, as tfjs's cpu kernels do in JS numbers.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "common.h"

namespace ft {
namespace {
// reduce(x, [outer, length, inner], out, mean): out[o, i] = Σ_r x[o, r, i] (÷ length for a mean),
// accumulated in double.
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Dims s = intsArg(info, 1, "shape", 3);
  const int64_t outer = s[0], length = s[1], inner = s[2];
  const float* x = f32Arg(info, 0, "x", product(env, s, "x")).data;
  float* out = f32Arg(info, 2, "out", outer * inner).data;
  const bool mean = boolArg(info, 3, "mean");
  auto finish = [&](double sum) {
    const float f = static_cast<float>(sum);
    return mean ? f / static_cast<float>(length) : f;
  };
  if (inner == 1) {
#pragma omp parallel for schedule(static) if (parallel(outer * length)) num_threads(loopThreads())
    for (int64_t o = 0; o < outer; o++) {
      double acc = 0;
      const float* p = x + o * length;
      for (int64_t r = 0; r < length; r++) acc += p[r];
      out[o] = finish(acc);
    }
    return env.Undefined();
  }
  const int threads = parallel(outer * length * inner) ? loopThreads() : 1;
  if (outer >= threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t o = 0; o < outer; o++) {
      std::vector<double> acc(inner, 0.0);
      for (int64_t r = 0; r < length; r++) {
        const float* p = x + (o * length + r) * inner;
        for (int64_t i = 0; i < inner; i++) acc[i] += p[i];
      }
      for (int64_t i = 0; i < inner; i++) out[o * inner + i] = finish(acc[i]);
    }
    return env.Undefined();
  }
  // Few outer rows (e.g. a sum over N,H,W to channels): each thread sums a slice of `length`.
  for (int64_t o = 0; o < outer; o++) {
    std::vector<double> partial(static_cast<size_t>(threads) * inner, 0.0);
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
      double* acc = partial.data() + static_cast<size_t>(t) * inner;
      const int64_t r0 = length * t / nt, r1 = length * (t + 1) / nt;
      for (int64_t r = r0; r < r1; r++) {
        const float* p = x + (o * length + r) * inner;
        for (int64_t i = 0; i < inner; i++) acc[i] += p[i];
      }
    }
    for (int64_t i = 0; i < inner; i++) {
      double sum = 0;
      for (int t = 0; t < threads; t++) sum += partial[static_cast<size_t>(t) * inner + i];
      out[o * inner + i] = finish(sum);
    }
  }
  return env.Undefined();
}

// softmax(x, [rows, length], out): softmax over the last axis, row by row: exp(x - max) / Σ exp(x - max),
// the exponentials computed and summed in double as tfjs's cpu kernel does in JS numbers.
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Dims s = intsArg(info, 1, "shape", 2);
  const int64_t rows = s[0], length = s[1];
  const float* x = f32Arg(info, 0, "x", product(env, s, "x")).data;
  float* out = f32Arg(info, 2, "out", rows * length).data;
#pragma omp parallel for schedule(static) if (parallel(rows * length)) num_threads(loopThreads())
  for (int64_t r = 0; r < rows; r++) {
    const float* p = x + r * length;
    float* o = out + r * length;
    float top = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < length; i++) top = std::max(top, p[i]);
    double sum = 0;
    for (int64_t i = 0; i < length; i++) {
      const float e = static_cast<float>(std::exp(static_cast<double>(p[i] - top)));
      o[i] = e;
      sum += e;
    }
    const float total = static_cast<float>(sum);
    for (int64_t i = 0; i < length; i++) o[i] /= total;
  }
  return env.Undefined();
}

// centeredDot(x, mean, dy, out): out[c] = sum over rows of dy[r, c] * (x[r, c] - mean[c]), x and
// dy of shape [rows, C] (BatchNorm's scale and variance gradients in one pass), double accumulation.
Napi::Value CenteredDot(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsTypedArray()) fail(env, "centeredDot takes (x, mean, dy, out)");
  const int64_t n = static_cast<int64_t>(info[0].As<Napi::TypedArray>().ElementLength());
  const int64_t c = static_cast<int64_t>(info[1].As<Napi::TypedArray>().ElementLength());
  if (c == 0 || n % c != 0) fail(env, "x has " + std::to_string(n) + " elements, not a multiple of mean's " + std::to_string(c));
  const float* x = f32Arg(info, 0, "x", n).data;
  const float* mean = f32Arg(info, 1, "mean", c).data;
  const float* dy = f32Arg(info, 2, "dy", n).data;
  float* out = f32Arg(info, 3, "out", c).data;
  std::vector<double> acc(c, 0.0);
  const int64_t rows = n / c;
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    const float* gr = dy + r * c;
    for (int64_t j = 0; j < c; j++) acc[j] += static_cast<double>(gr[j] * (xr[j] - mean[j]));
  }
  for (int64_t j = 0; j < c; j++) out[j] = static_cast<float>(acc[j]);
  return env.Undefined();
}

}  // namespace

void registerReduce(Napi::Env env, Napi::Object exports) {
  FT_EXPORT(exports, env, "reduce", Reduce);
  FT_EXPORT(exports, env, "softmax", Softmax);
  FT_EXPORT(exports, env, "centeredDot", CenteredDot);
}

}  // namespace ft
