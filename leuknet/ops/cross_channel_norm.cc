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
// r = d^-1/2, d^-3/4 = r * sqrt(r), 1/d = r * r.
inline void power_neg_beta(const float* __restrict d, float* __restrict p, float* __restrict inv, int64_t n,
                           float beta) {
  if (beta == 0.75f) {
    for (int64_t i = 0; i < n; ++i) {
      const float r = 1.0f / std::sqrt(d[i]);
      p[i] = r * std::sqrt(r);
      if (inv) inv[i] = 1.0f / d[i];
    }
  } else if (beta == 0.5f) {
    for (int64_t i = 0; i < n; ++i) {
      p[i] = 1.0f / std::sqrt(d[i]);
      if (inv) inv[i] = 1.0f / d[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      p[i] = std::pow(d[i], -beta);
      if (inv) inv[i] = 1.0f / d[i];
    }
  }
}

// ForwardRows and GradientRows compute pixels [begin, end) of C channels each; kForwardCost and kGradientCost
// are their cost per channel for ParallelFor's sharding.
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
// Vector version: one pixel's channel vector at a time, in 16-float chunks (the last one masked when C is not a
// multiple of 16). Every chunk is stored to and loaded from a per-shard array at the same 64-byte-aligned place,
// so loads are served from the store buffer; a window's neighbouring channels come from the chunk before and the
// chunk after by a lane permute (unaligned loads straddling two recent stores stall the pipeline: measured 2-3x
// slower). The arrays have a zero chunk before the first and after the last channel, and the lanes past C stay 0
// (the input is loaded with those lanes zeroed), so windows need no edge case. Conversions: bfloat16 by integer
// rounding to nearest even (as Eigen's: subnormals kept, NaN stays NaN), float16 by the F16C instructions.
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

// p = d^-beta for one chunk, and *inv = 1/d when inv is given (see power_neg_beta)
inline __m512 PowerNegBeta(__m512 d, float beta, __m512* inv) {
  if (beta == 0.75f || beta == 0.5f) {
    const __mmask16 big = is_inf(d);
    const __m512 r = rsqrt_nr(d), zero = _mm512_setzero_ps();
    const __m512 r2 = _mm512_mask_blend_ps(big, _mm512_mul_ps(r, r), zero);
    if (inv) *inv = r2;
    return beta == 0.5f ? _mm512_mask_blend_ps(big, r, zero)
                        : _mm512_mask_blend_ps(big, _mm512_mul_ps(r2, rsqrt_nr(r)), zero);
  }
  alignas(64) float dv[16], pv[16], iv[16];
  _mm512_store_ps(dv, d);
  power_neg_beta(dv, pv, iv, 16, beta);
  if (inv) *inv = _mm512_load_ps(iv);
  return _mm512_load_ps(pv);
}

// Chunk arrays of one pixel: [0] and [chunks + 1] are zero, chunk i of the channels is at [i + 1].
struct Chunks {
  Chunks(int chunks, int count) : storage(count * (chunks + 2), _mm512_setzero_ps()), stride(chunks + 2) {}
  __m512* operator[](int i) { return storage.data() + i * stride + 1; }
  std::vector<__m512> storage;  // 64-byte aligned (C++17 aligned new)
  int stride;
};

// The window's offsets o = -lo .. hi as lane permutes of (chunk before, chunk) or (chunk, chunk after)
struct Window {
  Window(int lo, int hi) : lo(lo), hi(hi) {
    for (int o = -lo; o <= hi; ++o) {
      alignas(64) int32_t idx[16];
      for (int l = 0; l < 16; ++l) idx[l] = l + (o < 0 ? 16 + o : o);
      index[o + lo] = _mm512_load_si512(idx);
    }
  }
  // sum over o of v[16 i + l + o] for the 16 lanes l of chunk i (v: a Chunks row)
  __m512 Sum(const __m512* v, int i) const {
    const __m512 prev = v[i - 1], cur = v[i], next = v[i + 1];
    __m512 acc = cur;
    for (int o = -lo; o < 0; ++o) acc = _mm512_add_ps(acc, _mm512_permutex2var_ps(prev, index[o + lo], cur));
    for (int o = 1; o <= hi; ++o) acc = _mm512_add_ps(acc, _mm512_permutex2var_ps(cur, index[o + lo], next));
    return acc;
  }
  int lo, hi;
  __m512i index[32];
};

template <typename T>
void ForwardRows(const T* xp, T* yp, int64_t begin, int64_t end, int C, const Params& q) {
  const int n = (C + 15) / 16;
  const Window win(q.before, q.after);
  const __m512 kv = _mm512_set1_ps(q.k), sv = _mm512_set1_ps(q.scale);
  Chunks buf(n, 2);
  __m512 *xf = buf[0], *sq = buf[1];
  for (int64_t r = begin; r < end; ++r) {
    const T* x = xp + r * C;
    for (int i = 0; i < n; ++i) {
      const __m512 v = LoadV(x + 16 * i, ChunkMask(16 * i, C));
      xf[i] = v;
      sq[i] = _mm512_mul_ps(v, v);
    }
    T* y = yp + r * C;
    for (int i = 0; i < n; ++i) {
      const __m512 p = PowerNegBeta(_mm512_fmadd_ps(sv, win.Sum(sq, i), kv), q.beta, nullptr);
      StoreV(y + 16 * i, _mm512_mul_ps(xf[i], p), ChunkMask(16 * i, C));
    }
  }
}

template <typename T>
void GradientRows(const T* xp, const T* gp, T* dxp, int64_t begin, int64_t end, int C, const Params& q) {
  const int n = (C + 15) / 16;
  const Window win(q.before, q.after), mirrored(q.after, q.before);
  const __m512 kv = _mm512_set1_ps(q.k), sv = _mm512_set1_ps(q.scale), c2 = _mm512_set1_ps(2.0f * q.scale * q.beta);
  Chunks buf(n, 5);
  __m512 *xf = buf[0], *gf = buf[1], *sq = buf[2], *p = buf[3], *t = buf[4];
  for (int64_t r = begin; r < end; ++r) {
    const T* x = xp + r * C;
    const T* g = gp + r * C;
    for (int i = 0; i < n; ++i) {
      const __mmask16 m = ChunkMask(16 * i, C);
      const __m512 v = LoadV(x + 16 * i, m);
      xf[i] = v;
      sq[i] = _mm512_mul_ps(v, v);
      gf[i] = LoadV(g + 16 * i, m);
    }
    for (int i = 0; i < n; ++i) {  // t = g x d^-beta / d
      __m512 inv;
      const __m512 pv = PowerNegBeta(_mm512_fmadd_ps(sv, win.Sum(sq, i), kv), q.beta, &inv);
      p[i] = pv;
      t[i] = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(gf[i], xf[i]), pv), inv);
    }
    T* dx = dxp + r * C;
    for (int i = 0; i < n; ++i) {  // dx = g p - c2 x W^T(t), W^T the mirrored window
      const __m512 gp_ = _mm512_mul_ps(gf[i], p[i]);
      StoreV(dx + 16 * i, _mm512_fnmadd_ps(_mm512_mul_ps(c2, xf[i]), mirrored.Sum(t, i), gp_),
             ChunkMask(16 * i, C));
    }
  }
}
#else
// Plain-loop version: pixels in blocks of about kBlock floats (L1-resident; 256 measured best of 256 to 8192 at
// 64 channels): the element-wise loops run over whole blocks, longer vectorised loops than one pixel gives.
constexpr int kBlock = 256;
constexpr int kForwardCost = 30, kGradientCost = 60;

// Per-shard float32 working arrays of n floats each, zero-initialised, with `pad` floats on either side. Only
// [0, n) of an array is ever written, so the pads stay 0: a window may read past either end of the channels.
struct Buffers {
  explicit Buffers(int64_t n, int pad, int count) : storage(count * (n + 2 * pad), 0.0f), n(n), pad(pad) {}
  float* operator[](int i) { return storage.data() + i * (n + 2 * pad) + pad; }
  std::vector<float> storage;
  int64_t n;
  int pad;
};

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
