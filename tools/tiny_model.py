#!/usr/bin/python3
"""Builds the small contract-format model the screen and inference tests run, and its PyTorch
reference outputs. Dev script only (Debian's /usr/bin/python3 with torch 1.13 and onnx 1.12);
the Go tests read what it writes and never need Python.

    /usr/bin/python3 tools/tiny_model.py

Writes into screen/testdata/:
  tiny.onnx          a ResNet-like graph with the ops the real model uses (Conv with bias, Relu,
                     MaxPool, Add, GlobalAveragePool, Flatten, MatMul + Add head with the
                     contract's initializer names, Sigmoid), 16 feature channels at 14x14 so
                     nothing may assume 2048 x 7 x 7, and pneumoscan metadata (temperature 1.5);
  *.png              the two X-ray fixtures as decoded by PIL, stored losslessly so Go reads the
                     exact pixels PyTorch saw (JPEG decoders differ by +-1 on ~1.5% of pixels);
  reference.json     per image: the model's raw probability, the calibrated one
                     (sigmoid(logit / T)), and the Grad-CAM map by autograd (every 4th row
                     and column of the 224 x 224 map).
"""
import json
import os

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "screen", "testdata")
FIXTURES = ["normal-IM-0001-0001.jpeg", "pneumonia-person100_bacteria_475.jpeg"]
SIZE = 224
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
TEMPERATURE = 1.5
STRIDE = 4


class MatMulLinear(nn.Module):
    """x @ weight + bias with weight [K, N]: exports as MatMul + Add (not Gemm)."""

    def __init__(self, k, n):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(k, n) / k ** 0.5)
        self.bias = nn.Parameter(torch.randn(n) * 0.1)

    def forward(self, x):
        return torch.matmul(x, self.weight) + self.bias


class Head(nn.Module):
    def __init__(self, k, u):
        super().__init__()
        self.fc1 = MatMulLinear(k, u)
        self.fc2 = MatMulLinear(u, 1)

    def logit(self, features):
        g = torch.flatten(F.adaptive_avg_pool2d(features, 1), 1)
        return self.fc2(torch.relu(self.fc1(g)))


class Tiny(nn.Module):
    def __init__(self, k=16, u=8):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.c1 = nn.Conv2d(8, 8, 3, padding=1)
        self.c2 = nn.Conv2d(8, 8, 3, padding=1)
        self.down1 = nn.Conv2d(8, k, 3, stride=2, padding=1)
        self.down2 = nn.Conv2d(k, k, 3, stride=2, padding=1)
        self.head = Head(k, u)

    def features(self, x):
        x = self.pool(torch.relu(self.stem(x)))
        x = torch.relu(self.c2(torch.relu(self.c1(x))) + x)
        return torch.relu(self.down2(torch.relu(self.down1(x))))

    def forward(self, x):
        f = self.features(x)
        return torch.sigmoid(self.head.logit(f)), f


def gradcam(model, features):
    """Grad-CAM by autograd: weights = spatial mean of d logit / d features; ReLU; bilinear
    upsample (align_corners=False) to SIZE; then divide by the maximum (all-zero stays zero)."""
    a = features.detach().clone().requires_grad_(True)
    model.head.logit(a).sum().backward()
    alpha = a.grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((alpha * a).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=(SIZE, SIZE), mode="bilinear", align_corners=False)[0, 0]
    m = cam.max()
    return (cam / m if m > 0 else cam).detach()


def tensor_of(rgb):
    x = torch.from_numpy(np.asarray(rgb, dtype=np.float32)) / 255.0
    x = (x - torch.tensor(MEAN)) / torch.tensor(STD)
    return x.permute(2, 0, 1).unsqueeze(0).contiguous()


def metadata():
    # Values exactly as Go's model.Metadata.Props encodes them (encoding/json, compact).
    dumps = lambda v: json.dumps(v, separators=(",", ":"))
    return {
        "pneumoscan.contract": "1",
        "pneumoscan.name": "tiny-test",
        "pneumoscan.version": "0.0.1",
        "pneumoscan.trained": "false",
        "pneumoscan.description": "Random tiny ResNet-like model for tests; outputs are meaningless.",
        "pneumoscan.operating_threshold": "balanced",
        "pneumoscan.temperature": "1.5",
        "pneumoscan.preprocess": dumps({"resize": "stretch", "size": SIZE, "channels": "RGB",
                                        "scale": 255, "mean": MEAN, "std": STD}),
        "pneumoscan.classes": dumps(["NORMAL", "PNEUMONIA"]),
        "pneumoscan.thresholds": dumps([{"name": "balanced", "value": 0.5, "criterion": "none (test model)"}]),
        "pneumoscan.metrics": "{}",
    }


def build(seed):
    torch.manual_seed(seed)
    model = Tiny().eval()
    with torch.no_grad():  # move the logit off 0 so the temperature visibly changes P
        model.head.fc2.bias.fill_(1.2)
    return model


def main():
    images = {}
    for name in FIXTURES:
        rgb = Image.open(os.path.join(ROOT, "testdata", "xray", name)).convert("RGB")
        images[name] = (rgb, tensor_of(rgb))
    # The first seed from 7 whose Grad-CAM maps are not trivial (all zero) for both images, so
    # the Go test compares real maps.
    for seed in range(7, 100):
        model = build(seed)
        cams = {}
        for name, (_, x) in images.items():
            with torch.no_grad():
                _, feats = model(x)
            cams[name] = gradcam(model, feats)
        if all((c > 0).float().mean() > 0.2 for c in cams.values()):
            break
    print("seed", seed)

    path = os.path.join(OUT, "tiny.onnx")
    torch.onnx.export(model, torch.zeros(1, 3, SIZE, SIZE), path, input_names=["image"],
                      output_names=["prob", "features"], opset_version=13, do_constant_folding=True)
    m = onnx.load(path)
    helper.set_model_props(m, metadata())
    m.producer_name = "pneumoscan tools/tiny_model.py"
    onnx.checker.check_model(m)
    onnx.save(m, path)
    print("ops:", sorted({n.op_type for n in m.graph.node}))
    print("initializers:", [i.name for i in m.graph.initializer if i.name.startswith("head")])

    ref = {}
    for name, (rgb, x) in images.items():
        png = os.path.splitext(name)[0] + ".png"
        rgb.convert("L").save(os.path.join(OUT, png)) if is_gray(rgb) else rgb.save(os.path.join(OUT, png))
        with torch.no_grad():
            prob, _ = model(x)
        logit = torch.logit(prob.double())
        cam = cams[name]
        ref[png] = {
            "jpeg": name,
            "model_prob": float(prob),
            "prob": float(torch.sigmoid(logit / TEMPERATURE)),
            "heatmap_size": SIZE,
            # Every STRIDE-th row and column (starting at 0), to keep the file small.
            "stride": STRIDE,
            "heatmap": [round(float(v), 6) for v in cam[::STRIDE, ::STRIDE].flatten()],
        }
        print(name, "model prob", float(prob), "calibrated", ref[png]["prob"],
              "CAM > 0 on", float((cam > 0).float().mean()))
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, separators=(",", ":"))


def is_gray(rgb):
    a = np.asarray(rgb)
    return bool((a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all())


if __name__ == "__main__":
    main()
