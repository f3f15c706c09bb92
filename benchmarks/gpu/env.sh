# Sourced by every script here: finds the repo, the Python packages the GPU image lacks, MNIST,
# and the accelerator. Sets REPO, OUT, PY, SELFSUP_DATA, ACCEL, PYTHONPATH.
# Env: OUT (where results go; the `run` tool sets it), SELFSUP_DATA (a folder with MNIST/raw),
# SELFSUP_GPU_CARRY (default runs/gpu-carry: wheels + mnist.tar.gz that prepare.sh makes),
# SELFSUP_GPU_SCRIPT_ACCELERATOR (gpu, default; cpu for the CPU tests of these scripts).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${OUT:-$REPO/runs/gpu-out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
CARRY=${SELFSUP_GPU_CARRY:-$REPO/runs/gpu-carry}
ACCEL=${SELFSUP_GPU_SCRIPT_ACCELERATOR:-gpu}

if ! "$PY" -c "import omegaconf" 2>/dev/null; then
  if ! ls "$CARRY"/whl/*.whl >/dev/null 2>&1; then
    echo "error: omegaconf is missing and $CARRY/whl holds no wheels; run" \
      "benchmarks/gpu/prepare.sh on the CPU box and name runs/gpu-carry in carry" >&2
    exit 2
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/selfsup-site "$CARRY"/whl/*.whl
  export PYTHONPATH=/tmp/selfsup-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$REPO/src:$REPO/benchmarks${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1

if [ -z "${SELFSUP_DATA:-}" ]; then
  for d in "$REPO/shared/data" "$REPO/../shared/data"; do
    if [ -d "$d/MNIST/raw" ]; then SELFSUP_DATA=$d; break; fi
  done
fi
if [ -z "${SELFSUP_DATA:-}" ] && [ -f "$CARRY/mnist.tar.gz" ]; then
  mkdir -p /tmp/selfsup-data
  tar -C /tmp/selfsup-data -xzf "$CARRY/mnist.tar.gz"
  SELFSUP_DATA=/tmp/selfsup-data
fi
# SELFSUP_GPU_NEEDS_MNIST=0: a run on a bundled set (the CPU tests train on digits)
if [ "${SELFSUP_GPU_NEEDS_MNIST:-1}" = 1 ] \
  && [ ! -f "${SELFSUP_DATA:-/nonexistent}/MNIST/raw/train-images-idx3-ubyte" ]; then
  echo "error: MNIST not found (no MNIST/raw under SELFSUP_DATA='${SELFSUP_DATA:-}', shared/data" \
    "or $CARRY/mnist.tar.gz); run benchmarks/gpu/prepare.sh and carry runs/gpu-carry" >&2
  exit 2
fi
export SELFSUP_DATA=${SELFSUP_DATA:-}

if [ "$ACCEL" = gpu ] && ! "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
  echo "error: no CUDA device visible to $PY; these scripts are for the GPU box" \
    "(SELFSUP_GPU_SCRIPT_ACCELERATOR=cpu runs them on a CPU for testing)" >&2
  exit 2
fi
