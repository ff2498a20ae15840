// Elementwise ops: broadcasting binary and unary arithmetic, what dominates a training step once
// convolutions run in oneDNN (BatchNorm's gradient alone is a dozen broadcasting Mul/Add/Sub).
// Arithmetic is float32 per element, like the cpu kernels (whose double intermediates round to the
// same float32 for a single +, -, *, /). Reductions are in reduce.cc, copies and reshuffles in layout.cc.
#include <algorithm>
#include <cmath>
#include <limits>
#include <initializer_list>
#include <utility>
#include <vector>

#include <omp.h>

#include "common.h"

namespace ft {
namespace {

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

}  // namespace

// The op codes, by the tfjs kernel each one implements (FtReluGrad, FtSquareGrad: ft-native's gradient
// kernels, a = dy and b = x), so that TypeScript reads them from here instead of typing them again.
static Napi::Object opCodes(Napi::Env env, std::initializer_list<std::pair<const char*, int>> codes) {
  Napi::Object object = Napi::Object::New(env);
  for (const auto& [kernel, code] : codes) object.Set(kernel, code);
  object.Freeze();
  return object;
}

void registerElementwise(Napi::Env env, Napi::Object exports) {
  FT_EXPORT(exports, env, "binary", Binary);
  FT_EXPORT(exports, env, "unary", Unary);
  using B = BinaryOp;
  exports.Set("binaryOps", opCodes(env, {{"Add", int(B::Add)}, {"Sub", int(B::Sub)}, {"Multiply", int(B::Mul)}, {"RealDiv", int(B::Div)},
                                         {"Maximum", int(B::Max)}, {"Minimum", int(B::Min)}, {"SquaredDifference", int(B::SquaredDifference)},
                                         {"FtReluGrad", int(B::ReluGrad)}, {"FtSquareGrad", int(B::SquareGrad)}}));
  using U = UnaryOp;
  exports.Set("unaryOps", opCodes(env, {{"Relu", int(U::Relu)}, {"Step", int(U::Step)}, {"Square", int(U::Square)}, {"Neg", int(U::Neg)},
                                        {"Sqrt", int(U::Sqrt)}, {"Rsqrt", int(U::Rsqrt)}, {"Exp", int(U::Exp)}, {"Log", int(U::Log)},
                                        {"Abs", int(U::Abs)}, {"Relu6", int(U::Relu6)}}));
}

}  // namespace ft
