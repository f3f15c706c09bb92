# Sourced by every script here: finds the repo, the Python packages a bare GPU image may lack,
# MNIST, and the accelerator. Sets REPO, OUT, PY, SELFSUP_DATA, ACCEL, PYTHONPATH.
# Env: OUT (where results go; default runs/gpu-out), SELFSUP_DATA (a folder with MNIST/raw;
# default ./data), SELFSUP_GPU_CARRY (default runs/gpu-carry: the wheels and mnist.tar.gz that
# prepare.sh makes, for a GPU machine without network access),
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
      "pip install -e '.[bench]', or benchmarks/gpu/prepare.sh where pip has network access" >&2
    exit 2
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/selfsup-site "$CARRY"/whl/*.whl
  export PYTHONPATH=/tmp/selfsup-site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$REPO/src:$REPO/benchmarks${PYTHONPATH:+:$PYTHONPATH}
export PYTHONUNBUFFERED=1

if [ -z "${SELFSUP_DATA:-}" ]; then
  if [ -d "$REPO/data/MNIST/raw" ]; then SELFSUP_DATA=$REPO/data; fi
fi
if [ -z "${SELFSUP_DATA:-}" ] && [ -f "$CARRY/mnist.tar.gz" ]; then
  mkdir -p /tmp/selfsup-data
  tar -C /tmp/selfsup-data -xzf "$CARRY/mnist.tar.gz"
  SELFSUP_DATA=/tmp/selfsup-data
fi
# SELFSUP_GPU_NEEDS_MNIST=0: a run on a bundled set (the CPU tests train on digits)
if [ "${SELFSUP_GPU_NEEDS_MNIST:-1}" = 1 ] \
  && [ ! -f "${SELFSUP_DATA:-/nonexistent}/MNIST/raw/train-images-idx3-ubyte" ]; then
  echo "error: MNIST not found (no MNIST/raw under SELFSUP_DATA='${SELFSUP_DATA:-}', ./data" \
    "or in $CARRY/mnist.tar.gz); set SELFSUP_DATA, or fetch it with" \
    "'selfsup train --config vicreg_mnist data.download=true trainer.max_epochs=0'" >&2
  exit 2
fi
export SELFSUP_DATA=${SELFSUP_DATA:-}

if [ "$ACCEL" = gpu ] && ! "$PY" -c "import sys, torch; sys.exit(not torch.cuda.is_available())"; then
  echo "error: no CUDA device visible to $PY; these scripts measure a GPU" \
    "(SELFSUP_GPU_SCRIPT_ACCELERATOR=cpu runs them on a CPU for testing)" >&2
  exit 2
fi
