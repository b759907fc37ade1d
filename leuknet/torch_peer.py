"""The PyTorch eager LeukNet: what a GPU user would otherwise write, timed beside leuknet by
:mod:`leuknet.bench_gpu` (``baseline=True``).

The same layers and shapes as leuknet's LeukNet (:mod:`leuknet.models.leuknet_cnn`)::

    input (3 x S x S, 0-255) minus the per-channel mean (zerocenter, 'channel')
    3 x [conv 3x3 (64, 128, 256; stride 1, no padding) | ReLU | LocalResponseNorm(5, 1e-4, 0.75, k=2) | maxpool 3x3 /2]
    flatten | fc 512 | ReLU | dropout 0.5 | fc (classes)          softmax + cross-entropy: nn.CrossEntropyLoss

``torch.nn.LocalResponseNorm`` divides alpha by the window size, as MATLAB's crossChannelNormalizationLayer
does. Under autocast it runs in float32 (the input cast up, the output cast back), as leuknet's layer computes
its arithmetic: in float16 the squared activations of the first block overflow (a 5-channel sum of squares of
values in the hundreds passes 65,504). Adam with MATLAB's defaults (beta 0.9 / 0.999, epsilon 1e-8) and
MATLAB's coupled L2 of 1e-4 on weights only (PyTorch's ``weight_decay`` adds ``wd * w`` to the gradient before
the moments, as MATLAB does; biases have L2 factor 0 in MATLAB, so they go in a group without it).

Precisions: ``fp32`` (TF32 off for matmuls and cuDNN convolutions: the parity setting; ``tf32=True`` allows
it), ``bf16`` (``torch.autocast`` bfloat16), ``fp16`` (autocast float16 with ``torch.amp.GradScaler``).

torch is imported inside the functions: this module imports without it.
"""

from __future__ import annotations

import time

import numpy as np

PRECISIONS = ("fp32", "bf16", "fp16")
LRN = {"size": 5, "alpha": 1e-4, "beta": 0.75, "k": 2.0}  # MATLAB's crossChannelNormalizationLayer(5) defaults


def _torch():
    try:
        import torch
    except ImportError as e:  # a clear message in place of a bare ImportError deep in a benchmark
        from leuknet.errors import ConfigError

        raise ConfigError("the PyTorch peer needs torch (pip install torch)") from e
    return torch


def build_leuknet(num_classes=2, image_size=224, filters=(64, 128, 256), fc_units=512, dropout=0.5,
                  pool_stride=2, window=5):
    """LeukNet as a ``torch.nn.Module`` (NCHW float input in 0-255; logits out)."""
    torch = _torch()
    nn = torch.nn

    class Float32LRN(nn.LocalResponseNorm):
        def forward(self, x):
            return super().forward(x.float()).to(x.dtype)

    class LeukNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.full((1, 3, 1, 1), 127.5))  # set from data in real use
            blocks, cin, size = [], 3, image_size
            for f in filters:
                blocks += [nn.Conv2d(cin, f, 3), nn.ReLU(inplace=True),
                           Float32LRN(window, LRN["alpha"], LRN["beta"], LRN["k"]), nn.MaxPool2d(3, pool_stride)]
                cin, size = f, (size - 2 - 3) // pool_stride + 1
            if size < 1:
                raise ValueError(f"image_size {image_size} is too small for LeukNet's three pooling stages")
            self.features = nn.Sequential(*blocks)
            self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(cin * size * size, fc_units),
                                            nn.ReLU(inplace=True), nn.Dropout(dropout),
                                            nn.Linear(fc_units, num_classes))

        def forward(self, x):
            return self.classifier(self.features(x - self.mean))

    return LeukNet()


def gflop_per_image(model, image_size) -> float:
    """Forward GFLOP per image, 2 x multiply-adds of the convolutions and linear layers, counted from the
    module's own output shapes (as :func:`leuknet.bench.model_gflop_per_image` counts the Keras model's)."""
    torch = _torch()
    flops = []

    def hook(m, _inp, out):
        if isinstance(m, torch.nn.Conv2d):
            kh, kw = m.kernel_size
            flops.append(2 * out[0].numel() * kh * kw * m.in_channels // m.groups)
        elif isinstance(m, torch.nn.Linear):
            flops.append(2 * m.in_features * m.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    try:
        p = next(model.parameters())
        with torch.no_grad():
            model(torch.zeros(1, 3, image_size, image_size, device=p.device))
    finally:
        for h in handles:
            h.remove()
    return sum(flops) / 1e9


def set_tf32(allow: bool):
    """TF32 for float32 matmuls and cuDNN convolutions (off: the fp32 parity setting)."""
    torch = _torch()
    torch.backends.cuda.matmul.allow_tf32 = bool(allow)
    torch.backends.cudnn.allow_tf32 = bool(allow)


def _sync(device):
    torch = _torch()
    if str(device).startswith("cuda"):
        torch.cuda.synchronize(device)


class Peer:
    """One LeukNet with its Adam and loss, for timing a training step and an inference pass at a precision.

    ``step()`` is one training iteration on the fixed batch (forward under autocast, loss, backward, Adam),
    ending with ``loss.item()`` as a training loop that logs the loss does (leuknet's Trainer reads its loss
    every iteration too); ``infer()`` is one forward pass in eval mode whose probabilities are copied to the
    host."""

    def __init__(self, x, y, precision="fp32", device="cpu", lr=1e-4, l2=1e-4, seed=0, tf32=False,
                 cudnn_benchmark=True, channels_last=False, **model_options):
        torch = _torch()
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; choose {', '.join(PRECISIONS)}")
        self.device, self.precision = torch.device(device), precision
        torch.manual_seed(seed)
        if self.device.type == "cuda":
            set_tf32(tf32)
            torch.backends.cudnn.benchmark = bool(cudnn_benchmark)
        image_size = int(x.shape[-1] if x.shape[1] == 3 else x.shape[1])
        self.model = build_leuknet(image_size=image_size, **model_options).to(self.device)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        self.model = self.model.to(memory_format=fmt)
        x = np.asarray(x, np.float32)
        if x.shape[-1] == 3 and x.shape[1] != 3:  # NHWC (leuknet's layout) -> NCHW
            x = x.transpose(0, 3, 1, 2)
        self.x = torch.from_numpy(np.ascontiguousarray(x)).to(self.device).to(memory_format=fmt)
        self.y = torch.from_numpy(np.asarray(y, np.int64)).to(self.device)
        weights = [p for n, p in self.model.named_parameters() if not n.endswith("bias")]
        biases = [p for n, p in self.model.named_parameters() if n.endswith("bias")]
        self.optimizer = torch.optim.Adam([{"params": weights, "weight_decay": l2},
                                           {"params": biases, "weight_decay": 0.0}],
                                          lr=lr, betas=(0.9, 0.999), eps=1e-8)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self.scaler = torch.amp.GradScaler(self.device.type) if precision == "fp16" else None
        self.skipped_steps = 0  # fp16: steps GradScaler skipped (inf/NaN gradients; the scale halved)
        self.settings = {"tf32": bool(tf32) if self.device.type == "cuda" else None,
                         "cudnn_benchmark": bool(cudnn_benchmark) if self.device.type == "cuda" else None,
                         "channels_last": bool(channels_last), "lrn": "torch.nn.LocalResponseNorm in float32",
                         "optimizer": "torch.optim.Adam (coupled L2 1e-4 on weights)",
                         "loss_scaling": "torch.amp.GradScaler (init 2^16)" if self.scaler else None}

    def _autocast(self):
        torch = _torch()
        if self.dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        return torch.autocast(self.device.type, dtype=self.dtype)

    def step(self) -> float:
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            loss = self.loss_fn(self.model(self.x).float(), self.y)
        if self.scaler is None:
            loss.backward()
            self.optimizer.step()
        else:
            scale = self.scaler.get_scale()
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.skipped_steps += int(self.scaler.get_scale() < scale)
        return loss.item()

    def infer(self):
        torch = _torch()
        self.model.eval()
        with torch.inference_mode(), self._autocast():
            return torch.softmax(self.model(self.x).float(), -1).cpu().numpy()


def _time(fn, device, warmup, repeats):
    for _ in range(warmup):
        fn()
    _sync(device)
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        _sync(device)
        out.append(time.perf_counter() - t0)
    return out


def time_peer(x, y, precision="fp32", device="cpu", warmup=2, repeats=5, **options) -> dict:
    """Seconds per training step and per inference pass of the PyTorch LeukNet on the batch ``x`` (N x S x S x 3
    or N x 3 x S x S, 0-255), ``y`` (N class indices), with the peak device memory where the device is CUDA."""
    torch = _torch()
    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    peer = Peer(x, y, precision, device, **options)
    t_train = _time(peer.step, device, warmup, repeats)
    t_infer = _time(peer.infer, device, warmup, repeats)
    return {"train_seconds": t_train, "inference_seconds": t_infer,
            "peak_memory_bytes": int(torch.cuda.max_memory_allocated(device)) if cuda else None,
            "gflop_per_image": gflop_per_image(peer.model, int(peer.x.shape[-1])),
            "skipped_steps": peer.skipped_steps, "settings": peer.settings, "torch": torch.__version__,
            "device_name": torch.cuda.get_device_name(device) if cuda else "cpu"}
