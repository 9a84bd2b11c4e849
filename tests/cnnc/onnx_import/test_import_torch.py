"""Models written by torch.onnx.export from the PyTorch reference models import, compile to the
figures of their cnnc specs, and cnnc's outputs on them equal PyTorch's."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from import_check import assert_outputs_equal, figures, imported, layout
from torch_models import build

from cnnc.compiler import Compiled, compile_file
from cnnc.errors import CnncError
from cnnc.ir import keys

# (zoo name, input): the inputs are small where the spec allows; VGG's 7x7 adaptive pooling
# needs a 7x7 map for torch's export (224x224): it has a test of its own, BN kept only
CASES = [("lenet5", None), ("resnet18", (3, 64, 64)), ("mobilenet_v2", (3, 64, 64)),
         ("squeezenet1_0", (3, 64, 64)), ("googlenet", (3, 64, 64)),
         ("densenet121", (3, 64, 64)), ("highway_mlp", None)]
# MobileNetV2's 52 layers round more in float32: against a float64 run of the same weights
# (which cnnc matches to 3e-14), PyTorch is 9.3e-6 off and cnnc 7.0e-6 (of the largest
# output), so they may part by twice that; the others part by under 1e-5.
# WaveNet's 30 dilated layers likewise: PyTorch 8.7e-6 off float64, cnnc 1.5e-5 (cnnc in float64
# matches PyTorch's float64 to 3e-14).
RTOL = {"mobilenet_v2": 2e-5, "wavenet": 3e-5}
# The other reference models, with BN kept (the forms of folding are checked above). Not here:
# SegNet and DeconvNet (torch 2.13 cannot export max unpooling, see test_import_windows.py),
# 3D U-Net (its smallest input, 92^3, takes 35 s; its 3D forms round-trip in
# test_import_zoo.py and test_import_windows.py), YOLOv1 (its classifier fixes 448x448: 38 s
# here, in ops that the others have).
MORE = [("mnist1d_cnn", None), ("resnet20_cifar", (3, 16, 16)), ("resnet50", (3, 32, 32)),
        ("unet_milesial", (3, 32, 32)), ("unet_original", (1, 188, 188)),
        ("mobilenet_v1", None), ("squeezenet1_1", (3, 64, 64)), ("resnext50_32x4d", (3, 32, 32)),
        ("wrn28_10_cifar", None), ("preact_resnet164_cifar", None),
        ("nin_cifar10", None), ("hourglass_hg8", (3, 64, 64)),
        ("wavenet", (256, 512)), ("efficientnet_b0", (3, 64, 64))]


def exported(name: str, shape, keep_bn: bool) -> tuple[object, torch.nn.Module, np.ndarray]:
    torch.manual_seed(0)
    model = build(name).eval()
    with torch.no_grad():  # random statistics: fresh ones are the identity and hide mistakes
        for p in model.parameters():
            if p.ndim >= 2:  # He's gain: PyTorch's default bound fades the input out of the output
                p.mul_(6 ** 0.5)
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
    x = torch.randn(2, *shape)
    f = io.BytesIO()
    mode = torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, (x,), f, dynamo=False, training=mode, input_names=["x"])
    return onnx.load_from_string(f.getvalue()), model, x


def folded(c: Compiled) -> tuple[int, int]:
    """(parameters, buffers) that eval-mode export removes from `c`: each BatchNorm read only
    from a conv goes into that conv's weight and bias (a conv without bias gains one)."""
    params = buffers = 0
    for node in c.layers:
        d = c.node(node)
        if d[keys.LAYER].op != "batchnorm":
            continue
        (src,) = c.graph.pred[node]
        s = c.node(src)
        if s[keys.LAYER].op == "conv" and len(c.graph.succ[src]) == 1:
            ch = d[keys.SHAPE][0]
            params += 2 * ch - (0 if "bias" in s[keys.PARAMS] else ch)
            buffers += 2 * ch
    return params, buffers


@pytest.mark.parametrize("keep_bn", [True, False], ids=["bn-kept", "bn-folded"])
@pytest.mark.parametrize(("name", "shape"), CASES, ids=[n for n, _ in CASES])
def test_torch_export_imports_to_the_spec_figures(name, shape, keep_bn):
    c = compile_file(name, shape)
    model, reference, x = exported(name, c.input_shape, keep_bn)
    back, tensors, _ = imported(model, name)
    p, b, macs, shapes = figures(back)[0], figures(back)[2], figures(back)[3], figures(back)[4:]
    if keep_bn:
        assert figures(back) == figures(c)
        assert layout(back) == layout(c)
    else:
        gone_params, gone_buffers = folded(c)
        assert (p, b) == (c.totals.params - gone_params, c.totals.buffers - gone_buffers)
        assert (macs, shapes) == (c.totals.macs, figures(c)[4:])
    with torch.no_grad():
        want = reference(x).numpy()
    assert_outputs_equal(back, tensors, x.numpy(), want, RTOL.get(name, 1e-5))


@pytest.mark.parametrize(("name", "shape"), MORE, ids=[n for n, _ in MORE])
def test_more_torch_references_import_to_the_spec_figures(name, shape):
    c = compile_file(name, shape)
    model, reference, x = exported(name, c.input_shape, keep_bn=True)
    back, tensors, _ = imported(model, name)
    assert figures(back) == figures(c)
    # torch's export may order independent layers otherwise (WaveNet's skip convs)
    assert sorted(layout(back)) == sorted(layout(c))
    with torch.no_grad():
        want = reference(x)  # the hourglass gives a list, one heatmap per stack
    want = [y.numpy() for y in want] if isinstance(want, list) else want.numpy()
    if isinstance(want, list):
        assert len(want) == len(back.outputs)
    assert_outputs_equal(back, tensors, x.numpy(), want, RTOL.get(name, 1e-5))


def test_torch_export_of_vgg11_bn_imports_to_the_spec_figures():
    c = compile_file("vgg11_bn")  # 224x224, ~15 s: 133M parameters written, read and run
    model, reference, x = exported("vgg11_bn", c.input_shape, keep_bn=True)
    back, tensors, _ = imported(model, "vgg11_bn")
    assert figures(back) == figures(c)
    assert layout(back) == layout(c)
    with torch.no_grad():
        want = reference(x).numpy()
    assert_outputs_equal(back, tensors, x.numpy(), want)


class Functional(torch.nn.Module):
    """torch's multi-node forms: SiLU, a flatten by `view` (shape arithmetic), nearest
    upsampling by a scale, a ceil-mode max pool, Clip(0, 6), a channel concat; `times` a
    constant factor, which cnnc has no layer for."""

    def __init__(self, times: float | None = None) -> None:
        super().__init__()
        self.times = times
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.pool = torch.nn.MaxPool2d(3, 2, ceil_mode=True)
        self.fc = torch.nn.Linear(16 * 8 * 8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pool(torch.nn.functional.silu(self.conv(x)))
        z = y * self.times if self.times is not None else y
        y = torch.cat([y, torch.nn.functional.relu6(z)], dim=1)
        y = torch.nn.functional.interpolate(y, scale_factor=2, mode="nearest")
        return self.fc(y.view(y.size(0), -1))


def _exported(model: torch.nn.Module, x: torch.Tensor):
    f = io.BytesIO()
    torch.onnx.export(model, (x,), f, dynamo=False)
    return onnx.load_from_string(f.getvalue())


def test_torch_functional_forms_import():
    torch.manual_seed(0)
    model, x = Functional().eval(), torch.randn(2, 3, 8, 8)
    back, tensors, text = imported(_exported(model, x))
    assert re.findall(r"op: (\w+)", text) == ["conv", "silu", "maxpool", "relu6", "concat",
                                              "upsample", "flatten", "linear"]
    assert "ceil_mode: true" in text and "scale: 2" in text
    with torch.no_grad():
        want = model(x).numpy()
    assert_outputs_equal(back, tensors, x.numpy(), want)


def test_a_constant_factor_is_reported_not_guessed():
    with pytest.raises(CnncError) as e:
        imported(_exported(Functional(times=3.0).eval(), torch.randn(2, 3, 8, 8)))
    assert "(Mul): a constant operand" in str(e.value)


class Circular(torch.nn.Module):
    """torch's circular padding, inside a conv and by `F.pad`: Slices and Concats."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(4, 6, 3, padding=(1, 2), padding_mode="circular")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(self.conv(x), (2, 1, 0, 3), mode="circular")


def test_torch_circular_padding_imports_as_the_conv_and_pad_modes():
    torch.manual_seed(0)
    model, x = Circular().eval(), torch.randn(2, 4, 9, 10)
    back, tensors, text = imported(_exported(model, x))
    assert re.findall(r"op: (\w+)", text) == ["conv", "pad"]
    assert "padding: [1, 2], padding_mode: circular" in text
    assert "padding: [[0, 3], [2, 1]], mode: circular" in text
    with torch.no_grad():
        want = model(x).numpy()
    assert_outputs_equal(back, tensors, x.numpy(), want)


class PoolIndices(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y, indices = torch.nn.functional.max_pool2d(x, 2, ceil_mode=True, return_indices=True)
        return y, indices.float()


def test_torch_pool_indices_are_one_node_with_plane_relative_indices():
    # max_pool2d_with_indices: MaxPool, a 1x1 MaxPool's indices sliced at each plane's origin,
    # subtracted; cnnc's maxpool with `indices` (which only a maxunpool reads)
    from cnnc.onnx_import.patterns import rewrite
    from cnnc.onnx_import.patterns_windows import POOL_INDICES
    from cnnc.onnx_import.reader import read

    g = read(_exported(PoolIndices(), torch.randn(2, 3, 9, 10)))
    sub = next(n for n in g.nodes if n.op_type == "Sub")
    rewrite(g)
    assert [n.op_type for n in g.nodes] == [POOL_INDICES, "Cast"]
    assert g.nodes[0].outputs[1] == sub.outputs[0]


def test_torch_cannot_export_max_unpooling_yet():
    # so SegNet and DeconvNet are not in CASES: the exporter's trace of F.max_unpool2d fails
    # on its size check, and torch has no max_unpool2d symbolic (pytorch/pytorch#25088). When
    # this fails, add them there.
    from torch_segmentation import SegNet

    with pytest.raises((TypeError, torch.onnx.errors.UnsupportedOperatorError)):
        _exported(SegNet().eval(), torch.randn(1, 3, 18, 24))


def test_tensorflow_same_padding_from_the_maps_size_is_the_convs_padding():
    """torch's SAME padding computes its pads from x.shape (SamePad2d, timm's Conv2dSame): the
    pads are evaluated and go into the conv, uneven ones as [before, after]."""
    from torch_classics import tf_conv_bn_relu
    torch.manual_seed(0)
    model = torch.nn.Sequential(tf_conv_bn_relu(3, 8, 3, stride=2),
                                tf_conv_bn_relu(8, 8, 3, groups=8)).eval()
    x = torch.randn(2, 3, 15, 16)
    back, tensors, text = imported(_exported(model, x))
    assert re.findall(r"op: (\w+)", text) == ["conv", "relu", "conv", "relu"]  # BN folded
    assert "padding: [[1, 1], [0, 1]]" in text and "padding: 1," in text
    with torch.no_grad():
        want = model(x).numpy()
    assert_outputs_equal(back, tensors, x.numpy(), want)
