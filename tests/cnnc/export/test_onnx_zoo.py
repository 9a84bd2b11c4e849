"""Every zoo model exports to a checked ONNX model that onnxruntime runs to cnnc's outputs."""

from __future__ import annotations

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx_check import check_export

from cnnc.compiler import compile_file
from cnnc.zoo import zoo_names

# Reduced inputs where the spec allows, so that the whole file runs in about a minute; the
# models not named keep their own input (already small, or no smaller size fits them).
SMALL = {name: (3, 32, 32) for name in zoo_names()
         if name.startswith(("densenet", "googlenet", "resnet", "resnext", "vgg", "squeezenet",
                             "unet_milesial", "wrn", "preact", "mobilenet_v2", "mobilenet_v3",
                             "shufflenet", "yolov1", "convnext", "efficientnet"))}
SMALL |= {"googlenet_paper": None, "alexnet": (3, 64, 64), "alexnet_paper": (3, 96, 96),
          "alexnet_paper_2gpu": (3, 96, 96), "hourglass_hg8": (3, 64, 64),
          "unet_original": (1, 192, 192), "unet_scenes": (1, 32, 32),
          "unet3d": (3, 92, 92, 92), "wavenet": (256, 2048), "segnet": (3, 36, 48)}

# WaveNet's 50 residual layers and 50-way skip sum round more in float32: measured against a
# float64 run of the same weights, onnxruntime is 1.2e-5 off and cnnc 1.6e-5 (of the largest
# output), so they may part by twice that; the other models part by under 1e-5.
RTOL = {"wavenet": 4e-5}

# DeconvNet (its fc6 needs the full 224x224) has 1.5 million pool windows an image, and in float32
# a few have two maxima within rounding of each other: where an implementation picks the other
# one, the unpooling puts the value elsewhere, a difference the decoder spreads. Measured at
# batch 1 against float64: the runtime with Winograd convs off in 269,611 of 1.05M outputs (by
# up to 4.4% of the largest), with im2col convs in none (9.8e-7); onnxruntime with all its graph
# rewrites (conv+BN fusion) in 712 (1.9%), with the basic ones in none (1.1e-6). So it is
# compared exactly: onnxruntime's float32 with the basic rewrites against the float64 runtime.
EXACT = {"deconvnet"}


@pytest.mark.parametrize("name", zoo_names())
def test_zoo_model_exports_and_matches_the_runtime(name):
    check_export(compile_file(name, SMALL.get(name)), batch=1 if name in {"unet3d", "deconvnet"}
                 else 2, rtol=RTOL.get(name, 1e-5), exact=name in EXACT)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2", "vgg11_bn", "densenet121"])
def test_folded_batchnorm_matches_the_runtime(name):
    c = compile_file(name, (3, 32, 32))
    kept = check_export(c)
    folded = check_export(c, fold_bn=True)
    norms = [sum(n.op_type == "BatchNormalization" for n in m.graph.node) for m in (kept, folded)]
    # each BatchNorm after a conv goes; DenseNet's come before their convs and stay
    assert norms[1] < norms[0] if name != "densenet121" else norms[1] <= norms[0]
