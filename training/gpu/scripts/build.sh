#!/bin/sh
# On the build machine (no GPU needed): build gputrain with cgo (GoMLX's XLA backend dlopens
# the PJRT plugin at run time, so no CUDA is needed to build), make the patient-grouped split
# (seed 1, the CPU trainer's), and pack binary + train images + split into
# training/gpu/scripts/payload/ (git-ignored), which run1.sh, run2.sh and run3.sh unpack on the
# GPU machine (the same machine or another one; the runs copied it over with a 64 MiB cap).
# DATA: the data set root (default ../shared/data/chest_xray).
set -eu
cd "$(dirname "$0")/../../.." # repository root
DATA=${DATA:-../shared/data/chest_xray}
P=training/gpu/scripts/payload
mkdir -p "$P"
CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$P/gputrain" ./training/gpu/cmd/gputrain
"$P/gputrain" split --data "$DATA" --split "$P/split.json"
# Train images only: the test split stays on the build machine. Stored as chest_xray/train/...
# whatever DATA's folder is called: env.sh unpacks it as /tmp/pneumoscan-gpu/chest_xray.
tar -C "$DATA" -cf "$P/train.tar" --transform 's,^,chest_xray/,' train
rm -f "$P/gputrain.gz"
gzip -9 -k "$P/gputrain"
rm "$P/gputrain"
ls -l "$P"
du -cb "$P"/* | tail -1 | awk '{printf "payload: %.1f MiB (cap 64 MiB)\n", $1/1048576; if ($1 > 64*1048576) { print "TOO BIG"; exit 1 }}'
