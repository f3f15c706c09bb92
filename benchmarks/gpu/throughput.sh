#!/usr/bin/env bash
# VICReg throughput on the GPU, ours vs lightly (its transforms in DataLoader workers on all the
# box's cores), in one run per recipe: benchmarks/vs_lightly.py --device cuda. CIFAR recipe on
# synthetic CIFAR-shaped data, then the MNIST recipe (whose epoch time follows from its images/s).
# Each recipe's output goes to $OUT/throughput_<recipe>.txt; a recipe already done (its copy under
# WORK, default runs/gpu/throughput, survives on a still-warm machine) is not run again.
#   RECIPES (default: cifar mnist), SECONDS_PER_SIDE (default 60), ROUNDS (default 4),
#   PRECISION (ours and lightly's, default 32), WORKERS (default: all cores)
# ~3 min per recipe (2 x SECONDS_PER_SIDE + start-up + kNN; estimate, not yet run on an H200).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
WORK=${WORK:-$REPO/runs/gpu/throughput}
mkdir -p "$WORK"
device=cuda
[ "$ACCEL" = gpu ] || device=cpu
for recipe in ${RECIPES:-cifar mnist}; do
  log=$WORK/throughput_$recipe.txt
  if [ ! -s "$log" ] || ! grep -q "^throughput_ratio=" "$log"; then
    "$PY" "$REPO/benchmarks/vs_lightly.py" --recipe "$recipe" --device "$device" \
      --root "$SELFSUP_DATA" --workers "${WORKERS:-$(nproc)}" \
      --seconds "${SECONDS_PER_SIDE:-60}" --rounds "${ROUNDS:-4}" \
      --precision "${PRECISION:-32}" --lightly-precision "${PRECISION:-32}" 2>&1 | tee "$log"
  fi
  cp "$log" "$OUT/"
  echo "$recipe: $(tail -n 1 "$log")"
  if [ "$recipe" = mnist ]; then
    # one pass over MNIST's 60k training images, two views each
    tail -n 1 "$log" | tr ' ' '\n' | awk -F= '$1 ~ /^images_s_/ {
      printf "mnist epoch (60k pairs) %s: %.1f s\n", substr($1, 10), 120000 / $2 }'
  fi
done
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$OUT/gpu.txt" \
  2>/dev/null || true
