"""Every zoo model survives export -> import -> compile: the same parameters (layer by layer),
buffers, MACs and shapes, and the imported model computes what the original computes."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")

from import_check import round_trip

from cnnc.compiler import compile_file
from cnnc.zoo import zoo_names

# Reduced inputs as in tests/cnnc/export/test_onnx_zoo.py, smaller where the spec allows, so
# that the file runs in well under a minute.
SMALL = {name: (3, 32, 32) for name in zoo_names()
         if name.startswith(("densenet", "googlenet", "resnet", "resnext", "vgg", "squeezenet",
                             "unet_milesial", "wrn", "preact", "mobilenet_v2", "mobilenet_v3",
                             "shufflenet", "convnext", "efficientnet"))}
SMALL |= {"googlenet_paper": None, "alexnet": (3, 64, 64), "alexnet_paper": (3, 96, 96),
          "alexnet_paper_2gpu": (3, 96, 96), "hourglass_hg8": (3, 64, 64),
          "unet_original": (1, 188, 188), "unet_scenes": (1, 32, 32),
          "unet3d": (3, 92, 92, 92), "wavenet": (256, 512), "yolov1": (3, 64, 64),
          "segnet": (3, 18, 24)}
# SegNet at 18x24 (as tests/runtime/test_parity.py runs it) pools in ceil mode through 9x12,
# 5x6, 3x3, 2x2 to 1x1, so its unpoolings take their pools' input sizes. DeconvNet's fc6, a 7x7
# valid conv on pool5, needs 224x224 (252M parameters). The VGGs keep 123M parameters at any
# input (the 7x7 classifier stays).
# 3D U-Net's smallest input is 92^3: one sample, not two (23 s here, a third of this file).
BATCH = {"unet3d": 1}


@pytest.mark.parametrize("name", zoo_names())
def test_zoo_model_round_trips(name):
    c = compile_file(name, SMALL.get(name))
    round_trip(c, name, BATCH.get(name, 2))
