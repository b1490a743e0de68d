#!/bin/sh
# First look at a GPU machine: the GPU, the C library, the PJRT plugin that GoMLX can
# dlopen, and whether ImageNet ResNet50 weights are cached anywhere (torch hub, huggingface).
set +e
nvidia-smi
ldd --version | head -1
cat /etc/os-release | head -3
which python3 go nvcc 2>&1
python3 -c "import sys; print(sys.version)" 2>&1
python3 -c "import torch, torchvision; print('torch', torch.__version__, torchvision.__version__, torch.cuda.is_available())" 2>&1 | tail -1
python3 -c "import jax; print('jax', jax.__version__, jax.devices())" 2>&1 | tail -1
echo "--- pjrt plugins"
find / -name 'xla_cuda_plugin.so' -o -name 'pjrt_c_api*.so' -o -name '*pjrt*plugin*.so' 2>/dev/null | grep -v proc | head
echo "--- nvidia wheel dirs"
find / -maxdepth 6 -type d -name nvidia -path '*site-packages*' 2>/dev/null | head
echo "--- resnet50 weights"
find / \( -iname '*resnet50*' -o -iname '*resnet-50*' \) -size +20M 2>/dev/null | grep -v ^/proc | head -20
ls -la ~/.cache/torch/hub/checkpoints ~/.cache/huggingface/hub 2>&1 | head -20
find / -path /proc -prune -o \( -name '*.pth' -o -name '*.safetensors' -o -name '*.h5' \) -size +20M -print 2>/dev/null | head -20
