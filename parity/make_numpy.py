"""Regenerate the NumPy float64 cases: transcriptions of MATLAB's documented equations (../shared/MATLAB.md),
written from the documentation, not from leuknet's code. Needs only NumPy:  python parity/make_numpy.py"""

import json

import numpy as np

from common import save

rng = np.random.default_rng(20261121)
F32 = "float32 computation against a float64 reference"


def lrn_ref(x, w, alpha, beta, k):
    x = x.astype(np.float64)
    c = x.shape[-1]
    ss = np.zeros_like(x)
    for i in range(c):
        lo, hi = max(0, i - (w - 1) // 2), min(c, i + w // 2 + 1)
        ss[..., i] = (x[..., lo:hi] ** 2).sum(-1)
    return x / (k + alpha * ss / w) ** beta


for w in (2, 4, 6, 16):
    x = rng.normal(0, 8, (2, 5, 5, 20)).astype(np.float32)
    save(f"lrn_even_w{w}", kind="lrn", oracle="NumPy (MATLAB formula)",
         behaviour=f"crossChannelNormalizationLayer window {w} (even: asymmetric window, divisor w)",
         tolerance=1e-5, why=F32 + "; outputs of order 1-10", expected=lrn_ref(x, w, 1e-2, 0.75, 2.0), x=x, w=w,
         alpha=1e-2, beta=0.75, k=2.0)

# fully connected after a spatial input: y = W * x(:), x(:) column-major over (H, W, C)
x = rng.normal(size=(3, 2, 3, 4)).astype(np.float32)
W = rng.normal(size=(5, 24)).astype(np.float32)
b = rng.normal(size=(5, 1)).astype(np.float32)
save("fc_column_major_flatten", kind="fc", oracle="NumPy (MATLAB formula)",
     behaviour="fullyConnectedLayer Weights OutputSize x InputSize, column-major flatten of H x W x C",
     tolerance=1e-5, why=F32 + " over 24-term sums", expected=np.stack([W @ xi.flatten(order="F") + b.ravel() for xi in x]),
     x=x, W=W, b=b)


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def solver_case(name, solver, opts, lrs, factors=(2.0, 3.0, 0.5, 1.0)):
    """Several steps of one FC layer + softmax + crossentropyex, all in float64."""
    W = rng.normal(0, 0.5, (3, 4)).astype(np.float32).astype(np.float64)
    b = rng.normal(0, 0.1, (3, 1)).astype(np.float32).astype(np.float64)
    x = rng.normal(size=(6, 4)).astype(np.float32).astype(np.float64)
    y = rng.integers(0, 3, 6)
    T = np.eye(3)[y]
    params = [W.copy(), b.ravel().copy()]
    lrf, l2f = (factors[0], factors[1]), (factors[2], factors[3])
    l2 = opts.get("L2Regularization", 1e-4)
    mom = opts.get("Momentum", 0.9)
    b1, b2 = opts.get("GradientDecayFactor", 0.9), opts.get("SquaredGradientDecayFactor",
                                                             0.999 if solver == "adam" else 0.9)
    eps = opts.get("Epsilon", 1e-8)
    state = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    prev = [p.copy() for p in params]
    for t, lr in enumerate(lrs, start=1):
        Wc, bc = params
        P = softmax(x @ Wc.T + bc)
        dz = (P - T) / len(x)
        grads = [dz.T @ x, dz.sum(0)]
        new = []
        for i, (p, g) in enumerate(zip(params, grads)):
            g = g + l2 * l2f[i] * p
            a = lr * lrf[i]
            if solver == "sgdm":
                q = p - a * g + mom * (p - prev[i])
            elif solver == "adam":
                m, v = state[i]
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g * g
                state[i] = [m, v]
                q = p - a * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
            else:
                v = b2 * state[i][1] + (1 - b2) * g * g
                state[i][1] = v
                q = p - a * g / (np.sqrt(v) + eps)
            new.append(q)
        prev, params = params, new
    save(name, kind="solver", oracle="NumPy (MATLAB formula)",
         behaviour=f"{solver} update with L2 (factors 0.5 / 1) and learn-rate factors (2 / 3), {len(lrs)} steps",
         tolerance=2e-6, why=F32 + "; parameters of order 0.1-1 after steps of order 1e-2",
         expected=np.concatenate([params[0].ravel(), params[1].ravel()]), W=W, b=b, x=x, y=y,
         factors=np.array(factors), lrs=np.array(lrs), solver=solver, options=json.dumps(opts))


solver_case("solver_sgdm_momentum_changing_rate", "sgdm", {"Momentum": 0.8, "L2Regularization": 0.01},
            [0.1, 0.05, 0.02])
solver_case("solver_adam_bias_corrected", "adam", {"L2Regularization": 0.01}, [1e-2, 5e-3, 5e-3])
solver_case("solver_rmsprop", "rmsprop", {"L2Regularization": 0.01, "Epsilon": 1e-6}, [1e-2, 1e-2])

epochs = np.arange(1, 31)
save("schedule_piecewise", kind="schedule", oracle="NumPy (MATLAB formula)",
     behaviour="piecewise learn rate: Initial * Drop^floor((epoch-1)/Period), epochs from 1", tolerance=1e-15,
     why="exact arithmetic", expected=1e-4 * 0.5 ** ((epochs - 1) // 7), epochs=epochs, initial=1e-4, drop=0.5,
     period=7)

for n, b, e, f in ((10, 3, 3, 4), (1582, 128, 10, 5), (20, 20, 2, 50)):
    per = n // b  # the last incomplete mini-batch is dropped
    total = per * e
    val = sorted({1} | {i for i in range(1, total + 1) if i % f == 0} | {total})
    save(f"cadence_n{n}_b{b}", kind="cadence", oracle="NumPy (MATLAB rule)",
         behaviour=f"floor(N/MiniBatchSize) iterations per epoch; validation at 1, every {f}, and last "
                   f"(N={n}, B={b}, {e} epochs)", tolerance=0, why="integer counts",
         expected=np.array([per, total] + val, np.float64), n_b_epochs_freq=np.array([n, b, e, f]))

for dim in ("channel", "element"):
    x = rng.integers(0, 256, (7, 4, 5, 3)).astype(np.float64)
    axes = (0, 1, 2) if dim == "channel" else (0,)
    save(f"stats_zscore_{dim}", kind="stats", oracle="NumPy (MATLAB formula)",
         behaviour=f"zerocenter/zscore statistics from the training data ({dim})", tolerance=1e-9,
         why="float64 one-pass sums over at most 420 values",
         expected=np.concatenate([x.mean(axes).ravel(), x.std(axes).ravel()]), x=x, dimension=dim)

for shape in ((9, 9, 6, 5, 40), (7, 7, 3, 3, 64), (5, 5, 8, 0, 10)):
    h, w, c, fh, f = shape
    fan_in, fan_out = (fh * fh * c, fh * fh * f) if fh else (h * w * c, f)
    save(f"glorot_{'conv' if fh else 'fc'}_{h}x{w}x{c}_{fh}_{f}", kind="glorot", oracle="NumPy (MATLAB formula)",
         behaviour="glorot initializer bound sqrt(6/(fan_in+fan_out)), fan-in FH*FW*C, fan-out FH*FW*F",
         tolerance=1e-12, why="closed form", expected=np.array([np.sqrt(6 / (fan_in + fan_out))]),
         shape=np.array(shape))

Y = rng.dirichlet(np.ones(3), size=9).astype(np.float32)
T = np.eye(3)[rng.integers(0, 3, 9)]
for name, w in (("crossentropyex_weighted", np.array([0.5, 2.0, 1.0])), ("crossentropyex_plain", np.array([]))):
    ww = w if w.size else np.ones(3)
    save(name, kind="crossentropy", oracle="NumPy (MATLAB formula)",
         behaviour="classificationLayer loss -(1/N) sum w_i T ln Y (divides by N, not by sum of weights)",
         tolerance=1e-6, why=F32 + " logs", expected=np.array([-np.sum(ww * T * np.log(Y.astype(np.float64))) / 9]),
         Y=Y, T=T, w=w)

labels = np.array([0] * 11 + [1] * 7 + [2] * 3)
save("split_each_label_rounding", kind="split", oracle="NumPy (MATLAB rule)",
     behaviour="splitEachLabel(imds, 0.7, 0.2, 0.1): split points round(cumsum(n*p)) per label (MathWorks' "
               "splitEachLabel.m)",
     tolerance=0, why="integer counts",
     expected=np.array([[8, 2, 1], [5, 1, 1], [2, 1, 0]], np.float64), labels=labels, fractions=np.array([0.7, 0.2, 0.1]))

# values published by MathWorks (rgb2ycbcr / rgb2hsv examples, ../shared/MATLAB.md)
pub = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [128, 128, 128],
                 [10, 200, 30]]], np.uint8)
save("published_rgb2ycbcr_values", kind="colour", oracle="MATLAB published values",
     behaviour="rgb2ycbcr on uint8 reference colours", tolerance=0, why="uint8: exact",
     expected=np.array([[[81, 90, 240], [145, 54, 34], [41, 240, 110], [235, 128, 128], [16, 128, 128],
                         [126, 128, 128], [122, 81, 57]]], np.float64), x=pub, fn="rgb2ycbcr_uint8")
save("published_rgb2hsv_uint8", kind="colour", oracle="MATLAB published values",
     behaviour="im2uint8(rgb2hsv([10 200 30]))", tolerance=0, why="uint8: exact",
     expected=np.array([[[89, 242, 200]]], np.float64), x=np.array([[[10, 200, 30]]], np.uint8),
     fn="im2uint8_rgb2hsv")
print("written")
