#!/usr/bin/env bash
# The GPU check of issue 20: one command, at most 8 minutes, on a GPU machine with JAX (CUDA), PyTorch and NumPy
# but no TensorFlow and no network. Run from the repository root:
#
#     bash scripts/gpu_check.sh
#
# It needs the wheels of .whl/ (made here by scripts/fetch_gpu_wheels.sh: keras, namex, optree; git-ignored, so
# a device call names .whl in its carry). Steps, each under its own time limit:
#   1. install the wheels into $GPU_CHECK_TMP/site (default /tmp/site); nvidia-smi; the JAX devices
#   2. the parity cases on the GPU (KERAS_BACKEND=jax, TF32 off): parity_gpu/parity.{json,md}
#   3. the GPU bench (leuknet.bench_gpu.run_gpu_bench): LeukNet and AlexNet, bf16/fp32/fp16, batch 128 and 256,
#      the PyTorch eager peer, matmul peaks, pipeline; stops starting new measurements at its time budget
#   4. the paper workload (leuknet-paper, 2,260 demo images, 10 epochs) in bf16; its demo data is drawn in the
#      background from the start (one CPU core), so that step 4 finds it ready
# Writes docs/bench_gpu.{json,md,png} and, where $OUT is set (the device tool), copies them, the parity results
# and this log to $OUT. Limits (seconds) can be overridden: GPU_CHECK_TOTAL_S (the whole), GPU_CHECK_PARITY_S,
# GPU_CHECK_BENCH_S, GPU_CHECK_WORKLOAD_S; the bench and the workload get less where earlier steps ran long, so
# that the whole stays within the total.
#
# GPU_CHECK_DRY_RUN=1 runs every step on the CPU at tiny sizes (JAX on the CPU, TensorFlow hidden as there,
# LeukNet at 32 x 32, batch 4, a 16-image workload) and writes to $GPU_CHECK_TMP/bench_gpu only, not docs/: the
# script's own check, on any machine (tests/test_bench_gpu.py runs it). GPU_CHECK_TMP (default /tmp): the folder
# of its scratch files.
set -u
cd "$(dirname "$0")/.."
T0=$(date +%s)
TOTAL_S=${GPU_CHECK_TOTAL_S:-470}
PARITY_S=${GPU_CHECK_PARITY_S:-80}
BENCH_S=${GPU_CHECK_BENCH_S:-270}
WORKLOAD_S=${GPU_CHECK_WORKLOAD_S:-90}
TMPROOT=${GPU_CHECK_TMP:-/tmp}
DEST=$TMPROOT/bench_gpu
PARITY=$TMPROOT/parity_gpu
OUTDIR=${OUT:-}
DRY=${GPU_CHECK_DRY_RUN:-0}
if [ "$DRY" = 1 ]; then
  export JAX_PLATFORMS=cpu CUDA_VISIBLE_DEVICES=-1 GPU_CHECK_PLATFORM=cpu
else
  export GPU_CHECK_PLATFORM=gpu
fi
LOG=$TMPROOT/gpu_check.log
: >"$LOG"
[ -n "$OUTDIR" ] && mkdir -p "$OUTDIR"
SUMMARY=()
export GPU_CHECK_PARITY=$PARITY PYTHONUNBUFFERED=1 KERAS_BACKEND=jax TF_CPP_MIN_LOG_LEVEL=3 \
  LEUKNET_CACHE=$TMPROOT/leuknet-cache

say() { echo "$@" | tee -a "$LOG"; }
elapsed() { echo $(( $(date +%s) - T0 )); }
# limit DEFAULT RESERVED: DEFAULT, or less where only that much is left of the total after RESERVED seconds
limit() {
  local left=$(( TOTAL_S - $(elapsed) - $2 ))
  if [ "$left" -lt "$1" ]; then echo $(( left > 20 ? left : 20 )); else echo "$1"; fi
}

# step NAME LIMIT COMMAND...: run under `timeout`, log it, record its exit status and time
step() {
  local name=$1 limit=$2 t rc
  shift 2
  say "== [$(elapsed) s] $name (limit ${limit} s)"
  t=$(date +%s)
  timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 124 ] && say "   $name: stopped at its limit of ${limit} s"
  SUMMARY+=("$name: exit $rc, $(( $(date +%s) - t )) s")
  return 0
}

collect() {  # the reports to docs/ (not in a dry run), and with the log to $OUT (the device tool brings back what
  # is there)
  for f in "$DEST"/bench_gpu.json "$DEST"/bench_gpu.md "$DEST"/bench_gpu.png; do
    [ -f "$f" ] || continue
    [ "$DRY" = 1 ] || cp "$f" docs/
    [ -n "$OUTDIR" ] && cp "$f" "$OUTDIR"/
  done
  [ -z "$OUTDIR" ] && return 0
  [ -d "$PARITY" ] && mkdir -p "$OUTDIR/parity_gpu" && cp "$PARITY"/* "$OUTDIR/parity_gpu/" 2>/dev/null
  cp "$LOG" "$OUTDIR/gpu_check.log"
}
trap collect EXIT

# 1. wheels, GPU, JAX
if ls .whl/*.whl >/dev/null 2>&1; then
  step wheels 30 python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$TMPROOT/site" .whl/*.whl
elif [ "$DRY" = 1 ]; then
  say "   no wheels in .whl/: the dry run uses the Python environment it finds"
else
  say "no wheels in .whl/: run scripts/fetch_gpu_wheels.sh on the development machine and carry .whl"
  exit 2
fi
export PYTHONPATH=$TMPROOT/site:$PWD
# the dry run as on the GPU machine: TensorFlow invisible to every process (tests/no_tensorflow)
[ "$DRY" = 1 ] && export PYTHONPATH=$PYTHONPATH:$PWD/tests/no_tensorflow
[ "$DRY" = 1 ] || step nvidia-smi 15 nvidia-smi
step jax-devices 40 python3 - <<'EOF'
import importlib, importlib.metadata
import jax, keras, numpy
try:
    import torch
    peer = torch.__version__
except ImportError:
    peer = "not installed (no PyTorch peer)"
print("jax", jax.__version__, jax.devices(), "| keras", keras.__version__, keras.backend.backend(), "| numpy",
      numpy.__version__, "| torch", peer)
found = []  # what else leuknet imports there: a missing one is named here, before the steps that need it
for name in ("cv2", "scipy", "matplotlib", "psutil", "ml_dtypes", "rich", "typer", "h5py", "absl", "optree",
             "threadpoolctl"):
    try:
        version = getattr(importlib.import_module(name), "__version__", None)
        if version is None:
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                version = "?"
        found.append(f"{name} {version}")
    except ImportError as e:
        found.append(f"{name} MISSING ({e})")
print(" | ".join(found))
EOF

# the paper workload's demo data, drawn in the background while the GPU steps run (the workload waits for it)
# (on the CPU: this process must not take the GPU's memory)
PER_CLASS=$( [ "$DRY" = 1 ] && echo 8 || echo 1130 )
JAX_PLATFORMS=cpu CUDA_VISIBLE_DEVICES=-1 \
  python3 -c "from leuknet.data.synthetic import demo_dataset; demo_dataset(per_class=$PER_CLASS, seed=0)" \
  >"$TMPROOT/demo_data.log" 2>&1 &
DEMO_PID=$!
say "   demo data: drawing $(( 2 * PER_CLASS )) images in the background (pid $DEMO_PID)"

# 2. parity cases on the GPU. `leuknet parity` runs on the CPU (it hides the GPUs), so the cases run here
# through leuknet.parity directly, under JAX on the GPU with TF32 off
step parity "$(limit "$PARITY_S" $(( BENCH_S + WORKLOAD_S )))" python3 - <<'EOF'
import os, shutil, tempfile
import jax
from leuknet.profiles import allow_tf32
allow_tf32(False)  # float32 products in full float32, as `leuknet parity` runs
from leuknet.parity import DEFAULT_CASES, run_all, write
cases = None
if os.environ["GPU_CHECK_PLATFORM"] == "cpu":  # the dry run: three cases (CI runs them all under JAX already)
    cases = tempfile.mkdtemp()
    for name in ("lrn_odd_w5_onnxruntime", "solver_adam_bias_corrected", "resize_450_to_224_interior"):
        shutil.copy(DEFAULT_CASES / f"{name}.npz", cases)
done = []


def progress(r):
    print(f"  {r['name']:40s} {r['max_abs_error']:.3g} <= {r['tolerance']:.3g}: "
          f"{'yes' if r['passed'] else 'NO ' + r['note'][:160]}", flush=True)
    done.append(r)
    write(done, os.environ["GPU_CHECK_PARITY"])  # on disk after each case: a step stopped at its limit keeps them


results = run_all(cases, progress=progress)
print(f"{sum(r['passed'] for r in results)} of {len(results)} parity cases pass on {jax.devices()[0].device_kind}")
EOF

# 3. the GPU bench, most telling measurements first (LeukNet bf16 and its PyTorch peer at batch 128)
BENCH_S=$(limit "$BENCH_S" "$WORKLOAD_S")
step bench "$BENCH_S" python3 - "$DEST" "$(( BENCH_S - 30 ))" <<'EOF'
import os, sys, time
from leuknet.bench_gpu import describe, run_gpu_bench
from leuknet.errors import LeuknetError
t0 = time.perf_counter()


def progress(event, p):
    line = describe(event, p)
    if line is not None:
        print(f"[{time.perf_counter() - t0:5.0f} s]", line, flush=True)


if os.environ["GPU_CHECK_PLATFORM"] == "cpu":  # the dry run
    sizes = dict(models=("leuknet",), precisions=("fp32",), batch_sizes=(4,), image_size=32, repeats=1, warmup=1,
                 platform="cpu", peak_size=128, peak_repeats=2, peak_probes=1, pipeline_files=8)
else:
    sizes = dict(models=("leuknet", "alexnet"), precisions=("bf16", "fp32", "fp16"), batch_sizes=(128, 256),
                 image_size=224, repeats=10, warmup=3)
try:
    run_gpu_bench(**sizes, baseline=True, out=sys.argv[1], progress=progress, budget_s=float(sys.argv[2]),
                  child_timeout_s=120)
except LeuknetError as e:
    sys.exit(f"bench: {e}")
EOF
collect

# 4. the paper workload on the demo data (bf16, the GPU profile's default under JAX)
if kill -0 "$DEMO_PID" 2>/dev/null; then say "   demo data: still being drawn; the workload waits for it"; fi
WORKLOAD_S=$(limit "$WORKLOAD_S" 5)
step workload "$WORKLOAD_S" python3 - "$DEST" "$(( WORKLOAD_S - 10 ))" <<'EOF'
import os, sys
from leuknet.bench_gpu import run_gpu_workload
dry = os.environ["GPU_CHECK_PLATFORM"] == "cpu"
row = run_gpu_workload("leuknet-paper", "fp32" if dry else "bf16", out=sys.argv[1], timeout=float(sys.argv[2]),
                       platform=os.environ["GPU_CHECK_PLATFORM"],
                       options=dict(per_class=8, image_size=32, epochs=1, batch_size=4) if dry else None)
print({k: row.get(k) for k in ("error", "images", "iterations", "wall_s", "train_s", "test_accuracy")})
EOF
kill "$DEMO_PID" 2>/dev/null
tail -3 "$TMPROOT/demo_data.log" | tee -a "$LOG"
collect

say "== summary ($(elapsed) s in all)"
for s in "${SUMMARY[@]}"; do say "   $s"; done
[ -f "$PARITY/parity.md" ] && sed -n 3p "$PARITY/parity.md" | tee -a "$LOG"
[ -f "$DEST/bench_gpu.md" ] && tee -a "$LOG" <"$DEST/bench_gpu.md"
