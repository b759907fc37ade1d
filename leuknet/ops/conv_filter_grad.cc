// The weight and bias gradients of a convolution with few input channels (an RGB network's first layer):
//
//   dw[i, j, c, f] = sum over n, oh, ow of x[n, oh * sh + i, ow * sw + j, c] * dy[n, oh, ow, f]
//   db[f]          = sum over n, oh, ow of dy[n, oh, ow, f]
//
// (no padding, no dilation; x is N x H x W x C, dy is N x OH x OW x F, dw is KH x KW x C x F as Keras stores it).
// With 3 input channels the patch has only KH * KW * 3 values (27 for 3 x 3), too few for the general
// convolution kernels' blocking: oneDNN's bfloat16 weight gradient of LeukNet's first layer ran 2-5x slower per
// FLOP than the other layers'. Here each output pixel's F gradients are multiplied by each of its patch values
// and accumulated in float32 registers (blocks of patch values x F), one image row at a time; each of a few
// shards per thread sums into its own float32 buffer and the buffers are added at the end. Arithmetic is float32 for
// float32, bfloat16 and float16 tensors; the results are rounded to the tensors' type once. Built with
// cross_channel_norm.cc by leuknet/ops/__init__.py; used by leuknet.layers.Conv2D in fused blocks.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/shape_inference.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

using namespace tensorflow;

REGISTER_OP("LeuknetConv2DFilterGrad")
    .Input("x: T")
    .Input("dy: T")
    .Output("dw: T")
    .Output("db: T")
    .Attr("T: {float, bfloat16, half}")
    .Attr("kh: int >= 1")
    .Attr("kw: int >= 1")
    .Attr("stride_h: int >= 1")
    .Attr("stride_w: int >= 1")
    .SetShapeFn([](shape_inference::InferenceContext* c) {
      int kh, kw;
      TF_RETURN_IF_ERROR(c->GetAttr("kh", &kh));
      TF_RETURN_IF_ERROR(c->GetAttr("kw", &kw));
      shape_inference::ShapeHandle x, dy;
      TF_RETURN_IF_ERROR(c->WithRank(c->input(0), 4, &x));
      TF_RETURN_IF_ERROR(c->WithRank(c->input(1), 4, &dy));
      c->set_output(0, c->MakeShape({c->MakeDim(kh), c->MakeDim(kw), c->Dim(x, 3), c->Dim(dy, 3)}));
      c->set_output(1, c->MakeShape({c->Dim(dy, 3)}));
      return OkStatus();
    });

namespace {

struct Geometry {
  int kh, kw, sh, sw;
  int64_t N, H, W, C, OH, OW, F;
  int K() const { return kh * kw * static_cast<int>(C); }
  // K padded to a multiple of 24, room for the vector code's blocks of patch values (24 / chunks of F) to be
  // whole
  int Kp() const { return (K() + 23) / 24 * 24; }
};

constexpr int kPixels = 64;  // output pixels per block: their float32 gradients (64 x F) stay in L1

// The unit's input rows and a block of output-pixel gradients in float32
template <typename T>
inline void ToFloat(const T* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__)
// bfloat16 and float16 in 16-value vectors (the compiler leaves Eigen's scalar conversions scalar)
template <>
inline void ToFloat(const bfloat16* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i h = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + i));
    _mm512_mask_storeu_ps(dst + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(h, 16)));
  }
}

template <>
inline void ToFloat(const Eigen::half* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = n - i >= 16 ? 0xffff : static_cast<__mmask16>((1u << (n - i)) - 1);
    _mm512_mask_storeu_ps(dst + i, m, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, src + i)));
  }
}
#endif

// acc[k * Fp + f] += sum over the block's pixels p of xr[koff[k] + p * step] * dyf[p * Fp + f]  (Fp: F padded)
// Plain loops (the compiler vectorises the f loop); used without AVX-512 and for F > 128.
inline void AccumulatePlain(const float* xr, const int* koff, int K, int64_t step, const float* dyf, int P, int Fp,
                            float* acc) {
  for (int p = 0; p < P; ++p) {
    const float* d = dyf + static_cast<int64_t>(p) * Fp;
    for (int k = 0; k < K; ++k) {
      const float v = xr[koff[k] + p * step];
      float* a = acc + static_cast<int64_t>(k) * Fp;
      for (int f = 0; f < Fp; ++f) a[f] += v * d[f];
    }
  }
}

#if defined(__AVX512F__)
// NCH chunks of 16 filters; KB patch values at a time in KB x NCH accumulator registers (at most 24 of 32)
template <int NCH>
void AccumulateVector(const float* xr, const int* koff, int K, int64_t step, const float* dyf, int P, float* acc) {
  constexpr int KB = 24 / NCH;
  constexpr int Fp = NCH * 16;
  const int blocks = (K + KB - 1) / KB;  // the last one may run into koff's and acc's padding
  for (int k0 = 0; k0 < blocks * KB; k0 += KB) {
    __m512 a[KB][NCH];
    int off[KB];
    for (int kk = 0; kk < KB; ++kk) {
      off[kk] = koff[k0 + kk];
      for (int ch = 0; ch < NCH; ++ch) a[kk][ch] = _mm512_setzero_ps();
    }
    for (int p = 0; p < P; ++p) {
      __m512 d[NCH];
      for (int ch = 0; ch < NCH; ++ch) d[ch] = _mm512_load_ps(dyf + p * Fp + ch * 16);
      const float* xp = xr + p * step;
      for (int kk = 0; kk < KB; ++kk) {
        const __m512 b = _mm512_set1_ps(xp[off[kk]]);
        for (int ch = 0; ch < NCH; ++ch) a[kk][ch] = _mm512_fmadd_ps(b, d[ch], a[kk][ch]);
      }
    }
    for (int kk = 0; kk < KB; ++kk) {
      float* out = acc + static_cast<int64_t>(k0 + kk) * Fp;
      for (int ch = 0; ch < NCH; ++ch)
        _mm512_storeu_ps(out + ch * 16, _mm512_add_ps(_mm512_loadu_ps(out + ch * 16), a[kk][ch]));
    }
  }
}
#endif

// F padded to whole 16-float chunks
inline int PaddedF(int64_t F) { return static_cast<int>((F + 15) / 16 * 16); }

inline void Accumulate(const float* xr, const int* koff, int K, int64_t step, const float* dyf, int P, int Fp,
                       float* acc) {
#if defined(__AVX512F__)
  switch (Fp / 16) {
    case 1: return AccumulateVector<1>(xr, koff, K, step, dyf, P, acc);
    case 2: return AccumulateVector<2>(xr, koff, K, step, dyf, P, acc);
    case 3: return AccumulateVector<3>(xr, koff, K, step, dyf, P, acc);
    case 4: return AccumulateVector<4>(xr, koff, K, step, dyf, P, acc);
    case 5: return AccumulateVector<5>(xr, koff, K, step, dyf, P, acc);
    case 6: return AccumulateVector<6>(xr, koff, K, step, dyf, P, acc);
    case 7: return AccumulateVector<7>(xr, koff, K, step, dyf, P, acc);
    case 8: return AccumulateVector<8>(xr, koff, K, step, dyf, P, acc);
    default: break;
  }
#endif
  AccumulatePlain(xr, koff, K, step, dyf, P, Fp, acc);
}

// Units of work: (image, output row). acc: K x Fp weight sums then Fp bias sums, this worker's.
template <typename T>
void FilterGradRows(const T* xp, const T* dyp, const Geometry& g, const std::vector<int>& koff, int64_t begin,
                    int64_t end, float* acc) {
  const int Fp = PaddedF(g.F), K = g.K();
  const int64_t row = g.W * g.C;
  std::vector<float> xr(static_cast<size_t>(g.kh * row));
  std::vector<float> dyf(static_cast<size_t>(kPixels) * Fp + 16, 0.0f);
  float* d = dyf.data() + ((64 - reinterpret_cast<uintptr_t>(dyf.data()) % 64) % 64) / sizeof(float);  // aligned
  float* bias = acc + static_cast<int64_t>(g.Kp()) * Fp;
  std::vector<float> row_bias(Fp);  // one row's bias sum, then added to the worker's (shorter running sums)
  for (int64_t u = begin; u < end; ++u) {
    const int64_t n = u / g.OH, oh = u % g.OH;
    std::fill(row_bias.begin(), row_bias.end(), 0.0f);
    ToFloat(xp + (n * g.H + oh * g.sh) * row, xr.data(), g.kh * row);  // input rows oh*sh .. oh*sh+kh-1
    const T* dy = dyp + u * g.OW * g.F;
    for (int64_t ow0 = 0; ow0 < g.OW; ow0 += kPixels) {
      const int P = static_cast<int>(std::min<int64_t>(kPixels, g.OW - ow0));
      for (int p = 0; p < P; ++p) {
        float* dp = d + static_cast<int64_t>(p) * Fp;
        ToFloat(dy + (ow0 + p) * g.F, dp, g.F);
        for (int f = 0; f < Fp; ++f) row_bias[f] += dp[f];  // lanes past F stay 0
      }
      Accumulate(xr.data() + ow0 * g.sw * g.C, koff.data(), K, g.sw * g.C, d, P, Fp, acc);
    }
    for (int f = 0; f < g.F; ++f) bias[f] += row_bias[f];
  }
}

template <typename T>
class Conv2DFilterGradOp : public OpKernel {
 public:
  explicit Conv2DFilterGradOp(OpKernelConstruction* ctx) : OpKernel(ctx) {
    OP_REQUIRES_OK(ctx, ctx->GetAttr("kh", &g_.kh));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("kw", &g_.kw));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("stride_h", &g_.sh));
    OP_REQUIRES_OK(ctx, ctx->GetAttr("stride_w", &g_.sw));
  }

  void Compute(OpKernelContext* ctx) override {
    const Tensor& x = ctx->input(0);
    const Tensor& dy = ctx->input(1);
    OP_REQUIRES(ctx, x.dims() == 4 && dy.dims() == 4,
                errors::InvalidArgument("x and dy must be 4-D (N x H x W x C), got ", x.shape().DebugString(),
                                        " and ", dy.shape().DebugString()));
    Geometry g = g_;
    g.N = x.dim_size(0), g.H = x.dim_size(1), g.W = x.dim_size(2), g.C = x.dim_size(3);
    g.F = dy.dim_size(3);
    OP_REQUIRES(ctx, g.H >= g.kh && g.W >= g.kw,
                errors::InvalidArgument("the filter is larger than the input ", x.shape().DebugString()));
    g.OH = (g.H - g.kh) / g.sh + 1, g.OW = (g.W - g.kw) / g.sw + 1;
    OP_REQUIRES(ctx, dy.dim_size(0) == g.N && dy.dim_size(1) == g.OH && dy.dim_size(2) == g.OW,
                errors::InvalidArgument("dy must be ", g.N, " x ", g.OH, " x ", g.OW, " x F for x ",
                                        x.shape().DebugString(), ", got ", dy.shape().DebugString()));
    Tensor *dw = nullptr, *db = nullptr;
    OP_REQUIRES_OK(ctx, ctx->allocate_output(0, TensorShape({g.kh, g.kw, g.C, g.F}), &dw));
    OP_REQUIRES_OK(ctx, ctx->allocate_output(1, TensorShape({g.F}), &db));
    const int K = g.K(), Kp = g.Kp(), Fp = PaddedF(g.F);
    std::vector<int> koff(Kp, 0);  // patch value k = (i, j, c) at row i, column offset j * C + c of the unit's
                                   // rows; the padding's sums are not used
    for (int i = 0, k = 0; i < g.kh; ++i)
      for (int j = 0; j < g.kw; ++j)
        for (int c = 0; c < g.C; ++c) koff[k++] = static_cast<int>(i * g.W * g.C + j * g.C + c);
    // shards of consecutive units, each summing into its own buffer: a few per thread, for balance
    auto* pool = ctx->device()->tensorflow_cpu_worker_threads()->workers;
    const int64_t units = g.N * g.OH;
    const int64_t shards = std::max<int64_t>(1, std::min<int64_t>(units, 4 * pool->NumThreads()));
    const int64_t per = static_cast<int64_t>(Kp + 1) * Fp;  // Kp weight rows, then the bias
    std::vector<float> acc(static_cast<size_t>(shards * per), 0.0f);
    const T* xp = x.flat<T>().data();
    const T* dyp = dy.flat<T>().data();
    if (units > 0 && g.OW > 0 && g.F > 0) {
      const int64_t cost = units / shards * g.OW * K * g.F;  // per shard: large, so each runs as its own task
      pool->ParallelFor(shards, cost, [&](int64_t first, int64_t last) {
        for (int64_t s = first; s < last; ++s)
          FilterGradRows(xp, dyp, g, koff, units * s / shards, units * (s + 1) / shards, acc.data() + s * per);
      });
    }
    T* dwp = dw->flat<T>().data();
    T* dbp = db->flat<T>().data();
    for (int k = 0; k <= K; ++k) {  // k = K: the bias, row Kp
      const int64_t r = k < K ? k : Kp;
      for (int f = 0; f < g.F; ++f) {
        float s = 0.0f;
        for (int64_t t = 0; t < shards; ++t) s += acc[t * per + r * Fp + f];
        (k < K ? dwp[static_cast<int64_t>(k) * g.F + f] : dbp[f]) = static_cast<T>(s);
      }
    }
  }

 private:
  Geometry g_;
};

}  // namespace

#define REGISTER(T)                                                                                   \
  REGISTER_KERNEL_BUILDER(Name("LeuknetConv2DFilterGrad").Device(DEVICE_CPU).TypeConstraint<T>("T"), \
                          Conv2DFilterGradOp<T>);

REGISTER(float)
REGISTER(bfloat16)
REGISTER(Eigen::half)
