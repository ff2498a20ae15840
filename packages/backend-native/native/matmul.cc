// Batched matrix product (TensorFlow.js BatchMatMul / _FusedMatMul with bias and relu) on oneDNN's
// sgemm, which picks its own blocking and threads.
#include <algorithm>

#include "common.h"

namespace ft {
namespace {

// batchMatMul(a, aShape [batchA, rowsA, colsA], b, bShape [batchB, rowsB, colsB], transposeA, transposeB,
//             out [batch, M, N], bias|null (length N), relu)
Napi::Value BatchMatMul(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Dims as = intsArg(info, 1, "aShape", 3);
  Dims bs = intsArg(info, 3, "bShape", 3);
  F32 a = f32Arg(info, 0, "a", product(env, as, "a"));
  F32 b = f32Arg(info, 2, "b", product(env, bs, "b"));
  bool ta = boolArg(info, 4, "transposeA"), tb = boolArg(info, 5, "transposeB");
  if (as[0] != bs[0] && as[0] != 1 && bs[0] != 1) {
    fail(env, "batch sizes " + std::to_string(as[0]) + " and " + std::to_string(bs[0]) + " do not broadcast");
  }
  int64_t batch = std::max(as[0], bs[0]);
  int64_t m = ta ? as[2] : as[1], k = ta ? as[1] : as[2];
  int64_t kb = tb ? bs[2] : bs[1], n = tb ? bs[1] : bs[2];
  if (k != kb) fail(env, "inner dimensions differ: " + std::to_string(k) + " vs " + std::to_string(kb));
  F32 out = f32Arg(info, 6, "out", product(env, {batch, m, n}, "out"));
  F32 bias = optionalF32Arg(info, 7, "bias", n);
  bool relu = boolArg(info, 8, "relu");
  const int64_t aStep = as[0] == 1 ? 0 : m * k, bStep = bs[0] == 1 ? 0 : k * n;
  for (int64_t i = 0; i < batch; i++) {
    dnnl_status_t status = dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1.f, a.data + i * aStep, as[2], b.data + i * bStep, bs[2], 0.f,
                                      out.data + i * m * n, n);
    if (status != dnnl_success) fail(env, "dnnl_sgemm failed with status " + std::to_string(status));
  }
  if (bias.data || relu) {
    const int64_t rows = batch * m;
    float* o = out.data;
    const float* bv = bias.data;
#pragma omp parallel for schedule(static) num_threads(loopThreads())
    for (int64_t r = 0; r < rows; r++) {
      float* row = o + r * n;
      for (int64_t j = 0; j < n; j++) {
        float v = row[j] + (bv ? bv[j] : 0.f);
        row[j] = relu && v < 0.f ? 0.f : v;  // like tfjs relu: NaN stays NaN
      }
    }
  }
  return env.Undefined();
}

}  // namespace

void registerMatMul(Napi::Env env, Napi::Object exports) { FT_EXPORT(exports, env, "batchMatMul", BatchMatMul); }

}  // namespace ft
