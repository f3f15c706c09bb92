#!/usr/bin/env bash
# One resumable chunk of SimVAE at the official defaults (configs/simvae_mnist.yaml: 400 epochs,
# ~375k steps) on the GPU: train until LIMIT seconds, stop with SIGTERM (selfsup train then
# finishes the step, saves last.ckpt and exits with 143: selfsup/train/interrupt.py), copy the log, metrics and (if small enough) the run
# dir to $OUT, and print steps reached, whether any logged value is non-finite, and the online
# probe curve. Run it again to continue.
#   RUN_DIR  the run (default runs/gpu/simvae_mnist: git-ignored, so on a still-warm machine
#            the next call finds it there and resumes it)
#   RESTORE  on a fresh machine, a run given back earlier: a run dir, a .tar.gz, or the prefix of
#            its .part-* pieces (carried in); ignored when RUN_DIR already holds a checkpoint
#   LIMIT    training seconds for this chunk (default 450; start-up and copying add ~1 min)
#   CONFIG   default simvae_mnist; SELFSUP_GPU_OVERRIDES: extra key=value words (tests use it)
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
RUN_DIR=${RUN_DIR:-$REPO/runs/gpu/simvae_mnist}
LIMIT=${LIMIT:-450}
CONFIG=${CONFIG:-simvae_mnist}
read -r -a EXTRA <<<"${SELFSUP_GPU_OVERRIDES:-}"

if [ ! -f "$RUN_DIR/checkpoints/last.ckpt" ] && [ -n "${RESTORE:-}" ]; then
  mkdir -p "$RUN_DIR"
  if [ -d "$RESTORE" ]; then
    cp -a "$RESTORE"/. "$RUN_DIR"/
  elif [ -f "$RESTORE" ]; then
    tar -C "$RUN_DIR" -xzf "$RESTORE"
  elif compgen -G "$RESTORE.part-*" >/dev/null; then
    cat "$RESTORE".part-* | tar -C "$RUN_DIR" -xz
  else
    echo "error: RESTORE=$RESTORE is neither a run dir, a .tar.gz nor the prefix of .part-* files" >&2
    exit 2
  fi
  [ -f "$RUN_DIR/checkpoints/last.ckpt" ] || { echo "error: $RESTORE holds no checkpoints/last.ckpt" >&2; exit 2; }
  echo "restored $RESTORE into $RUN_DIR"
fi

COMMON=(trainer.accelerator="$ACCEL" trainer.enable_progress_bar=false "${EXTRA[@]}")
if [ -f "$RUN_DIR/checkpoints/last.ckpt" ]; then
  CMD=(train --run-dir "$RUN_DIR" --resume "${COMMON[@]}")
else
  CMD=(train --config "$CONFIG" --run-dir "$RUN_DIR" "${COMMON[@]}")
fi
echo "chunk: $PY -m selfsup.cli ${CMD[*]} (limit ${LIMIT} s, data $SELFSUP_DATA)"
set +e
timeout -s TERM -k 120 "$LIMIT" "$PY" -m selfsup.cli "${CMD[@]}" 2>&1 | tee "$OUT/simvae_train.log"
status=${PIPESTATUS[0]}
set -e
if grep -q "^SIGTERM: newest state in" "$OUT/simvae_train.log"; then
  status=0
  echo "chunk: stopped by SIGTERM (time limit or a scheduler); last.ckpt holds the last step"
elif [ "$status" -eq 0 ]; then
  echo "chunk: the run reached its full budget (metrics.json written)"
else
  echo "chunk: selfsup train exited with status $status (see simvae_train.log)"
fi
if [ ! -f "$RUN_DIR/checkpoints/last.ckpt" ]; then
  echo "chunk: no checkpoint yet in $RUN_DIR (the chunk ended before its first step?)"
  exit 1
fi

cp "$RUN_DIR/metrics.csv" "$OUT/simvae_metrics.csv" 2>/dev/null || true
cp "$RUN_DIR/metrics.json" "$OUT/simvae_final_metrics.json" 2>/dev/null || true
# the run to resume elsewhere: config, logs and last.ckpt (epoch checkpoints stay behind); it
# comes back only in pieces under the `run` tool's limits (16 MiB a file, 8 files, 64 MiB)
PACK=$(mktemp /tmp/simvae_run.XXXXXX)
tar -C "$RUN_DIR" -czf "$PACK" --exclude='checkpoints/epoch=*' .
rm -f "$OUT"/simvae_run.tar.gz*
split -b 15M -d -a 1 "$PACK" "$OUT/simvae_run.tar.gz.part-"
pieces=$(compgen -G "$OUT/simvae_run.tar.gz.part-*" | wc -l)
if [ "$pieces" -gt 3 ]; then
  rm -f "$OUT"/simvae_run.tar.gz.part-*
  echo "chunk: the packed run ($(du -m "$PACK" | cut -f1) MB) is too large to" \
    "come back; it stays on this machine at $RUN_DIR while it is warm"
else
  echo "chunk: the run comes back as $pieces piece(s) simvae_run.tar.gz.part-* (RESTORE prefix:" \
    "simvae_run.tar.gz)"
fi
rm -f "$PACK"
{
  grep -h "^SIGTERM: " "$OUT/simvae_train.log" || true
  "$PY" "$REPO/benchmarks/gpu/chunk_summary.py" "$RUN_DIR"
} | tee "$OUT/simvae_summary.txt"
exit "$status"
