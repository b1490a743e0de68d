#!/bin/sh
# Here (no GPU): build gputrain with cgo (GoMLX's XLA backend dlopens the PJRT plugin at run
# time, so no CUDA is needed to build), make the patient-grouped split (seed 1, the CPU
# trainer's), and pack binary + train images + split into gpu/payload/ (git-ignored), which
# the lead sends with the run command as carry ["gpu/payload"] (64 MiB cap).
set -eu
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/chest_xray}
P=gpu/payload
mkdir -p "$P"
CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$P/gputrain" ./training/gpu/cmd/gputrain
"$P/gputrain" split --data "$DATA" --split "$P/split.json"
# Train images only: the test split never leaves this machine.
tar -C "$(dirname "$DATA")" -cf "$P/train.tar" "$(basename "$DATA")/train"
rm -f "$P/gputrain.gz"
gzip -9 -k "$P/gputrain"
rm "$P/gputrain"
ls -l "$P"
du -cb "$P"/* | tail -1 | awk '{printf "payload: %.1f MiB (cap 64 MiB)\n", $1/1048576; if ($1 > 64*1048576) { print "TOO BIG"; exit 1 }}'
