#!/bin/bash
# There (the lent machine's 16 CPU cores; no GPU needed): the fast page engine (convnet) vs
# the onnx-go reference on the shipped model over the 624 test images (issue 3's "outputs
# unchanged" check, max |dP| <= 1e-4). About 3 s per image for both engines on one core,
# so this takes ~30 min on the 2-core dev machine and ~2-3 min here. Prepare here with:
#   CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o gpu/parity/modelconv ./modelconv
#   tar -C ../shared/data/chest_xray -cf gpu/parity/test.tar test
# and run with carry ["gpu/parity"]. Output: $OUT/engine-parity.txt.
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/ep
tar -C /tmp/ep -xf gpu/parity/test.tar
nproc
W=$(( $(nproc) - 1 ))
timeout 400 gpu/parity/modelconv parity --model models/default.onnx --engines onnx-go,convnet \
  --data /tmp/ep/test --workers "$W" 2>/dev/null | tee "$OUT/engine-parity.txt"
