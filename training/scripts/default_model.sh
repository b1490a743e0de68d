#!/bin/sh
# Trains the shipped default model with the trainer on this machine's CPU (2 cores: about an
# hour, most of it the one-time feature extraction), then exports it int8 and evaluates it on
# the test split. Every step reuses what the previous one cached in $RUN, so a stopped run is
# continued by running this again.
#   usage: sh training/scripts/default_model.sh   (env: RUN, DATA, TRIALS, VERSION)
set -eu
cd "$(dirname "$0")/../.."
RUN=${RUN:-runs/default}
DATA=${DATA:-../shared/data/chest_xray}
TRIALS=${TRIALS:-30}
VERSION=${VERSION:-cpu-$(date +%Y%m%d)}
COMMON="--run $RUN --data $DATA --backbone none --bn-samples 512 --seed 1"
# (the extraction workers run OpenBLAS single-threaded themselves: sgemm.SingleThreaded)
mkdir -p bin "$RUN"
go build -tags openblas -o bin/pneumoscan-train ./training
T=bin/pneumoscan-train
# 1. Random search over the head's hyper-parameters on cached backbone features.
$T tune $COMMON --trials "$TRIALS" | tee "$RUN/tune.txt"
# 2. Train the best trial's head with checkpoints ("train it with: ... --units U --dropout D --lr L --l2 R").
BEST=$(sed -n 's/.*--units \([0-9]*\) --dropout \([0-9.e-]*\) --lr \([0-9.e-]*\) --l2 \([0-9.e-]*\).*/--units \1 --dropout \2 --lr \3 --l2 \4/p' "$RUN/tune.txt" | tail -1)
[ -n "$BEST" ] || { echo "no best trial in $RUN/tune.txt"; exit 1; }
$T train $COMMON $BEST --epochs 60 --patience 10 | tee "$RUN/train.txt"
# 3. Export int8 with the metadata fitted on validation, then the test split, once.
$T export --run "$RUN" --version "$VERSION" -o "$RUN/model.onnx"
$T evaluate --model "$RUN/model.onnx" --data "$DATA" --out "$RUN/eval-test" | tee "$RUN/eval-test.txt"
