# Sourced (from the repository root) by run1.sh, run2.sh and run3.sh on the GPU machine: unpack
# training/gpu/scripts/payload once, point GoMLX at JAX's CUDA 13 PJRT plugin and at the CUDA
# libraries of the same Python venv's nvidia wheels (pip install "jax[cuda13]" installs both).
# VENV: that venv (default /opt/torch/.venv); PLUGIN: the plugin .so, if not under VENV.
set -eu
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
W=/tmp/pneumoscan-gpu
if [ ! -x "$W/gputrain" ]; then
  mkdir -p "$W"
  gunzip -c training/gpu/scripts/payload/gputrain.gz > "$W/gputrain"
  chmod +x "$W/gputrain"
  tar -C "$W" -xf training/gpu/scripts/payload/train.tar
  # The test split is not sent, but dataset.Scan wants test/ with both classes: the repo's two
  # fixtures (already in this tree) stand in; nothing here reads test/.
  mkdir -p "$W/chest_xray/test/NORMAL" "$W/chest_xray/test/PNEUMONIA"
  cp testdata/xray/normal-*.jpeg "$W/chest_xray/test/NORMAL/"
  cp testdata/xray/pneumonia-*.jpeg "$W/chest_xray/test/PNEUMONIA/"
fi
DATA=$W/chest_xray
SPLIT=training/gpu/scripts/payload/split.json
VENV=${VENV:-/opt/torch/.venv}
PLUGIN=${PLUGIN:-$(ls "$VENV"/lib/python3*/site-packages/jax_plugins/xla_cuda13/xla_cuda_plugin.so 2>/dev/null | head -1 || true)}
[ -f "$PLUGIN" ] || PLUGIN=$(find / -name xla_cuda_plugin.so -not -path '/proc/*' 2>/dev/null | head -1)
NV=$(find "$VENV" -maxdepth 5 -type d -name nvidia -path '*site-packages*' 2>/dev/null | head -1 || true)
NV=${NV:-/nonexistent}
# Every lib folder of the nvidia wheels (cu13/lib, cudnn/lib, ...) for the plugin's dlopens.
LIBS=$(find "$NV" -maxdepth 3 -type d -name lib 2>/dev/null | tr '\n' ':' || true)
export LD_LIBRARY_PATH="${LIBS}${LD_LIBRARY_PATH:-}"
# XLA wants ptxas and nvvm/libdevice under its cuda data dir: the folder above ptxas's bin.
PTXAS=$(find "$NV" -type f -name ptxas 2>/dev/null | head -1 || true)
CUDA_DIR=$(dirname "$(dirname "${PTXAS:-$NV/x/x}")")
[ -n "$PTXAS" ] && export PATH="$(dirname "$PTXAS"):$PATH"
export XLA_FLAGS="--xla_gpu_cuda_data_dir=$CUDA_DIR ${EXTRA_XLA_FLAGS:-}"
export GOMLX_BACKEND="${GOMLX_BACKEND:-xla:$PLUGIN}" # preset only for local dry runs
export GOMLX_NO_AUTO_INSTALL=1
export GOPJRT_CUDA_CHECKS=0
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-1}
GT=$W/gputrain
