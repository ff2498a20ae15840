// Layout ops: values copied to new places, never computed: Concat, Tile, Pad (PadV2) and Slice.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <omp.h>

#include "common.h"

namespace ft {
namespace {
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

void registerLayout(Napi::Env env, Napi::Object exports) {
  FT_EXPORT(exports, env, "concat", Concat);
  FT_EXPORT(exports, env, "tile", Tile);
  FT_EXPORT(exports, env, "pad", Pad);
  FT_EXPORT(exports, env, "slice", Slice);
}

}  // namespace ft
