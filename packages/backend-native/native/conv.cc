// 2-D convolution (forward with fused bias + relu, gradient with respect to the input and to the
// filter) on oneDNN. Tensors are TensorFlow.js layouts: activations NHWC, filters HWIO. Primitives
// are cached by geometry; each cache entry also owns the reordered (blocked) filter buffer, reused
// between calls, and skips the filter reorder when the caller passes the same non-zero weights id.
#include <cstdlib>
#include <map>
#include <memory>

#include "common.h"

namespace ft {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

bool plainWeights() {
  static bool plain = [] {
    const char* v = std::getenv("FT_NATIVE_WEIGHTS");
    return v && std::string(v) == "plain";
  }();
  return plain;
}

/** Checked convolution geometry shared by the three directions. */
struct ConvGeometry {
  int64_t n, h, w, c;        // input NHWC
  int64_t kh, kw, oc;        // filter HWIO (input channels = c)
  int64_t sh, sw, dh, dw;    // strides, dilations (1 = none)
  int64_t pt, pb, pl, pr;    // padding
  int64_t oh, ow;            // output size
  Dims key() const { return {n, h, w, c, kh, kw, oc, sh, sw, dh, dw, pt, pb, pl, pr, oh, ow}; }
  int64_t xSize() const { return n * h * w * c; }
  int64_t wSize() const { return kh * kw * c * oc; }
  int64_t ySize() const { return n * oh * ow * oc; }
  memory::desc xDesc() const { return memory::desc({n, c, h, w}, dt::f32, tag::nhwc); }
  memory::desc yDesc() const { return memory::desc({n, oc, oh, ow}, dt::f32, tag::nhwc); }
  /** Activations for a backward primitive: NHWC, or `any` (oneDNN picks a blocked layout) where blocked is faster. */
  memory::desc xBackwardDesc() const { return memory::desc({n, c, h, w}, dt::f32, blockedBackward() ? tag::any : tag::nhwc); }
  memory::desc yBackwardDesc() const { return memory::desc({n, oc, oh, ow}, dt::f32, blockedBackward() ? tag::any : tag::nhwc); }
  /**
   * Measured on VGG-19 at batch 16 (oneDNN 2.6, AVX-512): with 128 or more channels in and out, the
   * backward passes of 3×3 convolutions on nChw16c activations ran 1.2-1.6x faster than on NHWC (PyTorch
   * runs them blocked), more than the reorders around them cost; with fewer channels NHWC was as fast.
   * A 1×1 convolution does 9× less work per activation than a 3×3, and there the reorders cost more
   * than they saved (DenseNet-121: 6 % slower steps blocked). The forward pass stays NHWC (brgemm
   * kernels, as fast as blocked). FT_NATIVE_BACKWARD=nhwc turns this off. The backward primitives are
   * created with convolution_auto, so oneDNN runs 3×3 stride-1 ones as Winograd F(4×4, 3×3) where it
   * judges that faster (VGG-19 batch 16: backward convolution time 4.1 → 2.0 s per step).
   */
  bool blockedBackward() const {
    static bool nhwcOnly = [] {
      const char* v = std::getenv("FT_NATIVE_BACKWARD");
      return v && std::string(v) == "nhwc";
    }();
    return !nhwcOnly && kh * kw > 1 && c >= 128 && oc >= 128;
  }
  memory::desc wUserDesc() const { return memory::desc({oc, c, kh, kw}, dt::f32, tag::hwio); }
  memory::desc wAnyDesc() const { return memory::desc({oc, c, kh, kw}, dt::f32, plainWeights() ? tag::hwio : tag::any); }
  memory::dims strides() const { return {sh, sw}; }
  memory::dims dilates() const { return {dh - 1, dw - 1}; }
  memory::dims padL() const { return {pt, pl}; }
  memory::dims padR() const { return {pb, pr}; }
};

/**
 * Reads xShape [N,H,W,C], filterShape [KH,KW,C,OC] and geometry
 * [strideH, strideW, dilationH, dilationW, padTop, padBottom, padLeft, padRight, outH, outW],
 * and checks they describe a convolution oneDNN can run exactly as TensorFlow.js defines it.
 */
ConvGeometry readGeometry(const Napi::CallbackInfo& info, size_t xShapeIndex) {
  Napi::Env env = info.Env();
  Dims xs = intsArg(info, xShapeIndex, "xShape", 4);
  Dims ws = intsArg(info, xShapeIndex + 1, "filterShape", 4);
  Dims g = intsArg(info, xShapeIndex + 2, "geometry", 10, 0);
  ConvGeometry cg{xs[0], xs[1], xs[2], xs[3], ws[0], ws[1], ws[3], g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9]};
  if (ws[2] != cg.c) fail(env, "filter has " + std::to_string(ws[2]) + " input channels but x has " + std::to_string(cg.c));
  if (cg.sh < 1 || cg.sw < 1 || cg.dh < 1 || cg.dw < 1) fail(env, "strides and dilations must be >= 1");
  if (cg.oh < 1 || cg.ow < 1) fail(env, "output size must be >= 1");
  product(env, xs, "x");
  product(env, ws, "filter");
  product(env, {cg.n, cg.oh, cg.ow, cg.oc}, "y");
  auto consistent = [](int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1, int64_t out) {
    int64_t span = in + p0 + p1 - ((k - 1) * d + 1);
    return span >= 0 && span / s + 1 == out;
  };
  if (!consistent(cg.h, cg.kh, cg.sh, cg.dh, cg.pt, cg.pb, cg.oh) || !consistent(cg.w, cg.kw, cg.sw, cg.dw, cg.pl, cg.pr, cg.ow)) {
    fail(env, "output size " + std::to_string(cg.oh) + "x" + std::to_string(cg.ow) + " does not follow from input " +
                  std::to_string(cg.h) + "x" + std::to_string(cg.w) + ", filter, strides and padding");
  }
  return cg;
}

/** A filter in the layout a primitive wants, plus the reorder from HWIO that fills it. */
struct CachedWeights {
  memory::desc userDesc;
  memory::desc primDesc;
  std::unique_ptr<memory> buffer;  // null when the primitive takes HWIO directly
  double lastId = 0;

  void init(const memory::desc& user, const memory::desc& prim) {
    userDesc = user;
    primDesc = prim;
    if (prim != user) buffer = std::make_unique<memory>(prim, cpuEngine());
  }
  /** Memory to hand the primitive for `data`, reordering only when the weights changed. */
  memory get(float* data, double id) {
    memory user(userDesc, cpuEngine(), data);
    if (!buffer) return user;
    if (id == 0 || id != lastId) {
      dnnl::reorder(user, *buffer).execute(cpuStream(), user, *buffer);
      lastId = id;
    }
    return *buffer;
  }
};

dnnl::convolution_forward::primitive_desc forwardHint(const ConvGeometry& g) {
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_auto, g.xBackwardDesc(), g.wAnyDesc(),
                                    memory::desc(), g.yBackwardDesc(), g.strides(), g.dilates(), g.padL(), g.padR());
  return dnnl::convolution_forward::primitive_desc(d, cpuEngine());
}

/**
 * Scratch buffers for activations in a primitive's own layout, one per role, shared by every
 * geometry (primitives run one at a time, on the JS thread) and grown to the largest seen.
 */
enum ScratchRole { kScratchSrc, kScratchDiffDst, kScratchDiffSrc, kScratchRoles };
void* scratch(ScratchRole role, size_t bytes) {
  static std::unique_ptr<char[]> buffers[kScratchRoles];
  static size_t sizes[kScratchRoles] = {};
  if (sizes[role] < bytes) {
    buffers[role].reset();
    buffers[role].reset(new char[bytes]);
    sizes[role] = bytes;
  }
  return buffers[role].get();
}

/** `user` as the primitive wants it: itself, or a reordered copy in scratch when `want` differs. */
memory staged(memory user, const memory::desc& want, ScratchRole role) {
  if (want == user.get_desc()) return user;
  memory copy(want, cpuEngine(), scratch(role, want.get_size()));
  dnnl::reorder(user, copy).execute(cpuStream(), user, copy);
  return copy;
}

struct ForwardEntry {
  dnnl::convolution_forward primitive;
  CachedWeights weights;
};

std::map<Dims, std::unique_ptr<ForwardEntry>> forwardCache;

// conv2d(x, xShape, filterShape, geometry, filter, bias|null, y, relu, weightsId)
Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ConvGeometry g = readGeometry(info, 1);
  F32 x = f32Arg(info, 0, "x", g.xSize());
  F32 w = f32Arg(info, 4, "filter", g.wSize());
  F32 bias = optionalF32Arg(info, 5, "bias", g.oc);
  F32 y = f32Arg(info, 6, "y", g.ySize());
  bool relu = boolArg(info, 7, "relu");
  double weightsId = info.Length() > 8 && info[8].IsNumber() ? info[8].As<Napi::Number>().DoubleValue() : 0;
  Dims key = g.key();
  key.push_back(bias.data ? 1 : 0);
  key.push_back(relu ? 1 : 0);
  auto& entry = forwardCache[key];
  if (!entry) {
    auto biasDesc = bias.data ? memory::desc({g.oc}, dt::f32, tag::x) : memory::desc();
    dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, g.xDesc(),
                                      g.wAnyDesc(), biasDesc, g.yDesc(), g.strides(), g.dilates(), g.padL(), g.padR());
    dnnl::primitive_attr attr;
    if (relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    dnnl::convolution_forward::primitive_desc pd(d, attr, cpuEngine());
    entry = std::make_unique<ForwardEntry>(ForwardEntry{dnnl::convolution_forward(pd), {}});
    entry->weights.init(g.wUserDesc(), pd.weights_desc());
  }
  memory xm(g.xDesc(), cpuEngine(), x.data), ym(g.yDesc(), cpuEngine(), y.data);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, xm}, {DNNL_ARG_WEIGHTS, entry->weights.get(w.data, weightsId)}, {DNNL_ARG_DST, ym}};
  if (bias.data) args.emplace(DNNL_ARG_BIAS, memory({{g.oc}, dt::f32, tag::x}, cpuEngine(), bias.data));
  entry->primitive.execute(cpuStream(), args);
  cpuStream().wait();
  return env.Undefined();
}

struct BackwardDataEntry {
  dnnl::convolution_backward_data primitive;
  CachedWeights weights;
  memory::desc diffDstDesc, diffSrcDesc;  // the primitive's activation layouts
};
std::map<Dims, std::unique_ptr<BackwardDataEntry>> backwardDataCache;

// conv2dBackpropInput(dy, xShape, filterShape, geometry, filter, dx, weightsId)
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ConvGeometry g = readGeometry(info, 1);
  F32 dy = f32Arg(info, 0, "dy", g.ySize());
  F32 w = f32Arg(info, 4, "filter", g.wSize());
  F32 dx = f32Arg(info, 5, "dx", g.xSize());
  double weightsId = info.Length() > 6 && info[6].IsNumber() ? info[6].As<Napi::Number>().DoubleValue() : 0;
  auto& entry = backwardDataCache[g.key()];
  if (!entry) {
    dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_auto, g.xBackwardDesc(), g.wAnyDesc(), g.yBackwardDesc(),
                                            g.strides(), g.dilates(), g.padL(), g.padR());
    dnnl::convolution_backward_data::primitive_desc pd(d, cpuEngine(), forwardHint(g));
    entry = std::make_unique<BackwardDataEntry>(BackwardDataEntry{dnnl::convolution_backward_data(pd), {}, pd.diff_dst_desc(), pd.diff_src_desc()});
    entry->weights.init(g.wUserDesc(), pd.weights_desc());
  }
  memory dym(g.yDesc(), cpuEngine(), dy.data), dxm(g.xDesc(), cpuEngine(), dx.data);
  memory dyPrim = staged(dym, entry->diffDstDesc, kScratchDiffDst);
  const bool dxStaged = entry->diffSrcDesc != dxm.get_desc();
  memory dxPrim = dxStaged ? memory(entry->diffSrcDesc, cpuEngine(), scratch(kScratchDiffSrc, entry->diffSrcDesc.get_size())) : dxm;
  entry->primitive.execute(cpuStream(), {{DNNL_ARG_DIFF_DST, dyPrim}, {DNNL_ARG_WEIGHTS, entry->weights.get(w.data, weightsId)}, {DNNL_ARG_DIFF_SRC, dxPrim}});
  if (dxStaged) dnnl::reorder(dxPrim, dxm).execute(cpuStream(), dxPrim, dxm);
  cpuStream().wait();
  return env.Undefined();
}

struct BackwardWeightsEntry {
  dnnl::convolution_backward_weights primitive;
  memory::desc userDesc;
  std::unique_ptr<memory> buffer;  // diff weights in the primitive's layout, when not HWIO
  memory::desc srcDesc, diffDstDesc;  // the primitive's activation layouts
};
std::map<Dims, std::unique_ptr<BackwardWeightsEntry>> backwardWeightsCache;

// conv2dBackpropFilter(x, xShape, filterShape, geometry, dy, dw)
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ConvGeometry g = readGeometry(info, 1);
  F32 x = f32Arg(info, 0, "x", g.xSize());
  F32 dy = f32Arg(info, 4, "dy", g.ySize());
  F32 dw = f32Arg(info, 5, "dw", g.wSize());
  auto& entry = backwardWeightsCache[g.key()];
  if (!entry) {
    dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_auto, g.xBackwardDesc(), g.wAnyDesc(), g.yBackwardDesc(),
                                               g.strides(), g.dilates(), g.padL(), g.padR());
    dnnl::convolution_backward_weights::primitive_desc pd(d, cpuEngine(), forwardHint(g));
    entry = std::make_unique<BackwardWeightsEntry>(
        BackwardWeightsEntry{dnnl::convolution_backward_weights(pd), g.wUserDesc(), nullptr, pd.src_desc(), pd.diff_dst_desc()});
    if (pd.diff_weights_desc() != g.wUserDesc()) entry->buffer = std::make_unique<memory>(pd.diff_weights_desc(), cpuEngine());
  }
  memory xm(g.xDesc(), cpuEngine(), x.data), dym(g.yDesc(), cpuEngine(), dy.data), dwm(entry->userDesc, cpuEngine(), dw.data);
  memory& target = entry->buffer ? *entry->buffer : dwm;
  memory xPrim = staged(xm, entry->srcDesc, kScratchSrc), dyPrim = staged(dym, entry->diffDstDesc, kScratchDiffDst);
  entry->primitive.execute(cpuStream(), {{DNNL_ARG_SRC, xPrim}, {DNNL_ARG_DIFF_DST, dyPrim}, {DNNL_ARG_DIFF_WEIGHTS, target}});
  if (entry->buffer) dnnl::reorder(*entry->buffer, dwm).execute(cpuStream(), *entry->buffer, dwm);
  cpuStream().wait();
  return env.Undefined();
}

Napi::Value ClearCaches(const Napi::CallbackInfo& info) {
  forwardCache.clear();
  backwardDataCache.clear();
  backwardWeightsCache.clear();
  return info.Env().Undefined();
}

Napi::Value CacheSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(forwardCache.size() + backwardDataCache.size() + backwardWeightsCache.size()));
}

}  // namespace

void registerConv(Napi::Env env, Napi::Object exports) {
  FT_EXPORT(exports, env, "conv2d", Conv2D);
  FT_EXPORT(exports, env, "conv2dBackpropInput", Conv2DBackpropInput);
  FT_EXPORT(exports, env, "conv2dBackpropFilter", Conv2DBackpropFilter);
  FT_EXPORT(exports, env, "clearConvCaches", ClearCaches);
  FT_EXPORT(exports, env, "convCacheSize", CacheSize);
}

}  // namespace ft
