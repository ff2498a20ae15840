// BatchNorm over channels-last data: tfjs FusedBatchNorm (given statistics), and the training
// forward and backward passes fused the way PyTorch's kernels are. With tfjs's own ops a training
// BatchNorm is moments + normalise forward and about a dozen full-size passes backward (Tile,
// Square, Sub, Mul, and Adds that sum x's three gradient paths); fused it is 2 passes forward
// (statistics, normalise) and 2 backward (two sums per channel, then dx). Caffe's Scale layer, the
// per-channel affine map that follows every BatchNorm in Caffe-converted models, shares its loops.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "common.h"

namespace ft {
namespace {

/** Rows summed in float before each addition into the double totals: float loops vectorise without
 *  conversions, and 32 terms keep the float part's rounding near 1e-6 relative. */
constexpr int64_t kFloatBlockRows = 32;

/** Per-channel sums over the rows of [rows, C] data (`row` adds one row into float accumulators),
 *  totalled in double, split between threads by rows. */
template <typename RowFn>
void channelSums(int64_t rows, int64_t c, std::vector<double>& a, std::vector<double>& b, RowFn row) {
  const int threads = rows * c > (1 << 16) ? loopThreads() : 1;
  std::vector<double> partial(static_cast<size_t>(threads) * 2 * c, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    double* pa = partial.data() + static_cast<size_t>(t) * 2 * c;
    double* pb = pa + c;
    std::vector<float> block(2 * c);
    float* fa = block.data();
    float* fb = fa + c;
    const int64_t r0 = rows * t / nt, r1 = rows * (t + 1) / nt;
    for (int64_t start = r0; start < r1; start += kFloatBlockRows) {
      std::fill(block.begin(), block.end(), 0.f);
      const int64_t end = std::min(r1, start + kFloatBlockRows);
      for (int64_t r = start; r < end; r++) row(r, fa, fb);
      for (int64_t j = 0; j < c; j++) {
        pa[j] += fa[j];
        pb[j] += fb[j];
      }
    }
  }
  a.assign(c, 0.0);
  b.assign(c, 0.0);
  for (int t = 0; t < threads; t++) {
    const double* pa = partial.data() + static_cast<size_t>(t) * 2 * c;
    for (int64_t j = 0; j < c; j++) {
      a[j] += pa[j];
      b[j] += pa[c + j];
    }
  }
}

/** out[r, j] = x[r, j] * mul[j] + add[j] (and, with dy, + dy[r, j] * dyMul[j]) over [rows, C]. */
void affineRows(int64_t rows, int64_t c, const float* x, const float* mul, const float* add, float* out,
                const float* dy = nullptr, const float* dyMul = nullptr) {
#pragma omp parallel for schedule(static) if (rows * c > (1 << 16)) num_threads(loopThreads())
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    float* o = out + r * c;
    if (dy) {
      const float* g = dy + r * c;
      for (int64_t j = 0; j < c; j++) o[j] = g[j] * dyMul[j] + xr[j] * mul[j] + add[j];
    } else {
      for (int64_t j = 0; j < c; j++) o[j] = xr[j] * mul[j] + add[j];
    }
  }
}

// batchNorm(x, mean, variance, offset|null, scale|null, epsilon, out): tfjs FusedBatchNorm, where each
// parameter of length L is read at index i % L (normally L = channels, the last dimension).
Napi::Value BatchNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto lengthOf = [&](size_t i, const char* name, bool optional) -> int64_t {
    if (optional && (info[i].IsNull() || info[i].IsUndefined())) return 0;
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
      fail(env, std::string(name) + " must be a Float32Array");
    }
    int64_t n = static_cast<int64_t>(info[i].As<Napi::TypedArray>().ElementLength());
    if (n == 0) fail(env, std::string(name) + " is empty");
    return n;
  };
  if (info.Length() < 7) fail(env, "batchNorm takes 7 arguments");
  int64_t xn = lengthOf(0, "x", false);
  F32 x = f32Arg(info, 0, "x", xn);
  F32 mean = f32Arg(info, 1, "mean", lengthOf(1, "mean", false));
  F32 var = f32Arg(info, 2, "variance", lengthOf(2, "variance", false));
  F32 off = optionalF32Arg(info, 3, "offset", lengthOf(3, "offset", true));
  F32 sc = optionalF32Arg(info, 4, "scale", lengthOf(4, "scale", true));
  if (!info[5].IsNumber()) fail(env, "epsilon must be a number");
  const float eps = info[5].As<Napi::Number>().FloatValue();
  F32 out = f32Arg(info, 6, "out", xn);
  // Fast path: every parameter has the same length L dividing x (channels-last broadcast).
  const int64_t L = mean.length;
  bool uniform = var.length == L && (!off.data || off.length == L) && (!sc.data || sc.length == L) && xn % L == 0;
  if (uniform) {
    std::vector<float> mul(L), add(L);
    for (int64_t j = 0; j < L; j++) {
      mul[j] = (sc.data ? sc.data[j] : 1.f) / std::sqrt(var.data[j] + eps);
      add[j] = off.data ? off.data[j] : 0.f;
    }
    const int64_t rows = xn / L;
    const float *m = mul.data(), *a = add.data(), *mu = mean.data;
#pragma omp parallel for schedule(static) num_threads(loopThreads())
    for (int64_t r = 0; r < rows; r++) {
      const float* xi = x.data + r * L;
      float* o = out.data + r * L;
      for (int64_t j = 0; j < L; j++) o[j] = (xi[j] - mu[j]) * m[j] + a[j];
    }
  } else {
#pragma omp parallel for schedule(static) num_threads(loopThreads())
    for (int64_t i = 0; i < xn; i++) {
      float s = sc.data ? sc.data[i % sc.length] : 1.f;
      float o = off.data ? off.data[i % off.length] : 0.f;
      out.data[i] = o + (x.data[i] - mean.data[i % mean.length]) * s / std::sqrt(var.data[i % var.length] + eps);
    }
  }
  return env.Undefined();
}

/** Element count of argument `index` (a Float32Array), which must be a non-empty multiple of `c`. */
int64_t rowsOf(const Napi::CallbackInfo& info, size_t index, const char* name, int64_t c) {
  if (index >= info.Length() || !info[index].IsTypedArray()) fail(info.Env(), std::string(name) + " must be a Float32Array");
  const int64_t n = static_cast<int64_t>(info[index].As<Napi::TypedArray>().ElementLength());
  if (n == 0 || n % c != 0) {
    fail(info.Env(), std::string(name) + " has " + std::to_string(n) + " elements, not a positive multiple of " + std::to_string(c) + " channels");
  }
  return n / c;
}

/** Element count of argument `index` (a Float32Array of per-channel values): the channel count. */
int64_t channelsOf(const Napi::CallbackInfo& info, size_t index, const char* name) {
  if (index >= info.Length() || !info[index].IsTypedArray()) fail(info.Env(), std::string(name) + " must be a Float32Array");
  const int64_t c = static_cast<int64_t>(info[index].As<Napi::TypedArray>().ElementLength());
  if (c == 0) fail(info.Env(), std::string(name) + " is empty");
  return c;
}

float epsilonArg(const Napi::CallbackInfo& info, size_t index) {
  if (index >= info.Length() || !info[index].IsNumber()) fail(info.Env(), "epsilon must be a number");
  const double eps = info[index].As<Napi::Number>().DoubleValue();
  if (!(eps >= 0)) fail(info.Env(), "epsilon must be >= 0");
  return static_cast<float>(eps);
}

// batchNormTraining(x, channels, scale, offset, epsilon, y, mean, variance): statistics of x
// ([rows, C], C = channels) over its rows, mean and biased variance as tf.moments gives them, and
// y = (x - mean) * scale / sqrt(variance + epsilon) + offset.
Napi::Value BatchNormTraining(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 8) fail(env, "batchNormTraining takes (x, channels, scale, offset, epsilon, y, mean, variance)");
  const int64_t c = intArg(info, 1, "channels", 1, std::numeric_limits<int32_t>::max());
  const int64_t rows = rowsOf(info, 0, "x", c);
  const float* x = f32Arg(info, 0, "x", rows * c).data;
  const float* scale = f32Arg(info, 2, "scale", c).data;
  const float* offset = f32Arg(info, 3, "offset", c).data;
  const float eps = epsilonArg(info, 4);
  float* y = f32Arg(info, 5, "y", rows * c).data;
  float* mean = f32Arg(info, 6, "mean", c).data;
  float* variance = f32Arg(info, 7, "variance", c).data;

  // Sums of x − shift per channel, the shift being the mean of the first rows: one pass, without the
  // cancellation of Σx² − (Σx)²/N when the mean is large against the spread.
  const int64_t head = std::min(rows, kFloatBlockRows);
  std::vector<float> shift(c, 0.f);
  for (int64_t j = 0; j < c; j++) {
    double total = 0;
    for (int64_t r = 0; r < head; r++) total += x[r * c + j];
    shift[j] = static_cast<float>(total / head);
  }
  std::vector<double> sum, sumSquares;
  channelSums(rows, c, sum, sumSquares, [&](int64_t r, float* s, float* q) {
    const float* xr = x + r * c;
    for (int64_t j = 0; j < c; j++) {
      const float v = xr[j] - shift[j];
      s[j] += v;
      q[j] += v * v;
    }
  });
  std::vector<float> mul(c), add(c);
  for (int64_t j = 0; j < c; j++) {
    const double shifted = sum[j] / rows;
    const double m = shift[j] + shifted;
    const double v = std::max(0.0, sumSquares[j] / rows - shifted * shifted);
    mean[j] = static_cast<float>(m);
    variance[j] = static_cast<float>(v);
    const double k = scale[j] / std::sqrt(v + eps);
    mul[j] = static_cast<float>(k);
    add[j] = static_cast<float>(offset[j] - m * k);
  }
  affineRows(rows, c, x, mul.data(), add.data(), y);
  return env.Undefined();
}

// batchNormTrainingGrad(dy, x, mean, variance, scale, dMean, dVariance, epsilon, dx, dScale, dOffset):
// the gradient through x (batch statistics included), scale and offset of batchNormTraining, whose
// outputs y, mean and variance receive dy, dMean and dVariance:
//   dOffset = Σ dy, dScale = Σ dy·x̂, x̂ = (x − mean)/σ,
//   dx = scale/σ · (dy − dOffset/N − x̂ · dScale/N) + dMean/N + 2·dVariance·(x − mean)/N.
Napi::Value BatchNormTrainingGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 11) fail(env, "batchNormTrainingGrad takes (dy, x, mean, variance, scale, dMean, dVariance, epsilon, dx, dScale, dOffset, dxSums?)");
  const int64_t c = channelsOf(info, 2, "mean");
  const int64_t rows = rowsOf(info, 1, "x", c);
  const float* dy = f32Arg(info, 0, "dy", rows * c).data;
  const float* x = f32Arg(info, 1, "x", rows * c).data;
  const float* mean = f32Arg(info, 2, "mean", c).data;
  const float* variance = f32Arg(info, 3, "variance", c).data;
  const float* scale = f32Arg(info, 4, "scale", c).data;
  const float* dMean = f32Arg(info, 5, "dMean", c).data;
  const float* dVariance = f32Arg(info, 6, "dVariance", c).data;
  const float eps = epsilonArg(info, 7);
  float* dx = f32Arg(info, 8, "dx", rows * c).data;
  float* dScale = f32Arg(info, 9, "dScale", c).data;
  float* dOffset = f32Arg(info, 10, "dOffset", c).data;

  std::vector<double> sumDy, sumDyCentered;
  channelSums(rows, c, sumDy, sumDyCentered, [&](int64_t r, float* s, float* q) {
    const float* g = dy + r * c;
    const float* xr = x + r * c;
    for (int64_t j = 0; j < c; j++) {
      s[j] += g[j];
      q[j] += g[j] * (xr[j] - mean[j]);
    }
  });
  // dx = a·dy + b·x + d per channel: a = scale/σ, b = −a·dScale/(N·σ) + 2·dVariance/N, d = (−a·dOffset + dMean)/N − b·mean.
  std::vector<float> a(c), b(c), d(c);
  for (int64_t j = 0; j < c; j++) {
    const double invStd = 1.0 / std::sqrt(static_cast<double>(variance[j]) + eps);
    const double k = scale[j] * invStd;
    const double bj = (-k * sumDyCentered[j] * invStd * invStd + 2.0 * dVariance[j]) / rows;
    a[j] = static_cast<float>(k);
    b[j] = static_cast<float>(bj);
    d[j] = static_cast<float>((-k * sumDy[j] + dMean[j]) / rows - bj * mean[j]);
    dScale[j] = static_cast<float>(sumDyCentered[j] * invStd);
    dOffset[j] = static_cast<float>(sumDy[j]);
  }
  F32 dxSums = optionalF32Arg(info, 11, "dxSums", c);
  if (!dxSums.data) {
    affineRows(rows, c, x, b.data(), d.data(), dx, dy, a.data());
    return env.Undefined();
  }
  // The same dx, summed per channel as it is written (the bias gradient of a convolution before this BatchNorm).
  std::vector<double> sums, unused;
  const float* __restrict pa = a.data();
  const float* __restrict pb = b.data();
  const float* __restrict pd = d.data();
  channelSums(rows, c, sums, unused, [&](int64_t r, float* __restrict s, float*) {
    const float* __restrict g = dy + r * c;
    const float* __restrict xr = x + r * c;
    float* __restrict o = dx + r * c;
    for (int64_t j = 0; j < c; j++) {
      const float v = g[j] * pa[j] + xr[j] * pb[j] + pd[j];
      o[j] = v;
      s[j] += v;
    }
  });
  for (int64_t j = 0; j < c; j++) dxSums.data[j] = static_cast<float>(sums[j]);
  return env.Undefined();
}

// channelAffine(x, scale, offset, y): y = x·scale + offset per channel of x = [rows, C], C = scale.length
// (Caffe's Scale layer; with tfjs's ops a Multiply and an Add, two passes and a temporary).
Napi::Value ChannelAffine(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4) fail(env, "channelAffine takes (x, scale, offset, y)");
  const int64_t c = channelsOf(info, 1, "scale");
  const int64_t rows = rowsOf(info, 0, "x", c);
  affineRows(rows, c, f32Arg(info, 0, "x", rows * c).data, f32Arg(info, 1, "scale", c).data, f32Arg(info, 2, "offset", c).data,
             f32Arg(info, 3, "y", rows * c).data);
  return env.Undefined();
}

// channelAffineGrad(dy, x, scale, dx, dScale, dOffset): the gradient of channelAffine in one pass:
// dx = dy·scale, dScale = Σ dy·x, dOffset = Σ dy (tfjs's ops: two Multiplies and two Sums).
Napi::Value ChannelAffineGrad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6) fail(env, "channelAffineGrad takes (dy, x, scale, dx, dScale, dOffset)");
  const int64_t c = channelsOf(info, 2, "scale");
  const int64_t rows = rowsOf(info, 1, "x", c);
  const float* __restrict dy = f32Arg(info, 0, "dy", rows * c).data;
  const float* __restrict x = f32Arg(info, 1, "x", rows * c).data;
  const float* __restrict scale = f32Arg(info, 2, "scale", c).data;
  float* __restrict dx = f32Arg(info, 3, "dx", rows * c).data;
  float* dScale = f32Arg(info, 4, "dScale", c).data;
  float* dOffset = f32Arg(info, 5, "dOffset", c).data;
  std::vector<double> sumDy, sumDyX;
  channelSums(rows, c, sumDy, sumDyX, [&](int64_t r, float* __restrict s, float* __restrict q) {
    const float* __restrict g = dy + r * c;
    const float* __restrict xr = x + r * c;
    float* __restrict o = dx + r * c;
    for (int64_t j = 0; j < c; j++) {
      s[j] += g[j];
      q[j] += g[j] * xr[j];
      o[j] = g[j] * scale[j];
    }
  });
  for (int64_t j = 0; j < c; j++) {
    dScale[j] = static_cast<float>(sumDyX[j]);
    dOffset[j] = static_cast<float>(sumDy[j]);
  }
  return env.Undefined();
}

}  // namespace

void registerBatchNorm(Napi::Env env, Napi::Object exports) {
  FT_EXPORT(exports, env, "batchNorm", BatchNorm);
  FT_EXPORT(exports, env, "batchNormTraining", BatchNormTraining);
  FT_EXPORT(exports, env, "batchNormTrainingGrad", BatchNormTrainingGrad);
  FT_EXPORT(exports, env, "channelAffine", ChannelAffine);
  FT_EXPORT(exports, env, "channelAffineGrad", ChannelAffineGrad);
}

}  // namespace ft
