#!/usr/bin/python3
"""Writes gradcam/testdata/: random features and head weights for GAP -> Dense(ReLU) -> Dense(1),
and the Grad-CAM map PyTorch autograd gives for them, so the Go closed form can be checked.
Dev script only (Debian's /usr/bin/python3 with torch); the Go test never needs Python.

    /usr/bin/python3 tools/gradcam_reference.py

Grad-CAM here: alpha_k = spatial mean of d logit / d A_k (the logit before the sigmoid);
cam = ReLU(sum_k alpha_k A_k); bilinear upsample to S x S (align_corners=False); divide by the
maximum (an all-zero map stays zero). Files are little-endian float32; meta.json has the sizes.
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gradcam", "testdata")
K, U, H, W, S = 256, 32, 7, 7, 100  # S not a multiple of 7: exercises fractional source indices


def main():
    torch.manual_seed(3)
    a = torch.relu(torch.randn(1, K, H, W)) * torch.rand(1, K, 1, 1) * 3
    w1 = torch.randn(K, U) / K ** 0.5
    b1 = torch.randn(U) * 0.3
    w2 = torch.randn(U, 1)
    b2 = torch.randn(1)

    a.requires_grad_(True)
    g = a.mean(dim=(2, 3))
    h = g @ w1 + b1
    logit = torch.relu(h) @ w2 + b2
    logit.sum().backward()
    alpha = a.grad.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((alpha * a).sum(dim=1, keepdim=True))
    up = F.interpolate(cam, size=(S, S), mode="bilinear", align_corners=False)[0, 0]
    up = up / up.max() if up.max() > 0 else up

    negative = int((h <= 0).sum())
    assert 0 < negative < U, "the fixture must exercise the ReLU gate"
    os.makedirs(OUT, exist_ok=True)
    for name, t in [("features", a), ("w1", w1), ("b1", b1), ("w2", w2), ("cam", up)]:
        t.detach().numpy().astype("<f4").tofile(os.path.join(OUT, name + ".f32"))
    with open(os.path.join(OUT, "meta.json"), "w") as f:
        json.dump({"K": K, "U": U, "H": H, "W": W, "S": S, "negative_hidden": negative,
                   "zero_cells": int((cam == 0).sum())}, f)
    print("hidden units gated off:", negative, "of", U, "; zero CAM cells:", int((cam == 0).sum()))


if __name__ == "__main__":
    main()
