#!/usr/bin/env bash
# Download, here, the wheels that scripts/gpu_check.sh installs on the GPU machine (Python 3.12, x86-64, no
# network there): keras and its two needs that the machine's image lacks. Everything else leuknet imports is
# already there (numpy, opencv-python-headless, rich, typer, matplotlib, psutil, onnx, onnxruntime, scipy, h5py,
# ml-dtypes, absl-py, packaging, threadpoolctl, jax with its CUDA plugins, torch; gpu_check.sh's first step names
# any that is missing). The folder .whl/ is git-ignored.
#   usage: scripts/fetch_gpu_wheels.sh [PYTHON]     (default: .venv/bin/python, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}
WHEELS=("keras==3.15.1" "namex==0.1.0" "optree==0.20.0")
rm -rf .whl && mkdir -p .whl
for w in "${WHEELS[@]}"; do
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "$w"
done
ls -l .whl
du -sh .whl
