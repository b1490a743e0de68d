#!/bin/bash
# On the GPU machine, < 7 minutes: the full training run. Training stops at the time budget
# (BUDGET, default 270s, epochs that would not fit are not started), at EPOCHS or on early
# stopping; then export. $OUT gets at most 8 files: model.int8.onnx.part0..1,
# weights.fp16.part0..3, train.log, manifest.json.
cd "$(dirname "$0")/../../.." # repository root
. training/gpu/scripts/env.sh
set +e
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
timeout 400 "$GT" train --data "$DATA" --split "$SPLIT" --out "$OUT" \
  --batch "${BATCH:-128}" --epochs "${EPOCHS:-60}" --budget "${BUDGET:-270s}" --patience "${PATIENCE:-12}" \
  --lr "${LR:-1e-3}" --device "$GPU, XLA PJRT CUDA 13 plugin" --version "gpu-$(date +%Y%m%d)" 2> "$OUT/stderr.txt"
rc=$?
echo "exit $rc"
# stderr only matters on failure; keep the file count at 8 on success.
if [ $rc -eq 0 ]; then rm -f "$OUT/stderr.txt"; else tail -50 "$OUT/stderr.txt"; fi
ls -l "$OUT"
exit $rc
