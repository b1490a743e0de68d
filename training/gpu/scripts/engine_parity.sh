#!/bin/bash
# On a many-core machine (16 CPU cores were used; no GPU needed): the fast page engine (convnet) vs
# the onnx-go reference on the shipped model over the 624 test images (issue 3's "outputs
# unchanged" check, max |dP| <= 1e-4). About 3 s per image for both engines on one core,
# so this takes ~30 min on 2 cores and ~2-3 min on 16. Prepare with (git-ignored folder):
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o training/gpu/scripts/parity/modelconv ./modelconv
#   tar -C ../shared/data/chest_xray -cf training/gpu/scripts/parity/test.tar test
# and copy the tree with training/gpu/scripts/parity/ to that machine. Output: $OUT/engine-parity.txt.
cd "$(dirname "$0")/../../.." # repository root
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/ep
tar -C /tmp/ep -xf training/gpu/scripts/parity/test.tar
nproc
W=$(( $(nproc) - 1 ))
timeout 400 training/gpu/scripts/parity/modelconv parity --model models/default.onnx --engines onnx-go,convnet \
  --data /tmp/ep/test --workers "$W" 2>/dev/null | tee "$OUT/engine-parity.txt"
