// Elementwise ops, reductions and tiling: what dominates a training step once convolutions run in
// oneDNN (BatchNorm's gradient alone is a dozen broadcasting Mul/Add/Sub and Sum/Mean over N,H,W).
// Arithmetic is float32 per element, like the cpu kernels (whose double intermediates round to the
// same float32 for a single +, -, *, /); sums accumulate in double, as the cpu kernels do.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "common.h"

namespace ft {
namespace {

// Memory-bound loops split between threads (when loopThreads() > 1) only above this many elements:
// waking another OpenMP thread costs more than it saves on small tensors.
constexpr int64_t kParallelElements = 1 << 18;

bool parallel(int64_t elements) { return loopThreads() > 1 && elements > kParallelElements; }

enum class BinaryOp { Add = 0, Sub, Mul, Div, Max, Min, SquaredDifference, ReluGrad, SquareGrad };

template <BinaryOp Op>
inline float apply(float a, float b) {
  if constexpr (Op == BinaryOp::Add) return a + b;
  if constexpr (Op == BinaryOp::Sub) return a - b;
  if constexpr (Op == BinaryOp::Mul) return a * b;
  if constexpr (Op == BinaryOp::Div) return a / b;
  // tfjs Maximum/Minimum: NaN propagates from either side.
  if constexpr (Op == BinaryOp::Max) return (std::isnan(a) || std::isnan(b)) ? NAN : (a > b ? a : b);
  if constexpr (Op == BinaryOp::Min) return (std::isnan(a) || std::isnan(b)) ? NAN : (a < b ? a : b);
  if constexpr (Op == BinaryOp::SquaredDifference) return (a - b) * (a - b);
  // Gradients, a = dy and b = x, equal to tfjs's mul(dy, step(x)) and mul(dy, mul(x, 2)) exactly.
  // step(x) as selects (b != b is isnan) so that the loop vectorizes.
  if constexpr (Op == BinaryOp::ReluGrad) {
    float step = b > 0.f ? 1.f : 0.f;
    step = b != b ? b : step;
    return a * step;
  }
  if constexpr (Op == BinaryOp::SquareGrad) return a * (b * 2.f);
}

/**
 * out[i] = a[i*sa] op b[i*sb] over `n` elements, for the stride pairs (1,1), (1,0), (0,1): written
 * out separately so each inner loop vectorizes.
 */
template <BinaryOp Op>
inline void runRow(const float* a, int64_t sa, const float* b, int64_t sb, float* out, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; i++) out[i] = apply<Op>(a[i], b[i]);
  } else if (sa == 1) {
    const float bv = b[0];
    for (int64_t i = 0; i < n; i++) out[i] = apply<Op>(a[i], bv);
  } else if (sb == 1) {
    const float av = a[0];
    for (int64_t i = 0; i < n; i++) out[i] = apply<Op>(av, b[i]);
  } else {
    const float v = apply<Op>(a[0], b[0]);
    for (int64_t i = 0; i < n; i++) out[i] = v;
  }
}

/** Collapsed broadcast: dims with per-input strides (0 where broadcast), adjacent compatible dims merged. */
struct Broadcast {
  std::vector<int64_t> dims, sa, sb;
  int64_t total = 1;
};

Broadcast plan(Napi::Env env, const Dims& as, const Dims& bs, const Dims& os) {
  const size_t rank = os.size();
  if (as.size() != rank || bs.size() != rank) fail(env, "shapes must have the output's rank");
  std::vector<int64_t> dims, sa, sb;
  int64_t strideA = 1, strideB = 1;
  std::vector<int64_t> rsA(rank), rsB(rank);
  for (size_t k = rank; k-- > 0;) {
    if (!(as[k] == os[k] || as[k] == 1) || !(bs[k] == os[k] || bs[k] == 1)) fail(env, "shapes do not broadcast to the output shape");
    rsA[k] = as[k] == 1 ? 0 : strideA;
    rsB[k] = bs[k] == 1 ? 0 : strideB;
    strideA *= as[k];
    strideB *= bs[k];
  }
  Broadcast p;
  for (size_t k = 0; k < rank; k++) {
    if (os[k] == 1) continue;
    // Merge with the previous (outer) dim when, for both inputs, outer stride = inner stride * inner dim.
    if (!p.dims.empty()) {
      size_t last = p.dims.size() - 1;
      bool okA = p.sa[last] == rsA[k] * os[k], okB = p.sb[last] == rsB[k] * os[k];
      if (okA && okB) {
        p.dims[last] *= os[k];
        p.sa[last] = rsA[k];
        p.sb[last] = rsB[k];
        continue;
      }
    }
    p.dims.push_back(os[k]);
    p.sa.push_back(rsA[k]);
    p.sb.push_back(rsB[k]);
  }
  if (p.dims.empty()) {
    p.dims = {1};
    p.sa = {0};
    p.sb = {0};
  }
  for (int64_t d : p.dims) p.total *= d;
  return p;
}

template <BinaryOp Op>
void runBinary(const Broadcast& p, const float* a, const float* b, float* out) {
  const size_t r = p.dims.size();
  const int64_t inner = p.dims[r - 1], sa = p.sa[r - 1], sb = p.sb[r - 1];
  const int64_t rows = p.total / inner;
  if (rows == 1) {
    // One long row: split it between threads.
    const int64_t chunk = 1 << 14;
#pragma omp parallel for schedule(static) if (parallel(inner)) num_threads(loopThreads())
    for (int64_t s = 0; s < inner; s += chunk) {
      runRow<Op>(a + s * sa, sa, b + s * sb, sb, out + s, std::min(chunk, inner - s));
    }
    return;
  }
#pragma omp parallel for schedule(static) if (parallel(p.total)) num_threads(loopThreads())
  for (int64_t row = 0; row < rows; row++) {
    int64_t offA = 0, offB = 0, rest = row;
    for (size_t k = r - 1; k-- > 0;) {
      const int64_t i = rest % p.dims[k];
      rest /= p.dims[k];
      offA += i * p.sa[k];
      offB += i * p.sb[k];
    }
    runRow<Op>(a + offA, sa, b + offB, sb, out + row * inner, inner);
  }
}

// binary(op, a, aShape, b, bShape, out, outShape): shapes of equal rank, a and b broadcasting to out.
Napi::Value Binary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t op = intArg(info, 0, "op", 0, 8);
  if (info.Length() < 7 || !info[2].IsArray() || !info[4].IsArray() || !info[6].IsArray()) fail(env, "binary takes 7 arguments");
  const uint32_t rank = info[6].As<Napi::Array>().Length();
  if (rank > 8) fail(env, "rank above 8");
  Dims as = intsArg(info, 2, "aShape", rank), bs = intsArg(info, 4, "bShape", rank), os = intsArg(info, 6, "outShape", rank);
  F32 a = f32Arg(info, 1, "a", product(env, as, "a"));
  F32 b = f32Arg(info, 3, "b", product(env, bs, "b"));
  F32 out = f32Arg(info, 5, "out", product(env, os, "out"));
  Broadcast p = plan(env, as, bs, os);
  switch (static_cast<BinaryOp>(op)) {
    case BinaryOp::Add: runBinary<BinaryOp::Add>(p, a.data, b.data, out.data); break;
    case BinaryOp::Sub: runBinary<BinaryOp::Sub>(p, a.data, b.data, out.data); break;
    case BinaryOp::Mul: runBinary<BinaryOp::Mul>(p, a.data, b.data, out.data); break;
    case BinaryOp::Div: runBinary<BinaryOp::Div>(p, a.data, b.data, out.data); break;
    case BinaryOp::Max: runBinary<BinaryOp::Max>(p, a.data, b.data, out.data); break;
    case BinaryOp::Min: runBinary<BinaryOp::Min>(p, a.data, b.data, out.data); break;
    case BinaryOp::SquaredDifference: runBinary<BinaryOp::SquaredDifference>(p, a.data, b.data, out.data); break;
    case BinaryOp::ReluGrad: runBinary<BinaryOp::ReluGrad>(p, a.data, b.data, out.data); break;
    case BinaryOp::SquareGrad: runBinary<BinaryOp::SquareGrad>(p, a.data, b.data, out.data); break;
  }
  return env.Undefined();
}

enum class UnaryOp { Relu = 0, Step, Square, Neg, Sqrt, Rsqrt, Exp, Log, Abs, Relu6 };

// unary(op, x, out, alpha): alpha is Step's value for x <= 0.
Napi::Value Unary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t op = intArg(info, 0, "op", 0, 9);
  if (info.Length() < 4 || !info[1].IsTypedArray() || !info[3].IsNumber()) fail(env, "unary takes (op, x, out, alpha)");
  const int64_t n = static_cast<int64_t>(info[1].As<Napi::TypedArray>().ElementLength());
  const float* x = f32Arg(info, 1, "x", n).data;
  float* out = f32Arg(info, 2, "out", n).data;
  const float alpha = info[3].As<Napi::Number>().FloatValue();
#define FT_UNARY(EXPR)                                              \
  _Pragma("omp parallel for schedule(static) if (parallel(n)) num_threads(loopThreads())")      \
  for (int64_t i = 0; i < n; i++) {                                 \
    const float v = x[i];                                           \
    out[i] = (EXPR);                                                \
  }
  switch (static_cast<UnaryOp>(op)) {
    case UnaryOp::Relu: FT_UNARY(v < 0.f ? 0.f : v) break;  // NaN stays NaN, as in tfjs
    case UnaryOp::Step: FT_UNARY(std::isnan(v) ? v : (v > 0.f ? 1.f : alpha)) break;
    case UnaryOp::Square: FT_UNARY(v * v) break;
    case UnaryOp::Neg: FT_UNARY(-v) break;
    case UnaryOp::Sqrt: FT_UNARY(std::sqrt(v)) break;
    case UnaryOp::Rsqrt: FT_UNARY(1.f / std::sqrt(v)) break;
    case UnaryOp::Exp: FT_UNARY(std::exp(v)) break;
    case UnaryOp::Log: FT_UNARY(std::log(v)) break;
    case UnaryOp::Abs: FT_UNARY(std::fabs(v)) break;
    case UnaryOp::Relu6: FT_UNARY(v < 0.f ? 0.f : (v > 6.f ? 6.f : v)) break;
  }
#undef FT_UNARY
  return env.Undefined();
}

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

// concat(inputs[], inners[], outer, out): each output row o is input 0's row o, then input 1's, ...
// (concatenation along an axis, with inner_i = the product of input i's dims from that axis on).
Napi::Value Concat(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsArray()) fail(env, "concat takes (inputs, inners, outer, out)");
  auto list = info[0].As<Napi::Array>();
  const uint32_t count = list.Length();
  if (count == 0) fail(env, "concat needs at least one input");
  Dims inners = intsArg(info, 1, "inners", count);
  const int64_t outer = intArg(info, 2, "outer", 1, std::numeric_limits<int32_t>::max());
  std::vector<const float*> data(count);
  int64_t total = 0;
  for (uint32_t i = 0; i < count; i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) fail(env, "inputs[" + std::to_string(i) + "] must be a Float32Array");
    auto a = v.As<Napi::Float32Array>();
    const int64_t expected = product(env, {outer, inners[i]}, "input");
    if (static_cast<int64_t>(a.ElementLength()) != expected) {
      fail(env, "inputs[" + std::to_string(i) + "] has " + std::to_string(a.ElementLength()) + " elements, expected " + std::to_string(expected));
    }
    data[i] = a.Data();
    total += inners[i];
  }
  float* out = f32Arg(info, 3, "out", product(env, {outer, total}, "out")).data;
#pragma omp parallel for schedule(static) if (parallel(outer * total)) num_threads(loopThreads())
  for (int64_t o = 0; o < outer; o++) {
    float* dst = out + o * total;
    for (uint32_t i = 0; i < count; i++) {
      std::copy(data[i] + o * inners[i], data[i] + (o + 1) * inners[i], dst);
      dst += inners[i];
    }
  }
  return env.Undefined();
}

// tile(x, xShape, reps, out): out[i0..ik] = x[i0 % x0, ..., ik % xk].
Napi::Value Tile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[1].IsArray()) fail(env, "tile takes (x, xShape, reps, out)");
  const uint32_t rank = info[1].As<Napi::Array>().Length();
  if (rank < 1 || rank > 8) fail(env, "tile supports rank 1 to 8");
  Dims xs = intsArg(info, 1, "xShape", rank), reps = intsArg(info, 2, "reps", rank);
  Dims os(rank);
  for (uint32_t k = 0; k < rank; k++) os[k] = xs[k] * reps[k];
  const float* x = f32Arg(info, 0, "x", product(env, xs, "x")).data;
  float* out = f32Arg(info, 3, "out", product(env, os, "out")).data;
  const int64_t inner = xs[rank - 1], rows = product(env, os, "out") / os[rank - 1];
#pragma omp parallel for schedule(static) if (parallel(rows * inner)) num_threads(loopThreads())
  for (int64_t row = 0; row < rows; row++) {
    int64_t off = 0, stride = inner, rest = row;
    for (uint32_t k = rank - 1; k-- > 0;) {
      const int64_t i = rest % os[k];
      rest /= os[k];
      off += (i % xs[k]) * stride;
      stride *= xs[k];
    }
    float* o = out + row * os[rank - 1];
    for (int64_t r = 0; r < reps[rank - 1]; r++) std::copy(x + off, x + off + inner, o + r * inner);
  }
  return env.Undefined();
}

// pad(x, xShape, before, after, value, out): constant padding (tfjs PadV2) of a rank-1..8 tensor.
Napi::Value Pad(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 6 || !info[1].IsArray() || !info[4].IsNumber()) fail(env, "pad takes (x, xShape, before, after, value, out)");
  const uint32_t rank = info[1].As<Napi::Array>().Length();
  if (rank < 1 || rank > 8) fail(env, "pad supports rank 1 to 8");
  Dims xs = intsArg(info, 1, "xShape", rank), before = intsArg(info, 2, "before", rank, 0), after = intsArg(info, 3, "after", rank, 0);
  Dims os(rank);
  for (uint32_t k = 0; k < rank; k++) os[k] = xs[k] + before[k] + after[k];
  const float* x = f32Arg(info, 0, "x", product(env, xs, "x")).data;
  const float value = info[4].As<Napi::Number>().FloatValue();
  float* out = f32Arg(info, 5, "out", product(env, os, "out")).data;
  const int64_t inner = xs[rank - 1], outInner = os[rank - 1], rows = product(env, os, "out") / outInner;
#pragma omp parallel for schedule(static) if (parallel(rows * outInner)) num_threads(loopThreads())
  for (int64_t row = 0; row < rows; row++) {
    float* o = out + row * outInner;
    // Map the output row to x's row; a coordinate in the padding makes the whole row padding.
    int64_t off = 0, stride = inner, rest = row;
    bool inside = true;
    for (uint32_t k = rank - 1; k-- > 0;) {
      const int64_t i = rest % os[k] - before[k];
      rest /= os[k];
      if (i < 0 || i >= xs[k]) inside = false;
      off += i * stride;
      stride *= xs[k];
    }
    if (!inside) {
      std::fill(o, o + outInner, value);
      continue;
    }
    std::fill(o, o + before[rank - 1], value);
    std::copy(x + off, x + off + inner, o + before[rank - 1]);
    std::fill(o + before[rank - 1] + inner, o + outInner, value);
  }
  return env.Undefined();
}

// slice(x, xShape, begin, size, out): out = x[begin[0] : begin[0] + size[0], ...] (tfjs Slice), rank 1..8.
Napi::Value Slice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 5 || !info[1].IsArray()) fail(env, "slice takes (x, xShape, begin, size, out)");
  const uint32_t rank = info[1].As<Napi::Array>().Length();
  if (rank < 1 || rank > 8) fail(env, "slice supports rank 1 to 8");
  Dims xs = intsArg(info, 1, "xShape", rank), begin = intsArg(info, 2, "begin", rank, 0), size = intsArg(info, 3, "size", rank);
  for (uint32_t k = 0; k < rank; k++) {
    if (begin[k] + size[k] > xs[k]) fail(env, "slice [" + std::to_string(begin[k]) + ", " + std::to_string(begin[k] + size[k]) + ") of axis " + std::to_string(k) + " exceeds its size " + std::to_string(xs[k]));
  }
  const float* x = f32Arg(info, 0, "x", product(env, xs, "x")).data;
  float* out = f32Arg(info, 4, "out", product(env, size, "out")).data;
  const int64_t inner = size[rank - 1], rows = product(env, size, "out") / inner;
#pragma omp parallel for schedule(static) if (parallel(rows * inner)) num_threads(loopThreads())
  for (int64_t row = 0; row < rows; row++) {
    int64_t off = begin[rank - 1], stride = xs[rank - 1], rest = row;
    for (uint32_t k = rank - 1; k-- > 0;) {
      off += (rest % size[k] + begin[k]) * stride;
      rest /= size[k];
      stride *= xs[k];
    }
    std::copy(x + off, x + off + inner, out + row * inner);
  }
  return env.Undefined();
}

}  // namespace

void registerElementwise(Napi::Env env, Napi::Object exports) {
  FT_EXPORT(exports, env, "binary", Binary);
  FT_EXPORT(exports, env, "unary", Unary);
  FT_EXPORT(exports, env, "reduce", Reduce);
  FT_EXPORT(exports, env, "softmax", Softmax);
  FT_EXPORT(exports, env, "tile", Tile);
  FT_EXPORT(exports, env, "pad", Pad);
  FT_EXPORT(exports, env, "slice", Slice);
  FT_EXPORT(exports, env, "centeredDot", CenteredDot);
  FT_EXPORT(exports, env, "concat", Concat);
}

}  // namespace ft
