#!/usr/bin/env bash
# Mixed precision on the GPU: short VICReg (vicreg_mnist, VICREG_EPOCHS epochs, default 3) and
# SimVAE (simvae_mnist_short, 2 epochs) runs at each of PRECISIONS (default: 32 bf16-mixed
# 16-mixed), the same seed; each run's final kNN / linear top-1 go to $OUT/precision.tsv, and the
# last line is `<run>_<precision>_knn=... ...`. Resumable: finished runs (metrics.json) are
# skipped, a run cut off mid-way is continued with --resume (WORK, default runs/gpu/precision,
# survives on a still-warm machine). Needs < 6 min on an H200 (estimate; not yet run there).
#   RUNS: "name:config[:key=value,...]" words (default: vicreg:vicreg_mnist simvae:simvae_mnist_short)
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
WORK=${WORK:-$REPO/runs/gpu/precision}
PRECISIONS=${PRECISIONS:-32 bf16-mixed 16-mixed}
RUNS=${RUNS:-vicreg:vicreg_mnist:trainer.max_epochs=${VICREG_EPOCHS:-3} simvae:simvae_mnist_short}
read -r -a EXTRA <<<"${SELFSUP_GPU_OVERRIDES:-}"
mkdir -p "$WORK"
TABLE=$OUT/precision.tsv
printf 'run\tprecision\tstatus\tknn_top1\tlinear_top1\tglobal_step\ttrain_seconds\n' >"$TABLE"
summary=()
for spec in $RUNS; do
  IFS=: read -r name config sets <<<"$spec"
  IFS=, read -r -a sets <<<"${sets:-}"
  for precision in $PRECISIONS; do
    dir=$WORK/$name-$precision
    args=(trainer.accelerator="$ACCEL" trainer.precision="$precision"
      trainer.enable_progress_bar=false "${sets[@]}" "${EXTRA[@]}")
    status=done
    if [ ! -f "$dir/metrics.json" ]; then
      if [ -f "$dir/checkpoints/last.ckpt" ]; then
        cmd=(train --run-dir "$dir" --resume "${args[@]}")
      else
        rm -rf "$dir"
        cmd=(train --config "$config" --run-dir "$dir" "${args[@]}")
      fi
      echo "precision: $PY -m selfsup.cli ${cmd[*]}"
      if "$PY" -m selfsup.cli "${cmd[@]}" >"$dir.log" 2>&1; then status=ok; else status="failed($?)"; fi
      tail -n 3 "$dir.log"
    fi
    row=$("$PY" - "$dir/metrics.json" <<'PY'
import json, sys
try:
    m = json.load(open(sys.argv[1]))
except (OSError, ValueError):
    print("nan\tnan\tnan\tnan")
else:
    print(f"{m['knn_top1']:.4f}\t{m.get('linear_top1', float('nan')):.4f}\t{m['global_step']}\t{m['train_seconds']}")
PY
)
    printf '%s\t%s\t%s\t%s\n' "$name" "$precision" "$status" "$row" >>"$TABLE"
    IFS=$'\t' read -r knn linear _ <<<"$row"
    summary+=("${name}_${precision}_knn=$knn" "${name}_${precision}_linear=$linear")
  done
done
column -t -s $'\t' "$TABLE" 2>/dev/null || cat "$TABLE"
echo "${summary[*]}" | tee "$OUT/precision_summary.txt"
