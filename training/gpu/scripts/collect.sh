#!/bin/sh
# On the build machine, after run2 or run3: verify the files the run wrote to its $OUT
# against manifest.json (sha256 of each part, each shard and of the reassembled wholes), write
# the int8 model and a float32 model rebuilt from the float16 shards (when the run wrote
# them), and print the model's metadata.
# usage: training/gpu/scripts/collect.sh RUN_OUT_DIR [OUT_DIR (default models/gpu)]
set -eu
cd "$(dirname "$0")/../../.." # repository root
IN=$1
DST=${2:-models/gpu}
mkdir -p "$DST"
go run ./training/gpu/cmd/gputrain collect --dir "$IN" --out "$DST/model.int8.onnx" --fp32 "$DST/model.fp32-from-fp16.onnx"
cp "$IN/train.log" "$DST/train.log"
go run ./modelconv inspect "$DST/model.int8.onnx"
