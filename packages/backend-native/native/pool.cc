// 2-D max/avg pooling and their gradients (NHWC), written as loops that reproduce the TensorFlow.js
// cpu kernels: avg pooling divides by the number of in-bounds pixels, and so does its gradient (the
// true gradient, as in TensorFlow and @ft/core's cpu kernel; tfjs's stock cpu kernel divides by the
// full window), and max pooling routes the gradient to the first strict maximum of each window in
// row-major window order (ties after relu included).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common.h"

namespace ft {
namespace {

struct PoolGeometry {
  int64_t n, h, w, c;
  int64_t kh, kw, sh, sw, pt, pl, oh, ow;
  int64_t xSize() const { return n * h * w * c; }
  int64_t ySize() const { return n * oh * ow * c; }
};

// Reads xShape [N,H,W,C] and geometry [filterH, filterW, strideH, strideW, padTop, padLeft, outH, outW].
// Windows are clamped to the input, so any geometry is memory-safe.
PoolGeometry readPool(const Napi::CallbackInfo& info, size_t index) {
  Dims xs = intsArg(info, index, "xShape", 4);
  Dims g = intsArg(info, index + 1, "geometry", 8, 0);
  Napi::Env env = info.Env();
  if (g[0] < 1 || g[1] < 1 || g[2] < 1 || g[3] < 1 || g[6] < 1 || g[7] < 1) fail(env, "pool filter, strides and output size must be >= 1");
  product(env, xs, "x");
  product(env, {xs[0], g[6], g[7], xs[3]}, "y");
  return {xs[0], xs[1], xs[2], xs[3], g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]};
}

// maxPool(x, xShape, geometry, y, argmax|null) / avgPool(x, xShape, geometry, y). argmax, when
// given (x must have fewer than 2^31 elements), receives the index into x of each output's first
// strict maximum, -1 where the window has none: what maxPoolGradFromArgmax routes the gradient to.
template <bool IsMax>
Napi::Value Pool(const Napi::CallbackInfo& info) {
  PoolGeometry g = readPool(info, 1);
  const float* x = f32Arg(info, 0, "x", g.xSize()).data;
  float* y = f32Arg(info, 3, "y", g.ySize()).data;
  int32_t* argmax = IsMax ? optionalArrayArg<int32_t>(info, 4, "argmax", g.ySize()).data : nullptr;
  if (argmax && g.xSize() > std::numeric_limits<int32_t>::max()) fail(info.Env(), "argmax needs x below 2^31 elements");
  const int64_t C = g.c;
#pragma omp parallel for collapse(2) schedule(static) num_threads(loopThreads())
  for (int64_t b = 0; b < g.n; b++) {
    for (int64_t yr = 0; yr < g.oh; yr++) {
      const int64_t r0 = yr * g.sh - g.pt, rMin = std::max<int64_t>(0, r0), rMax = std::min(g.h, r0 + g.kh);
      for (int64_t yc = 0; yc < g.ow; yc++) {
        const int64_t c0 = yc * g.sw - g.pl, cMin = std::max<int64_t>(0, c0), cMax = std::min(g.w, c0 + g.kw);
        const int64_t offset = ((b * g.oh + yr) * g.ow + yc) * C;
        float* out = y + offset;
        const float init = IsMax ? -std::numeric_limits<float>::infinity() : 0.f;
        for (int64_t d = 0; d < C; d++) out[d] = init;
        if (argmax) std::fill(argmax + offset, argmax + offset + C, -1);
        int64_t count = 0;
        for (int64_t r = rMin; r < rMax; r++) {
          for (int64_t cc = cMin; cc < cMax; cc++) {
            const int64_t base = ((b * g.h + r) * g.w + cc) * C;
            const float* px = x + base;
            if (IsMax && argmax) {
              // Branch-free, so that it vectorizes: after relu, which pixel wins is a coin toss.
              int32_t* at = argmax + offset;
              const int32_t first = static_cast<int32_t>(base);
              for (int32_t d = 0; d < static_cast<int32_t>(C); d++) {
                const float v = px[d], o = out[d];
                const int32_t better = -static_cast<int32_t>(v > o);  // all ones or zero
                out[d] = v > o ? v : o;
                at[d] = (at[d] & ~better) | ((first + d) & better);
              }
            } else if (IsMax) {
              for (int64_t d = 0; d < C; d++) out[d] = px[d] > out[d] ? px[d] : out[d];
            } else {
              for (int64_t d = 0; d < C; d++) out[d] += px[d];
            }
            count++;
          }
        }
        if (!IsMax) {
          const float n = static_cast<float>(count);  // 0 gives NaN, as in tfjs
          for (int64_t d = 0; d < C; d++) out[d] /= n;
        }
      }
    }
  }
  return info.Env().Undefined();
}

constexpr int64_t kChannelBlock = 64;

// maxPoolGrad(dy, xShape, geometry, x, dx): dx = 0, then each window's dy goes to the first strict
// maximum of x in that window. Work is split by (batch, channel block): those write disjoint dx.
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  PoolGeometry g = readPool(info, 1);
  const float* dy = f32Arg(info, 0, "dy", g.ySize()).data;
  const float* x = f32Arg(info, 3, "x", g.xSize()).data;
  float* dx = f32Arg(info, 4, "dx", g.xSize()).data;
  const int64_t C = g.c, blocks = (C + kChannelBlock - 1) / kChannelBlock;
  std::fill(dx, dx + g.xSize(), 0.f);
#pragma omp parallel for collapse(2) schedule(static) num_threads(loopThreads())
  for (int64_t b = 0; b < g.n; b++) {
    for (int64_t blk = 0; blk < blocks; blk++) {
      const int64_t d0 = blk * kChannelBlock, dn = std::min(kChannelBlock, C - d0);
      float best[kChannelBlock];
      int64_t where[kChannelBlock];
      for (int64_t yr = 0; yr < g.oh; yr++) {
        const int64_t r0 = yr * g.sh - g.pt, rMin = std::max<int64_t>(0, r0), rMax = std::min(g.h, r0 + g.kh);
        for (int64_t yc = 0; yc < g.ow; yc++) {
          const int64_t c0 = yc * g.sw - g.pl, cMin = std::max<int64_t>(0, c0), cMax = std::min(g.w, c0 + g.kw);
          for (int64_t d = 0; d < dn; d++) {
            best[d] = -std::numeric_limits<float>::infinity();
            where[d] = -1;
          }
          for (int64_t r = rMin; r < rMax; r++) {
            for (int64_t cc = cMin; cc < cMax; cc++) {
              const int64_t base = ((b * g.h + r) * g.w + cc) * C + d0;
              for (int64_t d = 0; d < dn; d++) {
                if (x[base + d] > best[d]) {
                  best[d] = x[base + d];
                  where[d] = base + d;
                }
              }
            }
          }
          const float* g0 = dy + ((b * g.oh + yr) * g.ow + yc) * C + d0;
          for (int64_t d = 0; d < dn; d++) {
            if (where[d] >= 0) dx[where[d]] += g0[d];
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}

// maxPoolGradFromArgmax(dy, xShape, geometry, argmax, dx): dx = 0, then dy[i] goes to x[argmax[i]]
// (argmax from maxPool on the same x and geometry). Work is split by image: with argmax from
// maxPool, image b's indices all point into image b. Indices outside x are refused.
Napi::Value MaxPoolGradFromArgmax(const Napi::CallbackInfo& info) {
  PoolGeometry g = readPool(info, 1);
  const float* dy = f32Arg(info, 0, "dy", g.ySize()).data;
  I32 argmax = arrayArg<int32_t>(info, 3, "argmax", g.ySize());
  float* dx = f32Arg(info, 4, "dx", g.xSize()).data;
  const int64_t perImageX = g.h * g.w * g.c, perImageY = g.oh * g.ow * g.c;
  std::fill(dx, dx + g.xSize(), 0.f);
  int64_t outside = 0;
#pragma omp parallel for schedule(static) reduction(+ : outside) num_threads(loopThreads())
  for (int64_t b = 0; b < g.n; b++) {
    const int64_t lo = b * perImageX, hi = lo + perImageX;
    for (int64_t i = b * perImageY; i < (b + 1) * perImageY; i++) {
      const int64_t at = argmax.data[i];
      if (at >= lo && at < hi) {
        dx[at] += dy[i];
      } else if (at != -1) {
        outside++;
      }
    }
  }
  if (outside > 0) fail(info.Env(), std::to_string(outside) + " argmax entries point outside their image of x");
  return info.Env().Undefined();
}

// avgPoolGrad(dy, xShape, geometry, dx): each window spreads dy / (its in-bounds pixels) over them.
// Work is split by image: images write disjoint dx.
Napi::Value AvgPoolGrad(const Napi::CallbackInfo& info) {
  PoolGeometry g = readPool(info, 1);
  const float* dy = f32Arg(info, 0, "dy", g.ySize()).data;
  float* dx = f32Arg(info, 3, "dx", g.xSize()).data;
  const int64_t C = g.c;
  std::fill(dx, dx + g.xSize(), 0.f);
#pragma omp parallel for schedule(static) num_threads(loopThreads())
  for (int64_t b = 0; b < g.n; b++) {
    for (int64_t yr = 0; yr < g.oh; yr++) {
      const int64_t r0 = yr * g.sh - g.pt, rMin = std::max<int64_t>(0, r0), rMax = std::min(g.h, r0 + g.kh);
      for (int64_t yc = 0; yc < g.ow; yc++) {
        const int64_t c0 = yc * g.sw - g.pl, cMin = std::max<int64_t>(0, c0), cMax = std::min(g.w, c0 + g.kw);
        const int64_t count = (rMax - rMin) * (cMax - cMin);
        if (count <= 0) continue;
        const float scale = 1.f / static_cast<float>(count);
        const float* g0 = dy + ((b * g.oh + yr) * g.ow + yc) * C;
        for (int64_t r = rMin; r < rMax; r++) {
          for (int64_t cc = cMin; cc < cMax; cc++) {
            float* out = dx + ((b * g.h + r) * g.w + cc) * C;
            for (int64_t d = 0; d < C; d++) out[d] += g0[d] * scale;
          }
        }
      }
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void registerPool(Napi::Env env, Napi::Object exports) {
  FT_EXPORT(exports, env, "maxPool", Pool<true>);
  FT_EXPORT(exports, env, "avgPool", Pool<false>);
  FT_EXPORT(exports, env, "maxPoolGrad", MaxPoolGrad);
  FT_EXPORT(exports, env, "maxPoolGradFromArgmax", MaxPoolGradFromArgmax);
  FT_EXPORT(exports, env, "avgPoolGrad", AvgPoolGrad);
}

}  // namespace ft
