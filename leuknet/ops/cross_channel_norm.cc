// MATLAB crossChannelNormalizationLayer as one pass over each pixel's channel vector, forward and backward.
//
//   ss[c] = sum(x[c - before .. c + after]^2)   (truncated at the first and last channels)
//   d     = k + scale * ss,  p = d^-beta,  y = x * p
//   dx    = g * p - 2 * scale * beta * x * sum(t[c - after .. c + before]),  t = g * x * p / d
//
// The whole window lives inside one pixel's channel vector, so each pixel is read once and written once
// (the XLA version needs two kernels and an intermediate tensor for the backward pass). Arithmetic is float32
// for float32, bfloat16 and float16 tensors. Built on first use by leuknet/ops/__init__.py.
//
// Two implementations of the same arithmetic (ForwardRows, GradientRows): with AVX-512 (F, BW, VL) one pixel at
// a time in 16-float vectors; elsewhere blocks of pixels in plain loops the compiler vectorises.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

using namespace tensorflow;

// before/after: channels of the window below and above c; scale = Alpha / w; y has x's shape
#define LEUKNET_CCN_ATTRS                  \
  Attr("T: {float, bfloat16, half}")       \
      .Attr("before: int")                 \
      .Attr("after: int")                  \
      .Attr("scale: float")                \
      .Attr("beta: float")                 \
      .Attr("k: float")                    \
      .SetShapeFn([](shape_inference::InferenceContext* c) { \
        c->set_output(0, c->input(0));     \
        return OkStatus();                 \
      })

REGISTER_OP("LeuknetCrossChannelNorm").Input("x: T").Output("y: T").LEUKNET_CCN_ATTRS;

REGISTER_OP("LeuknetCrossChannelNormGrad").Input("x: T").Input("g: T").Output("dx: T").LEUKNET_CCN_ATTRS;

namespace {

struct Params {
  int before, after;
  float scale, beta, k;
};

#if defined(__AVX512F__)
// 1/sqrt(d): the 14-bit hardware estimate and one Newton step (relative error about 2^-27, a few float32 ulp;
// d >= k > 0 here). Several times cheaper than a square root and a division. Not for d = +inf (inf * 0 in the
// Newton step): callers blend those lanes.
inline __m512 rsqrt_nr(__m512 d) {
  const __m512 r = _mm512_rsqrt14_ps(d);
  const __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(d, _mm512_set1_ps(0.5f)), r), r);
  return _mm512_mul_ps(r, _mm512_sub_ps(_mm512_set1_ps(1.5f), t));
}

// lanes where d = +inf (x^2 overflowed): d^-beta and 1/d are 0 there, as pow and 1/sqrt give
inline __mmask16 is_inf(__m512 d) { return _mm512_cmp_ps_mask(d, _mm512_set1_ps(INFINITY), _CMP_EQ_OQ); }
#endif

// p = d^-beta and, when inv is given, inv = 1/d. beta = 0.75 (MATLAB's default) and 0.5 avoid pow:
// r = d^-1/2, u = r^-1/2 = d^1/4, d^-3/4 = r * r * u, 1/d = r * r.
inline void power_neg_beta(const float* __restrict d, float* __restrict p, float* __restrict inv, int64_t n,
                           float beta) {
  int64_t i = 0;
  if (beta == 0.75f) {
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
      const __m512 dv = _mm512_loadu_ps(d + i);
      const __mmask16 big = is_inf(dv);
      const __m512 r = rsqrt_nr(dv);
      const __m512 r2 = _mm512_mask_blend_ps(big, _mm512_mul_ps(r, r), _mm512_setzero_ps());
      _mm512_storeu_ps(p + i, _mm512_mask_blend_ps(big, _mm512_mul_ps(r2, rsqrt_nr(r)), _mm512_setzero_ps()));
      if (inv) _mm512_storeu_ps(inv + i, r2);
    }
#endif
    for (; i < n; ++i) {
      const float r = 1.0f / std::sqrt(d[i]);
      p[i] = r * std::sqrt(r);
      if (inv) inv[i] = 1.0f / d[i];
    }
  } else if (beta == 0.5f) {
#if defined(__AVX512F__)
    for (; i + 16 <= n; i += 16) {
      const __m512 dv = _mm512_loadu_ps(d + i);
      const __m512 r = _mm512_mask_blend_ps(is_inf(dv), rsqrt_nr(dv), _mm512_setzero_ps());
      _mm512_storeu_ps(p + i, r);
      if (inv) _mm512_storeu_ps(inv + i, _mm512_mul_ps(r, r));
    }
#endif
    for (; i < n; ++i) {
      p[i] = 1.0f / std::sqrt(d[i]);
      if (inv) inv[i] = 1.0f / d[i];
    }
  } else {
    for (; i < n; ++i) {
      p[i] = std::pow(d[i], -beta);
      if (inv) inv[i] = 1.0f / d[i];
    }
  }
}

// Per-shard float32 working arrays of n floats each, zero-initialised, with `pad` floats on either side. Only
// [0, n) of an array is ever written, so the pads stay 0: a window may read past either end of the channels.
struct Buffers {
  explicit Buffers(int64_t n, int pad, int count) : storage(count * (n + 2 * pad), 0.0f), n(n), pad(pad) {}
  float* operator[](int i) { return storage.data() + i * (n + 2 * pad) + pad; }
  std::vector<float> storage;
  int64_t n;
  int pad;
};

// ForwardRows and GradientRows compute pixels [begin, end) of C channels each; kForwardCost and kGradientCost
// are their cost per channel for ParallelFor's sharding.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
// Vector version: one pixel's channel vector at a time, in 16-float chunks (the last one masked), every array a
// few KB (L1). Window sums read the zero pads around the squares, so no channel needs an edge case.
// Conversions: bfloat16 by integer rounding to nearest even (as Eigen's: subnormals kept, NaN stays NaN),
// float16 by the F16C instructions (nearest even).
constexpr int kForwardCost = 10, kGradientCost = 20;

inline __m512 LoadV(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 LoadV(const bfloat16* p, __mmask16 m) {
  const __m256i h = _mm256_maskz_loadu_epi16(m, p);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}
inline __m512 LoadV(const Eigen::half* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

inline void StoreV(float* p, __m512 v, __mmask16 m) { _mm512_mask_storeu_ps(p, m, v); }
inline void StoreV(bfloat16* p, __m512 v, __mmask16 m) {
  const __m512i b = _mm512_castps_si512(v);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), _mm512_set1_epi32(1));
  __m512i r = _mm512_srli_epi32(_mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(b, 16), _mm512_set1_epi32(0x40));  // quiet NaN
  _mm256_mask_storeu_epi16(p, m, _mm512_cvtepi32_epi16(r));
}
inline void StoreV(Eigen::half* p, __m512 v, __mmask16 m) {
  _mm256_mask_storeu_epi16(p, m, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

inline __mmask16 ChunkMask(int c, int C) {
  return C - c >= 16 ? 0xffff : static_cast<__mmask16>((1u << (C - c)) - 1);
}

// sum(v[c - lo .. c - lo + w - 1]) for the chunk at channel c
inline __m512 WindowSum(const float* v, int c, int lo, int w, __mmask16 m) {
  __m512 acc = LoadV(v + c - lo, m);
  for (int j = 1; j < w; ++j) acc = _mm512_add_ps(acc, LoadV(v + c - lo + j, m));
  return acc;
}

// One pixel: xf = x in float32, sq = x^2, d = k + scale * W(sq), p = d^-beta (and inv = 1/d when given)
template <typename T>
inline void LoadPixel(const T* x, float* xf, float* sq, float* d, float* p, float* inv, int C, const Params& q) {
  const int w = q.before + q.after + 1;
  const __m512 kv = _mm512_set1_ps(q.k), sv = _mm512_set1_ps(q.scale);
  for (int c = 0; c < C; c += 16) {
    const __mmask16 m = ChunkMask(c, C);
    const __m512 v = LoadV(x + c, m);
    StoreV(xf + c, v, m);
    StoreV(sq + c, _mm512_mul_ps(v, v), m);
  }
  for (int c = 0; c < C; c += 16) {
    const __mmask16 m = ChunkMask(c, C);
    StoreV(d + c, _mm512_fmadd_ps(sv, WindowSum(sq, c, q.before, w, m), kv), m);
  }
  power_neg_beta(d, p, inv, C, q.beta);
}

template <typename T>
void ForwardRows(const T* xp, T* yp, int64_t begin, int64_t end, int C, const Params& q) {
  Buffers buf(C, q.before + q.after, 4);
  float *xf = buf[0], *sq = buf[1], *d = buf[2], *p = buf[3];
  for (int64_t r = begin; r < end; ++r) {
    LoadPixel(xp + r * C, xf, sq, d, p, nullptr, C, q);
    T* y = yp + r * C;
    for (int c = 0; c < C; c += 16) {
      const __mmask16 m = ChunkMask(c, C);
      StoreV(y + c, _mm512_mul_ps(LoadV(xf + c, m), LoadV(p + c, m)), m);
    }
  }
}

template <typename T>
void GradientRows(const T* xp, const T* gp, T* dxp, int64_t begin, int64_t end, int C, const Params& q) {
  const int w = q.before + q.after + 1;
  const __m512 c2 = _mm512_set1_ps(2.0f * q.scale * q.beta);
  Buffers buf(C, q.before + q.after, 7);
  float *xf = buf[0], *gf = buf[1], *sq = buf[2], *d = buf[3], *p = buf[4], *inv = buf[5], *t = buf[6];
  for (int64_t r = begin; r < end; ++r) {
    LoadPixel(xp + r * C, xf, sq, d, p, inv, C, q);
    const T* g = gp + r * C;
    for (int c = 0; c < C; c += 16) {  // t = g x d^-beta / d
      const __mmask16 m = ChunkMask(c, C);
      const __m512 gv = LoadV(g + c, m);
      StoreV(gf + c, gv, m);
      StoreV(t + c, _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(gv, LoadV(xf + c, m)), LoadV(p + c, m)),
                                  LoadV(inv + c, m)), m);
    }
    T* dx = dxp + r * C;
    for (int c = 0; c < C; c += 16) {  // dx = g p - c2 x W^T(t), W^T the mirrored window
      const __mmask16 m = ChunkMask(c, C);
      const __m512 gp_ = _mm512_mul_ps(LoadV(gf + c, m), LoadV(p + c, m));
      StoreV(dx + c, _mm512_fnmadd_ps(_mm512_mul_ps(c2, LoadV(xf + c, m)), WindowSum(t, c, q.after, w, m), gp_), m);
    }
  }
}
#else
// Plain-loop version: pixels in blocks of about kBlock floats (L1-resident; 256 measured best of 256 to 8192 at
// 64 channels): the element-wise loops run over whole blocks, longer vectorised loops than one pixel gives.
constexpr int kBlock = 256;
constexpr int kForwardCost = 30, kGradientCost = 60;

// dst[j] = sum(v[j - lo .. j + hi]) within j's pixel (rows pixels of C channels). v has at least lo readable
// floats before it and hi after it (their values do not matter: the pixel edges are recomputed exactly).
inline void window_sum(const float* __restrict v, float* __restrict dst, int rows, int C, int lo, int hi) {
  const int64_t n = static_cast<int64_t>(rows) * C;
  for (int64_t j = 0; j < n; ++j) dst[j] = v[j];
  for (int m = 1; m <= lo; ++m)
    for (int64_t j = 0; j < n; ++j) dst[j] += v[j - m];
  for (int m = 1; m <= hi; ++m)
    for (int64_t j = 0; j < n; ++j) dst[j] += v[j + m];
  // channels whose window crosses the pixel's first or last channel: [0, lo) and [C - hi, C), summed again
  const int low_end = std::min(lo, C), high_begin = std::max(C - hi, low_end);
  for (int r = 0; r < rows; ++r) {
    const float* pv = v + static_cast<int64_t>(r) * C;
    float* pd = dst + static_cast<int64_t>(r) * C;
    auto edge = [&](int c) {
      const int m0 = std::max(c - lo, 0), m1 = std::min(c + hi, C - 1);
      float s = 0.0f;
      for (int m = m0; m <= m1; ++m) s += pv[m];
      pd[c] = s;
    };
    for (int c = 0; c < low_end; ++c) edge(c);
    for (int c = high_begin; c < C; ++c) edge(c);
  }
}

// Conversions to and from the float32 working buffers (Eigen's: bfloat16 and float16 results are rounded to
// nearest even). Hand-written bit-operation versions for bfloat16 measured slower here.
template <typename T>
inline void Load(const T* __restrict src, float* __restrict dst, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] = static_cast<float>(src[j]);
}

template <typename T>
inline void Store(const float* __restrict src, T* __restrict dst, int64_t n) {
  for (int64_t j = 0; j < n; ++j) dst[j] = static_cast<T>(src[j]);
}

template <typename T>
void ForwardRows(const T* xp, T* yp, int64_t begin, int64_t end, int C, const Params& q) {
  const int rows_per_block = C >= kBlock ? 1 : kBlock / C;
  Buffers buf(static_cast<int64_t>(rows_per_block) * C, q.before + q.after, 4);
  float *__restrict xf = buf[0], *__restrict sq = buf[1], *__restrict d = buf[2], *__restrict y = buf[3];
  for (int64_t r0 = begin; r0 < end; r0 += rows_per_block) {
    const int rows = static_cast<int>(std::min<int64_t>(rows_per_block, end - r0));
    const int64_t n = static_cast<int64_t>(rows) * C;
    Load(xp + r0 * C, xf, n);
    for (int64_t j = 0; j < n; ++j) sq[j] = xf[j] * xf[j];
    window_sum(sq, d, rows, C, q.before, q.after);
    for (int64_t j = 0; j < n; ++j) d[j] = q.k + q.scale * d[j];
    power_neg_beta(d, sq, nullptr, n, q.beta);  // sq now holds p
    for (int64_t j = 0; j < n; ++j) y[j] = xf[j] * sq[j];
    Store(y, yp + r0 * C, n);
  }
}

template <typename T>
void GradientRows(const T* xp, const T* gp, T* dxp, int64_t begin, int64_t end, int C, const Params& q) {
  const float c2 = 2.0f * q.scale * q.beta;
  const int rows_per_block = C >= kBlock ? 1 : kBlock / C;
  Buffers buf(static_cast<int64_t>(rows_per_block) * C, q.before + q.after, 6);
  float *__restrict xf = buf[0], *__restrict gf = buf[1], *__restrict sq = buf[2], *__restrict d = buf[3],
        *__restrict p = buf[4], *__restrict inv = buf[5];
  for (int64_t r0 = begin; r0 < end; r0 += rows_per_block) {
    const int rows = static_cast<int>(std::min<int64_t>(rows_per_block, end - r0));
    const int64_t n = static_cast<int64_t>(rows) * C;
    Load(xp + r0 * C, xf, n);
    Load(gp + r0 * C, gf, n);
    for (int64_t j = 0; j < n; ++j) sq[j] = xf[j] * xf[j];
    window_sum(sq, d, rows, C, q.before, q.after);
    for (int64_t j = 0; j < n; ++j) d[j] = q.k + q.scale * d[j];
    power_neg_beta(d, p, inv, n, q.beta);
    for (int64_t j = 0; j < n; ++j) sq[j] = gf[j] * xf[j] * p[j] * inv[j];  // t
    window_sum(sq, d, rows, C, q.after, q.before);  // the transpose: the mirrored window
    for (int64_t j = 0; j < n; ++j) inv[j] = gf[j] * p[j] - c2 * xf[j] * d[j];
    Store(inv, dxp + r0 * C, n);
  }
}
#endif

void GetParams(OpKernelConstruction* ctx, Params* q) {
  OP_REQUIRES_OK(ctx, ctx->GetAttr("before", &q->before));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("after", &q->after));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("scale", &q->scale));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("beta", &q->beta));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("k", &q->k));
  OP_REQUIRES(ctx, q->before >= 0 && q->after >= 0, errors::InvalidArgument("before and after must be >= 0"));
}

template <typename T>
class CrossChannelNormOp : public OpKernel {
 public:
  explicit CrossChannelNormOp(OpKernelConstruction* ctx) : OpKernel(ctx) { GetParams(ctx, &q_); }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    OP_REQUIRES(ctx, x.dims() >= 1, errors::InvalidArgument("x must have a channel dimension"));
    Tensor* y = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &y));
    const int C = static_cast<int>(x.dim_size(x.dims() - 1));
    if (x.NumElements() == 0 || C == 0) return;
    const int64_t pixels = x.NumElements() / C;
    const T* xp = x.flat<T>().data();
    T* yp = y->flat<T>().data();
    const Params q = q_;
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
        pixels, kForwardCost * C, [&](int64_t begin, int64_t end) { ForwardRows(xp, yp, begin, end, C, q); });
  }

 private:
  Params q_;
};

template <typename T>
class CrossChannelNormGradOp : public OpKernel {
 public:
  explicit CrossChannelNormGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) { GetParams(ctx, &q_); }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& g = ctx->input(1);
    OP_REQUIRES(ctx, x.shape() == g.shape(),
                errors::InvalidArgument("x and g must have the same shape: ", x.shape().DebugString(), " vs ",
                                        g.shape().DebugString()));
    OP_REQUIRES(ctx, x.dims() >= 1, errors::InvalidArgument("x must have a channel dimension"));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    const int C = static_cast<int>(x.dim_size(x.dims() - 1));
    if (x.NumElements() == 0 || C == 0) return;
    const int64_t pixels = x.NumElements() / C;
    const T* xp = x.flat<T>().data();
    const T* gp = g.flat<T>().data();
    T* dxp = dx->flat<T>().data();
    const Params q = q_;
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
        pixels, kGradientCost * C,
        [&](int64_t begin, int64_t end) { GradientRows(xp, gp, dxp, begin, end, C, q); });
  }

 private:
  Params q_;
};

}  // namespace

#define REGISTER(T)                                                                                     \
  REGISTER_KERNEL_BUILDER(Name("LeuknetCrossChannelNorm").Device(DEVICE_CPU).TypeConstraint<T>("T"),     \
                          CrossChannelNormOp<T>);                                                        \
  REGISTER_KERNEL_BUILDER(Name("LeuknetCrossChannelNormGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          CrossChannelNormGradOp<T>);

REGISTER(float)
REGISTER(bfloat16)
REGISTER(Eigen::half)
