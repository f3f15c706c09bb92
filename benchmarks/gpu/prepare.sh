#!/usr/bin/env bash
# For a GPU machine without network access: run where pip can download (with the project's
# environment active) and copy runs/gpu-carry (git-ignored, ~12 MB) to the GPU machine's checkout.
# It holds the wheels a bare PyTorch image lacks (omegaconf, its antlr4 runtime, and lightly with
# hydra-core) and MNIST, gzipped, from $SELFSUP_DATA (default ./data).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CARRY=$REPO/runs/gpu-carry
DATA=${SELFSUP_DATA:-$REPO/data}
mkdir -p "$CARRY/whl"
cd "$CARRY/whl"
python -m pip download -q --no-deps -d . omegaconf==2.3.1 hydra-core==1.3.8 lightly==1.6.0 \
  antlr4-python3-runtime==4.9.3
# antlr4-python3-runtime 4.9.3 is published as a source archive only; it is pure Python
python -m pip wheel -q --no-deps --no-build-isolation -w . antlr4-python3-runtime-4.9.3.tar.gz
rm -f antlr4-python3-runtime-4.9.3.tar.gz
if [ ! -f "$DATA/MNIST/raw/train-images-idx3-ubyte" ]; then
  echo "error: MNIST not found under $DATA/MNIST/raw; set SELFSUP_DATA" >&2
  exit 2
fi
tar -C "$DATA" -czf "$CARRY/mnist.tar.gz" MNIST/raw
du -sh "$CARRY"/* "$CARRY"/whl/*
