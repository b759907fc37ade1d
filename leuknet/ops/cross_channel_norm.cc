// MATLAB crossChannelNormalizationLayer as one pass over each pixel's channel vector, forward and backward.
//
//   ss[c] = sum(x[c - before .. c + after]^2)   (truncated at the first and last channels)
//   d     = k + scale * ss,  p = d^-beta,  y = x * p
//   dx    = g * p - 2 * scale * beta * x * sum(t[c - after .. c + before]),  t = g * x * p / d
//
// relu = true: x is a ReLU's input; the forward pass normalises max(x, 0) and the gradient is the one with
// respect to x (zero where x <= 0, as TensorFlow's ReluGrad), so a training graph needs no ReLU gradient pass
// between this layer and the convolution before it (leuknet/layers.py: fused blocks, decided when the model is built).
//
// The whole window lives inside one pixel's channel vector, so each pixel is read once and written once
// (the XLA version needs two kernels and an intermediate tensor for the backward pass). Arithmetic is float32
// for float32, bfloat16 and float16 tensors. Built on first use by leuknet/ops/__init__.py.
//
// LeuknetCrossChannelNormMaxPool / ...Grad: the normalisation followed by max pooling (no padding) in one kernel
// each way, for relu -> crossnorm -> maxpool blocks (leuknet/layers.py: fused blocks, decided when the model is built): the forward pass keeps
// only a few normalised rows at a time and records each window's first maximum (row-major, as an 8-bit index);
// the gradient sums, per input pixel, the pooled gradients of the windows whose maximum it is and goes on as
// the normalisation's gradient.
//
// Two implementations of the same arithmetic (ForwardRows, GradientRows, PoolPixel): with AVX-512 (F, BW, VL)
// one pixel at a time in 16-float vectors; elsewhere blocks of pixels in plain loops the compiler vectorises.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

using namespace tensorflow;

// before/after: channels of the window below and above c; scale = Alpha / w
#define LEUKNET_CCN_ATTRS                  \
  Attr("T: {float, bfloat16, half}")       \
      .Attr("before: int")                 \
      .Attr("after: int")                  \
      .Attr("scale: float")                \
      .Attr("beta: float")                 \
      .Attr("k: float")                    \
      .Attr("relu: bool = false")

// max pooling without padding, N x H x W x C: pool_h x pool_w windows every stride_h rows and stride_w columns
#define LEUKNET_POOL_ATTRS                 \
  Attr("pool_h: int >= 1")                 \
      .Attr("pool_w: int >= 1")            \
      .Attr("stride_h: int >= 1")          \
      .Attr("stride_w: int >= 1")

namespace {
Status SameShape(shape_inference::InferenceContext* c) {
  c->set_output(0, c->input(0));
  return OkStatus();
}

Status PooledShape(shape_inference::InferenceContext* c) {
  int ph, pw, sh, sw;
  TF_RETURN_IF_ERROR(c->GetAttr("pool_h", &ph));
  TF_RETURN_IF_ERROR(c->GetAttr("pool_w", &pw));
  TF_RETURN_IF_ERROR(c->GetAttr("stride_h", &sh));
  TF_RETURN_IF_ERROR(c->GetAttr("stride_w", &sw));
  shape_inference::ShapeHandle x;
  TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
  auto pooled = [&](int axis, int pool, int stride) {
    const shape_inference::DimensionHandle d = c->Dim(x, axis);
    if (!c->ValueKnown(d) || c->Value(d) < pool) return c->UnknownDim();
    return c->MakeDim((c->Value(d) - pool) / stride + 1);
  };
  const shape_inference::ShapeHandle y =
      c->MakeShape({c->Dim(x, 0), pooled(1, ph, sh), pooled(2, pw, sw), c->Dim(x, 3)});
  c->set_output(0, y);
  c->set_output(1, y);
  return OkStatus();
}
}  // namespace

REGISTER_OP("LeuknetCrossChannelNorm").Input("x: T").Output("y: T").LEUKNET_CCN_ATTRS.SetShapeFn(SameShape);

REGISTER_OP("LeuknetCrossChannelNormGrad")
    .Input("x: T")
    .Input("g: T")
    .Output("dx: T")
    .LEUKNET_CCN_ATTRS.SetShapeFn(SameShape);

// The normalisation followed by max pooling, for graphs where only the pooling reads the normalised map:
// y = maxpool(norm(x)) and argmax, each window's first maximum (row-major) as an index into the window; the
// normalised map is never stored. The gradient (with respect to x) takes the pooled gradient and argmax. With
// with_argmax = false (inference: no gradient to come) argmax is empty (shape [0]) and the pooling is separable:
// column maxima of the window's rows, then maxima of neighbouring columns. The same values, except that where
// +0 and -0 tie the sign of a zero may differ, and a NaN (never chosen unless it is a window's first pixel, as
// with argmax) also hides the rest of its column in the window when it is in the window's first row.
REGISTER_OP("LeuknetCrossChannelNormMaxPool")
    .Input("x: T")
    .Output("y: T")
    .Output("argmax: uint8")
    .Attr("with_argmax: bool = true")
    .LEUKNET_CCN_ATTRS.LEUKNET_POOL_ATTRS.SetShapeFn([](shape_inference::InferenceContext* c) {
      TF_RETURN_IF_ERROR(PooledShape(c));
      bool with_argmax = true;
      TF_RETURN_IF_ERROR(c->GetAttr("with_argmax", &with_argmax));
      if (!with_argmax) c->set_output(1, c->MakeShape({0}));
      return OkStatus();
    });

REGISTER_OP("LeuknetCrossChannelNormMaxPoolGrad")
    .Input("x: T")
    .Input("argmax: uint8")
    .Input("g: T")
    .Output("dx: T")
    .LEUKNET_CCN_ATTRS.LEUKNET_POOL_ATTRS.SetShapeFn(SameShape);

namespace {

struct Params {
  int before, after;
  float scale, beta, k;
  bool relu;
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

// Max pooling geometry: input H x W, output PH x PW
struct Pool {
  int ph, pw, sh, sw;
  int64_t H, W, PH, PW;

  // The windows that contain row h (column w): the first and last window row (column), i0 > i1 when none
  void RowWindows(int64_t h, int64_t* i0, int64_t* i1) const {
    *i0 = h >= ph ? (h - ph) / sh + 1 : 0, *i1 = std::min(PH - 1, h / sh);
  }
  void ColWindows(int64_t w, int64_t* j0, int64_t* j1) const {
    *j0 = w >= pw ? (w - pw) / sw + 1 : 0, *j1 = std::min(PW - 1, w / sw);
  }
};

// For loops of one to four turns run once per pixel: GCC's vectoriser would turn them into 64-byte vector code
// whose set-up costs more than the loop (a quarter of the pooled gradient's time, measured)
#if defined(__GNUC__) && !defined(__clang__)
#define LEUKNET_SCALAR __attribute__((optimize("no-tree-vectorize")))
#else
#define LEUKNET_SCALAR
#endif

// Where GradientRows gets the gradient with respect to the normalisation's output, pixel r: a tensor shaped like
// x (DenseG), or gathered from a max pooling's output gradient and argmax (PooledG: the sum over the windows
// whose maximum pixel r is)
template <typename T>
struct DenseG {
  const T* g;
  int C;
  const T* row = nullptr;
  void Prepare(int64_t r) { row = g + r * C; }
};

template <typename T>
struct PooledG {
  PooledG(const T* g, const uint8_t* argmax, int C, const Pool& pool)
      : g(g), argmax(argmax), C(C), pool(pool), cols(2 * pool.W) {
    for (int64_t c = 0; c < pool.W; ++c) pool.ColWindows(c, &cols[2 * c], &cols[2 * c + 1]);
  }
  const T* g;
  const uint8_t* argmax;
  int C;
  Pool pool;
  int count = 0;
  int64_t out[256];
  uint8_t index[256];
  // The windows that contain input pixel r (its output pixels, r's index in each, row-major): pixels come in
  // order within a shard, so their coordinates are counted on and each row's and column's windows looked up
  // rather than divided out per pixel.
  std::vector<int64_t> cols;  // per column w: its first and last window column
  int64_t next = -1, nh = 0, w = 0;  // the pixel after the last one prepared; r as (n * H + h, w)
  int64_t h = 0, i0 = 0, i1 = -1, base = 0;  // r's row, its windows' rows, the output offset of (n, 0, 0)
  void Row() {
    const int64_t n = nh / pool.H;
    h = nh - n * pool.H;
    pool.RowWindows(h, &i0, &i1);
    base = n * pool.PH * pool.PW;
  }
  LEUKNET_SCALAR void Prepare(int64_t r) {
    if (r == next) {
      if (++w == pool.W) w = 0, ++nh, Row();
    } else {
      nh = r / pool.W, w = r - nh * pool.W;
      Row();
    }
    next = r + 1;
    const int64_t j0 = cols[2 * w], j1 = cols[2 * w + 1];
    count = 0;
    for (int64_t i = i0; i <= i1; ++i) {
      for (int64_t j = j0; j <= j1; ++j) {
        out[count] = base + i * pool.PW + j;
        index[count++] = static_cast<uint8_t>((h - i * pool.sh) * pool.pw + (w - j * pool.sw));
      }
    }
  }
};

// ForwardRows and GradientRows compute pixels [begin, end) of C channels each; kForwardCost and kGradientCost
// are their cost per channel for ParallelFor's sharding. PoolPixel: one output pixel of a max pooling.
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
#if defined(__AVX512BF16__)
  // VCVTNEPS2BF16 rounds to nearest even and quiets NaN as the integer version below, in one instruction, but
  // reads subnormal inputs as zero: lanes holding one (rare) take the integer version.
  if (__builtin_expect(_mm512_fpclass_ps_mask(v, 0x20) == 0, 1)) {  // 0x20: denormal
    _mm256_mask_storeu_epi16(p, m, reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
    return;
  }
#endif
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

// x, or max(x, 0) when relu (NaN stays NaN, as max(0, NaN) returns its second operand)
template <typename T>
inline __m512 LoadX(const T* p, __mmask16 m, bool relu) {
  const __m512 v = LoadV(p, m);
  return relu ? _mm512_max_ps(_mm512_setzero_ps(), v) : v;
}

// Chunk masks of C channels: all lanes but in the last chunk when C is not a multiple of 16
struct Masks {
  explicit Masks(int C)
      : n((C + 15) / 16), last(C % 16 == 0 ? 0xffff : static_cast<__mmask16>((1u << (C % 16)) - 1)) {}
  __mmask16 operator[](int i) const { return i == n - 1 ? last : static_cast<__mmask16>(0xffff); }
  int n;
  __mmask16 last;
};

// Which d^-beta: kBetaAny (pow), or the exponents power_neg_beta computes from square roots (MATLAB's default
// 0.75, and 0.5); a template argument, so that the choice is made once per call, not per chunk
enum BetaKind { kBetaAny, kBeta075, kBeta05 };

// p = d^-beta for one chunk, and *inv = 1/d when inv is given (see power_neg_beta)
template <int B>
inline __m512 PowerNegBeta(__m512 d, float beta, __m512* inv) {
  if (B != kBetaAny) {
    const __mmask16 big = is_inf(d);
    const __m512 r = rsqrt_nr(d), zero = _mm512_setzero_ps();
    const __m512 r2 = _mm512_mask_blend_ps(big, _mm512_mul_ps(r, r), zero);
    if (inv) *inv = r2;
    return B == kBeta05 ? _mm512_mask_blend_ps(big, r, zero)
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

// The window's offsets o = -lo .. hi as lane permutes of (chunk before, chunk) or (chunk, chunk after). LO and HI:
// the extents when known at compile time (the loops unroll and the permute indices stay in registers), else -1
// (lo and hi from the constructor).
template <int LO = -1, int HI = -1>
struct Window {
  Window(int lo_, int hi_) : lo(LO >= 0 ? LO : lo_), hi(HI >= 0 ? HI : hi_) {
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
  const int lo, hi;
  __m512i index[LO >= 0 && HI >= 0 ? LO + HI + 1 : 32];
};

template <typename T, int LO, int HI, int B>
void ForwardRowsT(const T* xp, T* yp, int64_t begin, int64_t end, int C, const Params& q) {
  const Masks mask(C);
  const int n = mask.n;
  const Window<LO, HI> win(q.before, q.after);
  const __m512 kv = _mm512_set1_ps(q.k), sv = _mm512_set1_ps(q.scale);
  Chunks buf(n, 2);
  __m512 *xf = buf[0], *sq = buf[1];
  for (int64_t r = begin; r < end; ++r) {
    const T* x = xp + r * C;
    for (int i = 0; i < n; ++i) {
      const __m512 v = LoadX(x + 16 * i, mask[i], q.relu);
      xf[i] = v;
      sq[i] = _mm512_mul_ps(v, v);
    }
    T* y = yp + r * C;
    for (int i = 0; i < n; ++i) {
      const __m512 p = PowerNegBeta<B>(_mm512_fmadd_ps(sv, win.Sum(sq, i), kv), q.beta, nullptr);
      StoreV(y + 16 * i, _mm512_mul_ps(xf[i], p), mask[i]);
    }
  }
}

// Calls run(lo, hi, b) with the window extents and the exponent's kind of q as std::integral_constant values, the
// compile-time constants where they are the common ones (windows 5 and 3, centred; beta 0.75 or 0.5), else -1
// (the runtime extents): the same arithmetic in the same order either way.
template <typename Run>
inline void Dispatch(const Params& q, Run&& run) {
  using std::integral_constant;
  using Any = integral_constant<int, -1>;
  const int b = q.beta == 0.75f ? kBeta075 : q.beta == 0.5f ? kBeta05 : kBetaAny;
  using B075 = integral_constant<int, kBeta075>;
  if (q.before == 2 && q.after == 2 && b == kBeta075)
    return run(integral_constant<int, 2>(), integral_constant<int, 2>(), B075());
  if (q.before == 1 && q.after == 1 && b == kBeta075)
    return run(integral_constant<int, 1>(), integral_constant<int, 1>(), B075());
  if (b == kBeta075) return run(Any(), Any(), B075());
  if (b == kBeta05) return run(Any(), Any(), integral_constant<int, kBeta05>());
  return run(Any(), Any(), integral_constant<int, kBetaAny>());
}

template <typename T>
void ForwardRows(const T* xp, T* yp, int64_t begin, int64_t end, int C, const Params& q) {
  Dispatch(q, [&](auto lo, auto hi, auto b) {
    ForwardRowsT<T, decltype(lo)::value, decltype(hi)::value, decltype(b)::value>(xp, yp, begin, end, C, q);
  });
}

template <typename T>
inline __m512 GChunk(const DenseG<T>& s, int i, __mmask16 m) { return LoadV(s.row + 16 * i, m); }

template <typename T>
inline __m512 GChunk(const PooledG<T>& s, int i, __mmask16 m) {
  __m512 acc = _mm512_setzero_ps();
  for (int w = 0; w < s.count; ++w) {
    const int64_t o = s.out[w] * s.C + 16 * i;
    const __mmask16 hit =
        _mm_mask_cmpeq_epi8_mask(m, _mm_maskz_loadu_epi8(m, s.argmax + o), _mm_set1_epi8(s.index[w]));
    acc = _mm512_add_ps(acc, LoadV(s.g + o, hit));
  }
  return acc;
}

template <typename T>
void PoolPixel(const T* const* rows, int64_t col, int C, const Pool& pool, T* y, uint8_t* argmax) {
  const Masks mask(C);
  for (int i = 0, c = 0; i < mask.n; ++i, c += 16) {
    const __mmask16 m = mask[i];
    __m512 best = LoadV(rows[0] + col * C + c, m);
    __m512i index = _mm512_setzero_si512();
    for (int kh = 0; kh < pool.ph; ++kh) {
      for (int kw = kh == 0 ? 1 : 0; kw < pool.pw; ++kw) {
        const __m512 v = LoadV(rows[kh] + (col + kw) * C + c, m);
        const __mmask16 gt = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ);
        best = _mm512_mask_mov_ps(best, gt, v);
        index = _mm512_mask_mov_epi32(index, gt, _mm512_set1_epi32(kh * pool.pw + kw));
      }
    }
    StoreV(y + c, best, m);
    _mm_mask_storeu_epi8(argmax + c, m, _mm512_cvtepi32_epi8(index));
  }
}

// One output row of a max pooling without argmax: the maxima of each column's pool_h rows into colmax (float,
// cols x C), then of pool_w neighbouring columns every stride_w. max(v, best) keeps best unless v > best, as
// PoolPixel's comparison (ties and NaN resolve as there along each direction; see the op's comment).
template <typename T>
void PoolRow(const T* const* rows, int C, const Pool& pool, float* colmax, T* y) {
  const int64_t cols = (pool.PW - 1) * pool.sw + pool.pw;
  const Masks mask(C);
  for (int64_t col = 0; col < cols; ++col) {
    for (int i = 0, c = 0; i < mask.n; ++i, c += 16) {
      const __mmask16 m = mask[i];
      __m512 best = LoadV(rows[0] + col * C + c, m);
      for (int kh = 1; kh < pool.ph; ++kh) best = _mm512_max_ps(LoadV(rows[kh] + col * C + c, m), best);
      _mm512_mask_storeu_ps(colmax + col * C + c, m, best);
    }
  }
  for (int64_t j = 0; j < pool.PW; ++j) {
    const float* first = colmax + j * pool.sw * C;
    for (int i = 0, c = 0; i < mask.n; ++i, c += 16) {
      const __mmask16 m = mask[i];
      __m512 best = _mm512_maskz_loadu_ps(m, first + c);
      for (int kw = 1; kw < pool.pw; ++kw) best = _mm512_max_ps(_mm512_maskz_loadu_ps(m, first + kw * C + c), best);
      StoreV(y + j * C + c, best, m);
    }
  }
}

template <typename T, typename G, int LO, int HI, int B>
void GradientRowsT(const T* xp, G& gs, T* dxp, int64_t begin, int64_t end, int C, const Params& q) {
  const Masks mask(C);
  const int n = mask.n;
  const Window<LO, HI> win(q.before, q.after);
  const Window<HI, LO> mirrored(q.after, q.before);
  const __m512 kv = _mm512_set1_ps(q.k), sv = _mm512_set1_ps(q.scale), c2 = _mm512_set1_ps(2.0f * q.scale * q.beta);
  Chunks buf(n, 5);
  __m512 *xf = buf[0], *gf = buf[1], *sq = buf[2], *p = buf[3], *t = buf[4];
  for (int64_t r = begin; r < end; ++r) {
    const T* x = xp + r * C;
    gs.Prepare(r);
    for (int i = 0; i < n; ++i) {
      const __mmask16 m = mask[i];
      const __m512 v = LoadX(x + 16 * i, m, q.relu);
      xf[i] = v;
      sq[i] = _mm512_mul_ps(v, v);
      gf[i] = GChunk(gs, i, m);
    }
    for (int i = 0; i < n; ++i) {  // t = g x d^-beta / d
      __m512 inv;
      const __m512 pv = PowerNegBeta<B>(_mm512_fmadd_ps(sv, win.Sum(sq, i), kv), q.beta, &inv);
      p[i] = pv;
      t[i] = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(gf[i], xf[i]), pv), inv);
    }
    T* dx = dxp + r * C;
    for (int i = 0; i < n; ++i) {  // dx = g p - c2 x W^T(t), W^T the mirrored window
      const __m512 gp_ = _mm512_mul_ps(gf[i], p[i]);
      __m512 v = _mm512_fnmadd_ps(_mm512_mul_ps(c2, xf[i]), mirrored.Sum(t, i), gp_);
      if (q.relu) v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(xf[i], _mm512_setzero_ps(), _CMP_GT_OQ), v);
      StoreV(dx + 16 * i, v, mask[i]);
    }
  }
}

template <typename T, typename G>
void GradientRows(const T* xp, G& gs, T* dxp, int64_t begin, int64_t end, int C, const Params& q) {
  Dispatch(q, [&](auto lo, auto hi, auto b) {
    GradientRowsT<T, G, decltype(lo)::value, decltype(hi)::value, decltype(b)::value>(xp, gs, dxp, begin, end, C, q);
  });
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
inline void LoadX(const T* __restrict src, float* __restrict dst, int64_t n, bool relu) {
  Load(src, dst, n);
  if (relu)
    for (int64_t j = 0; j < n; ++j) dst[j] = dst[j] < 0.0f ? 0.0f : dst[j];  // NaN stays NaN
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
    LoadX(xp + r0 * C, xf, n, q.relu);
    for (int64_t j = 0; j < n; ++j) sq[j] = xf[j] * xf[j];
    window_sum(sq, d, rows, C, q.before, q.after);
    for (int64_t j = 0; j < n; ++j) d[j] = q.k + q.scale * d[j];
    power_neg_beta(d, sq, nullptr, n, q.beta);  // sq now holds p
    for (int64_t j = 0; j < n; ++j) y[j] = xf[j] * sq[j];
    Store(y, yp + r0 * C, n);
  }
}

template <typename T>
inline void GRows(DenseG<T>& s, int64_t r0, int rows, float* gf) { Load(s.g + r0 * s.C, gf, int64_t(rows) * s.C); }

template <typename T>
inline void GRows(PooledG<T>& s, int64_t r0, int rows, float* gf) {
  const int C = s.C;
  for (int r = 0; r < rows; ++r) {
    float* out = gf + static_cast<int64_t>(r) * C;
    std::fill(out, out + C, 0.0f);
    s.Prepare(r0 + r);
    for (int w = 0; w < s.count; ++w) {
      const T* g = s.g + s.out[w] * C;
      const uint8_t* a = s.argmax + s.out[w] * C;
      for (int c = 0; c < C; ++c) out[c] += a[c] == s.index[w] ? static_cast<float>(g[c]) : 0.0f;
    }
  }
}

template <typename T>
void PoolPixel(const T* const* rows, int64_t col, int C, const Pool& pool, T* y, uint8_t* argmax) {
  for (int c = 0; c < C; ++c) {
    float best = static_cast<float>(rows[0][col * C + c]);
    uint8_t index = 0;
    for (int kh = 0; kh < pool.ph; ++kh) {
      for (int kw = kh == 0 ? 1 : 0; kw < pool.pw; ++kw) {
        const float v = static_cast<float>(rows[kh][(col + kw) * C + c]);
        if (v > best) best = v, index = static_cast<uint8_t>(kh * pool.pw + kw);
      }
    }
    y[c] = static_cast<T>(best);
    argmax[c] = index;
  }
}

template <typename T>
void PoolRow(const T* const* rows, int C, const Pool& pool, float* colmax, T* y) {
  const int64_t cols = (pool.PW - 1) * pool.sw + pool.pw;
  for (int64_t col = 0; col < cols; ++col) {
    for (int c = 0; c < C; ++c) {
      float best = static_cast<float>(rows[0][col * C + c]);
      for (int kh = 1; kh < pool.ph; ++kh) {
        const float v = static_cast<float>(rows[kh][col * C + c]);
        if (v > best) best = v;
      }
      colmax[col * C + c] = best;
    }
  }
  for (int64_t j = 0; j < pool.PW; ++j) {
    const float* first = colmax + j * pool.sw * C;
    for (int c = 0; c < C; ++c) {
      float best = first[c];
      for (int kw = 1; kw < pool.pw; ++kw)
        if (first[kw * C + c] > best) best = first[kw * C + c];
      y[j * C + c] = static_cast<T>(best);
    }
  }
}

template <typename T, typename G>
void GradientRows(const T* xp, G& gs, T* dxp, int64_t begin, int64_t end, int C, const Params& q) {
  const float c2 = 2.0f * q.scale * q.beta;
  const int rows_per_block = C >= kBlock ? 1 : kBlock / C;
  Buffers buf(static_cast<int64_t>(rows_per_block) * C, q.before + q.after, 6);
  float *__restrict xf = buf[0], *__restrict gf = buf[1], *__restrict sq = buf[2], *__restrict d = buf[3],
        *__restrict p = buf[4], *__restrict inv = buf[5];
  for (int64_t r0 = begin; r0 < end; r0 += rows_per_block) {
    const int rows = static_cast<int>(std::min<int64_t>(rows_per_block, end - r0));
    const int64_t n = static_cast<int64_t>(rows) * C;
    LoadX(xp + r0 * C, xf, n, q.relu);
    GRows(gs, r0, rows, gf);
    for (int64_t j = 0; j < n; ++j) sq[j] = xf[j] * xf[j];
    window_sum(sq, d, rows, C, q.before, q.after);
    for (int64_t j = 0; j < n; ++j) d[j] = q.k + q.scale * d[j];
    power_neg_beta(d, p, inv, n, q.beta);
    for (int64_t j = 0; j < n; ++j) sq[j] = gf[j] * xf[j] * p[j] * inv[j];  // t
    window_sum(sq, d, rows, C, q.after, q.before);  // the transpose: the mirrored window
    for (int64_t j = 0; j < n; ++j) inv[j] = gf[j] * p[j] - c2 * xf[j] * d[j];
    if (q.relu)
      for (int64_t j = 0; j < n; ++j) inv[j] = xf[j] > 0.0f ? inv[j] : 0.0f;
    Store(inv, dxp + r0 * C, n);
  }
}
#endif

// Units of work: (image, output row). The normalised input rows a unit needs are computed into a ring of pool_h
// rows (row h in slot h % pool_h), so rows shared by neighbouring windows are computed once per shard. argmax:
// null for the pooling without it (PoolRow).
template <typename T>
void NormPoolRows(const T* xp, T* yp, uint8_t* argmax, int64_t begin, int64_t end, int C, const Params& q,
                  const Pool& pool) {
  const int64_t row = pool.W * C;
  std::vector<T> ring(static_cast<size_t>(pool.ph * row));
  std::vector<int64_t> held(pool.ph, -1);
  std::vector<const T*> rows(pool.ph);
  std::vector<float> colmax(argmax == nullptr ? static_cast<size_t>(pool.W * C) : 0);  // PoolRow's
  for (int64_t u = begin; u < end; ++u) {
    const int64_t n = u / pool.PH, i = u % pool.PH;
    for (int kh = 0; kh < pool.ph; ++kh) {
      const int64_t h = i * pool.sh + kh, key = n * pool.H + h;
      const int slot = static_cast<int>(h % pool.ph);
      T* dst = ring.data() + slot * row;
      if (held[slot] != key) {
        ForwardRows(xp + key * row, dst, 0, pool.W, C, q);
        held[slot] = key;
      }
      rows[kh] = dst;
    }
    if (argmax == nullptr) {
      PoolRow(rows.data(), C, pool, colmax.data(), yp + u * pool.PW * C);
      continue;
    }
    for (int64_t j = 0; j < pool.PW; ++j) {
      const int64_t o = (u * pool.PW + j) * C;
      PoolPixel(rows.data(), j * pool.sw, C, pool, yp + o, argmax + o);
    }
  }
}

void GetParams(OpKernelConstruction* ctx, Params* q) {
  OP_REQUIRES_OK(ctx, ctx->GetAttr("before", &q->before));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("after", &q->after));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("scale", &q->scale));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("beta", &q->beta));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("k", &q->k));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("relu", &q->relu));
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
        [&](int64_t begin, int64_t end) {
          DenseG<T> gs{gp, C};
          GradientRows(xp, gs, dxp, begin, end, C, q);
        });
  }

 private:
  Params q_;
};

void GetPool(OpKernelConstruction* ctx, Pool* pool) {
  OP_REQUIRES_OK(ctx, ctx->GetAttr("pool_h", &pool->ph));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("pool_w", &pool->pw));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("stride_h", &pool->sh));
  OP_REQUIRES_OK(ctx, ctx->GetAttr("stride_w", &pool->sw));
  OP_REQUIRES(ctx, pool->ph * pool->pw <= 256,
              errors::InvalidArgument("pool_h * pool_w must be at most 256 (window indices are 8-bit)"));
}

// The pooling geometry for input x (N x H x W x C), or an error
Status Geometry(const Tensor& x, Pool* pool) {
  if (x.dims() != 4) return errors::InvalidArgument("x must be N x H x W x C, got ", x.shape().DebugString());
  pool->H = x.dim_size(1);
  pool->W = x.dim_size(2);
  if (pool->H < pool->ph || pool->W < pool->pw)
    return errors::InvalidArgument("the pooling window is larger than the input ", x.shape().DebugString());
  pool->PH = (pool->H - pool->ph) / pool->sh + 1;
  pool->PW = (pool->W - pool->pw) / pool->sw + 1;
  return OkStatus();
}

template <typename T>
class CrossChannelNormMaxPoolOp : public OpKernel {
 public:
  explicit CrossChannelNormMaxPoolOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    GetParams(ctx, &q_);
    GetPool(ctx, &pool_);
    OP_REQUIRES_OK(ctx, ctx->GetAttr("with_argmax", &with_argmax_));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    Pool pool = pool_;
    OP_REQUIRES_OK(ctx, Geometry(x, &pool));
    const int64_t N = x.dim_size(0);
    const int C = static_cast<int>(x.dim_size(3));
    const TensorShape shape({N, pool.PH, pool.PW, C});
    Tensor *y = nullptr, *argmax = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, shape, &y));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, with_argmax_ ? shape : TensorShape({0}), &argmax));
    if (y->NumElements() == 0) return;
    const T* xp = x.flat<T>().data();
    T* yp = y->flat<T>().data();
    uint8_t* ap = with_argmax_ ? argmax->flat<uint8_t>().data() : nullptr;
    const Params q = q_;
    const int64_t cost = (pool.sh * kForwardCost + pool.ph * pool.pw) * pool.W * C;
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
        N * pool.PH, cost, [&](int64_t begin, int64_t end) { NormPoolRows(xp, yp, ap, begin, end, C, q, pool); });
  }

 private:
  Params q_;
  Pool pool_;
  bool with_argmax_ = true;
};

template <typename T>
class CrossChannelNormMaxPoolGradOp : public OpKernel {
 public:
  explicit CrossChannelNormMaxPoolGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    GetParams(ctx, &q_);
    GetPool(ctx, &pool_);
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& argmax = ctx->input(1);
    const Tensor& g = ctx->input(2);
    Pool pool = pool_;
    OP_REQUIRES_OK(ctx, Geometry(x, &pool));
    const int C = static_cast<int>(x.dim_size(3));
    const TensorShape pooled({x.dim_size(0), pool.PH, pool.PW, C});
    OP_REQUIRES(ctx, g.shape() == pooled && argmax.shape() == pooled,
                errors::InvalidArgument("argmax and g must be ", pooled.DebugString(), ", got ",
                                        argmax.shape().DebugString(), " and ", g.shape().DebugString()));
    Tensor* dx = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, x.shape(), &dx));
    if (x.NumElements() == 0) return;
    const T* xp = x.flat<T>().data();
    const T* gp = g.flat<T>().data();
    const uint8_t* ap = argmax.flat<uint8_t>().data();
    T* dxp = dx->flat<T>().data();
    const Params q = q_;
    ctx->device()->tensorflow_cpu_worker_threads()->workers->ParallelFor(
        x.NumElements() / C, (kGradientCost + 8) * C, [&](int64_t begin, int64_t end) {
          PooledG<T> gs(gp, ap, C, pool);
          GradientRows(xp, gs, dxp, begin, end, C, q);
        });
  }

 private:
  Params q_;
  Pool pool_;
};

}  // namespace

#define REGISTER(T)                                                                                     \
  REGISTER_KERNEL_BUILDER(Name("LeuknetCrossChannelNorm").Device(DEVICE_CPU).TypeConstraint<T>("T"),     \
                          CrossChannelNormOp<T>);                                                        \
  REGISTER_KERNEL_BUILDER(Name("LeuknetCrossChannelNormGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          CrossChannelNormGradOp<T>);                                                    \
  REGISTER_KERNEL_BUILDER(Name("LeuknetCrossChannelNormMaxPool").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          CrossChannelNormMaxPoolOp<T>);                                                 \
  REGISTER_KERNEL_BUILDER(                                                                               \
      Name("LeuknetCrossChannelNormMaxPoolGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"),              \
      CrossChannelNormMaxPoolGradOp<T>);

REGISTER(float)
REGISTER(bfloat16)
REGISTER(Eigen::half)
