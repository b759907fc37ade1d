// MATLAB crossChannelNormalizationLayer as one pass over each pixel's channel vector, forward and backward.
//
//   ss[c] = sum(x[c - before .. c + after]^2)   (truncated at the first and last channels)
//   d     = k + scale * ss,  p = d^-beta,  y = x * p
//   dx    = g * p - 2 * scale * beta * x * sum(t[c - after .. c + before]),  t = g * x * p / d
//
// The whole window lives inside one pixel's channel vector, so each pixel is read once and written once
// (the XLA version needs two kernels and an intermediate tensor for the backward pass). Arithmetic is float32
// for float32, bfloat16 and float16 tensors. Built on first use by leuknet/ops/__init__.py.
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

// Pixels are processed in blocks of about kBlock floats (L1-resident; 256 measured best of 256 to 8192 at
// 64 channels): the element-wise loops run over whole blocks, longer vectorised loops than one pixel gives.
constexpr int kBlock = 256;

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

struct Buffers {  // one per shard: block-sized float arrays, with room for the window's overhang
  explicit Buffers(int64_t n, int pad, int count) : storage(count * (n + 2 * pad), 0.0f), n(n), pad(pad) {}
  float* operator[](int i) { return storage.data() + i * (n + 2 * pad) + pad; }
  std::vector<float> storage;
  int64_t n;
  int pad;
};

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
    const int rows_per_block = C >= kBlock ? 1 : kBlock / C;
    auto work = [&](int64_t begin, int64_t end) {
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
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(pixels, 30 * C, work);
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
    const float c2 = 2.0f * q.scale * q.beta;
    const int rows_per_block = C >= kBlock ? 1 : kBlock / C;
    auto work = [&](int64_t begin, int64_t end) {
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
    };
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(pixels, 60 * C, work);
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
