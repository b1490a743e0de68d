"""Export torchvision-layout ResNets to ONNX for modelconv's importer tests.

Dev script, never needed by the product or its tests. Run with Debian's Python, which has
torch 1.13 and torchvision 0.14:

    /usr/bin/python3 tools/torchvision_export.py            # tiny fixtures -> modelfile/torchvision/testdata
    /usr/bin/python3 tools/torchvision_export.py --full /tmp/resnet50_tv.onnx   # random resnet50, not committed

The tiny network is built from torchvision's own ResNet and Bottleneck classes (stem 8,
widths [2,4,4,8], expansion 2, blocks [1,1,2,1]) with random weights and random BatchNorm
statistics. It is exported twice: eval mode (the exporter folds BatchNorm into Conv and names
initializers anonymously) and with BatchNorm kept as nodes. expected.json holds, per conv by
torchvision name, the BN-folded weight sum, a few elements and the bias, and the pooled
features and logits for a fixed input that the Go test rebuilds.
"""
import argparse
import json
import math
import os

import torch
import torch.nn as nn
import torchvision
from torchvision.models.resnet import Bottleneck, ResNet

STEM, WIDTHS, EXPANSION, BLOCKS, CLASSES, SIZE = 8, [2, 4, 4, 8], 2, [1, 1, 2, 1], 3, 64


class TinyBottleneck(Bottleneck):
    expansion = EXPANSION


class TinyResNet(ResNet):
    """torchvision's ResNet with its hard-coded stem and stage widths made parameters."""

    def __init__(self):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = STEM, 1, 1, 64
        self.conv1 = nn.Conv2d(3, STEM, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(STEM)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(TinyBottleneck, WIDTHS[0], BLOCKS[0])
        self.layer2 = self._make_layer(TinyBottleneck, WIDTHS[1], BLOCKS[1], stride=2)
        self.layer3 = self._make_layer(TinyBottleneck, WIDTHS[2], BLOCKS[2], stride=2)
        self.layer4 = self._make_layer(TinyBottleneck, WIDTHS[3], BLOCKS[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(WIDTHS[3] * EXPANSION, CLASSES)


def randomize_bn(net, gen):
    # Non-trivial statistics, so a wrong fold (or none) shows in the weights.
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=gen)
            m.bias.data = 0.2 * torch.randn(n, generator=gen)
            m.running_mean = 0.1 * torch.randn(n, generator=gen)
            m.running_var = 0.5 + torch.rand(n, generator=gen)
            m.eps = 1e-3  # not the default, so an importer must read the attribute


def fixed_input(size):
    # The Go test builds the same input: x[i] = sin(0.37 i), i over [3, size, size].
    n = 3 * size * size
    return torch.tensor([math.sin(0.37 * i) for i in range(n)], dtype=torch.float32).reshape(1, 3, size, size)


def folded(net):
    """(name, weight, bias) with BN folded, per conv in torchvision names and forward order."""
    out = []
    mods = dict(net.named_modules())
    for name, m in net.named_modules():
        if not isinstance(m, nn.Conv2d):
            continue
        if name.endswith("downsample.0"):
            bn = mods[name[: -len("0")] + "1"]
        else:
            bn = mods[name.replace("conv", "bn")]
        s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        w = m.weight * s.reshape(-1, 1, 1, 1)
        b = bn.bias - bn.running_mean * s
        out.append((name, w.detach(), b.detach()))
    return out


def export(net, path, keep_bn):
    x = fixed_input(SIZE)
    kw = dict(input_names=["input"], output_names=["logits"], opset_version=13)
    if keep_bn:
        kw.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    torch.onnx.export(net, x, path, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "modelfile", "torchvision", "testdata"))
    ap.add_argument("--full", help="export a random torchvision resnet50 to this path instead")
    args = ap.parse_args()

    if args.full:
        torch.manual_seed(0)
        net = torchvision.models.resnet50(weights=None).eval()
        torch.onnx.export(net, torch.randn(1, 3, 224, 224), args.full, input_names=["input"], output_names=["logits"], opset_version=13)
        print("wrote", args.full)
        return

    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(1234)
    net = TinyResNet().eval()
    randomize_bn(net, gen)
    os.makedirs(args.out, exist_ok=True)
    export(net, os.path.join(args.out, "tiny_folded.onnx"), keep_bn=False)
    export(net, os.path.join(args.out, "tiny_bn.onnx"), keep_bn=True)

    with torch.no_grad():
        x = fixed_input(SIZE)
        f = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        f = net.layer4(net.layer3(net.layer2(net.layer1(f))))
        pooled = torch.flatten(net.avgpool(f), 1)[0]
        logits = net(x)[0]
    convs = []
    for name, w, b in folded(net):
        flat = w.flatten()
        convs.append({
            "name": name,
            "shape": list(w.shape),
            "weight_sum": float(w.double().sum()),
            "weight_abs_sum": float(w.double().abs().sum()),
            "weight_first": [float(v) for v in flat[:4]],
            "weight_last": float(flat[-1]),
            "bias": [float(v) for v in b],
        })
    expected = {
        "arch": {"stem": STEM, "widths": WIDTHS, "expansion": EXPANSION, "blocks": BLOCKS},
        "input_size": SIZE,
        "input": "x[i] = sin(0.37 i), i over [3, size, size]",
        "convs": convs,
        "pooled": [float(v) for v in pooled],
        "logits": [float(v) for v in logits],
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
    }
    with open(os.path.join(args.out, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1)
        fh.write("\n")
    print("wrote tiny_folded.onnx, tiny_bn.onnx, expected.json to", args.out)


if __name__ == "__main__":
    main()
