#!/bin/bash
# On the GPU machine, < 4 minutes: GPU facts, environment, backend probe, ResNet50 parity
# (GPU eval logits vs the CPU reference forward on BN-folded weights), training-step
# throughput at 224x224 (batch 128 and 256: each batch size compiles its own graph, which is
# what costs time here), then the whole train -> export -> shards path for 1 epoch on the tiny
# architecture (its img/s is the CPU feeding rate, augmentation included). Everything goes to
# $OUT/run1.log. Each step has a timeout so that the run ends within 5 minutes whatever happens.
cd "$(dirname "$0")/../../.." # repository root
. training/gpu/scripts/env.sh
exec > "$OUT/run1.log" 2>&1
set +e
date; nvidia-smi; nproc; free -g | head -2
echo "PLUGIN=$PLUGIN NV=$NV CUDA_DIR=$CUDA_DIR PTXAS=$PTXAS"
echo "XLA_FLAGS=$XLA_FLAGS"; echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
ldd "$PLUGIN" | grep -i "not found"
ls "$CUDA_DIR/nvvm/libdevice" 2>&1 | head -2
echo "=== probe"; timeout 60 "$GT" probe || { echo "PROBE FAILED: stopping"; exit 1; }
echo "=== parity"; timeout 60 "$GT" parity --data "$DATA" --split "$SPLIT" --n 8
echo "=== bench"; timeout 120 "$GT" bench --batches ${BENCH:-128,256} --steps 10 --warm 3
echo "=== 1-epoch tiny train + export"; timeout 45 "$GT" train --arch tiny --data "$DATA" --split "$SPLIT" --out /tmp/run1-train --epochs 1 --device test --name run1-tiny
ls -l /tmp/run1-train
echo "=== done $(date)"
