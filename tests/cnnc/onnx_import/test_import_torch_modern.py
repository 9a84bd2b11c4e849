"""torch.onnx.export's forms (dynamo=False, opset 17, eval mode) of the layers of newer networks
import as one cnnc layer each: GELU (exact and tanh), LayerNorm over channels as ConvNeXt writes
it and on a vector, GroupNorm, InstanceNorm, Hardswish and Hardsigmoid, a channel shuffle,
LocalResponseNorm (AlexNet's). Each small network compiles to the figures of the torch module
(counted from its parameters and layers) and gives PyTorch's outputs; what has no cnnc layer is
listed, one line per node."""

from __future__ import annotations

import io
import math
import re

import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

from import_check import assert_outputs_equal, figures, imported, layout
from test_import_torch import exported as exported_reference

from cnnc.compiler import compile_file
from cnnc.errors import CnncError

nn = torch.nn


class ConvNeXtBlock(nn.Module):
    """ConvNeXt's block with 1x1 convs: depthwise 7x7, LayerNorm over the channels (moved last
    and back), 1x1 expand, GELU, 1x1 project, residual add."""

    def __init__(self, c: int, approximate: str = "none", affine: bool = True,
                 swap: bool = False) -> None:
        super().__init__()
        self.swap = swap  # the channels moved last by x.transpose(1, 3): W and H swapped too
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c, eps=1e-6, elementwise_affine=affine)
        self.expand = nn.Conv2d(c, 4 * c, 1)
        self.act = nn.GELU(approximate=approximate)
        self.project = nn.Conv2d(4 * c, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x)
        if self.swap:
            y = self.norm(y.transpose(1, 3)).transpose(1, 3)
        else:
            y = self.norm(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return x + self.project(self.act(self.expand(y)))


class ChannelsLastConvNeXtBlock(ConvNeXtBlock):
    """ConvNeXt's own block: LayerNorm, the two linears and the layer scale run on the channels
    moved last, between the permutes."""

    def __init__(self, c: int) -> None:
        super().__init__(c)
        self.expand, self.project = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 0.5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm(self.dwconv(x).permute(0, 2, 3, 1))
        y = self.gamma * self.project(self.act(self.expand(y)))
        return x + y.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight,
                                     self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class CNBlock(nn.Module):
    """torchvision's ConvNeXt block (stochastic depth, the identity in eval mode, left out):
    the layer scale (C, 1, 1) applied after the permute back."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
                                   Permute([0, 2, 3, 1]), nn.LayerNorm(dim, eps=1e-6),
                                   nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim),
                                   Permute([0, 3, 1, 2]))
        self.layer_scale = nn.Parameter(torch.full((dim, 1, 1), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer_scale * self.block(x) + x


class TinyConvNeXt(nn.Module):
    """torchvision's ConvNeXt layout at toy size: patchify stem and LayerNorm2d, blocks, a
    LayerNorm2d and strided conv between stages, pooled head with LayerNorm2d and Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 8, 4, stride=4), LayerNorm2d(8, eps=1e-6)),
            nn.Sequential(CNBlock(8), CNBlock(8)),
            nn.Sequential(LayerNorm2d(8, eps=1e-6), nn.Conv2d(8, 16, 2, stride=2)),
            nn.Sequential(CNBlock(16)))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(LayerNorm2d(16, eps=1e-6), nn.Flatten(1),
                                        nn.Linear(16, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


class GroupNormBlock(nn.Module):
    def __init__(self, c: int, groups: int, affine: bool = True) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1)
        self.norm1 = nn.GroupNorm(groups, c, affine=affine)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.norm2 = nn.GroupNorm(groups, c, eps=1e-3, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.norm1(self.conv1(x)).relu()
        return (x + self.norm2(self.conv2(y))).relu()


class InstanceNormBlock(nn.Module):
    """InstanceNorm2d, with and without its affine map: groupnorm with a group per channel."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c, affine=True),
                                  nn.ReLU(), nn.Conv2d(c, c, 3), nn.InstanceNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class MobileNetV3Block(nn.Module):
    """Inverted residual with Hardswish and a squeeze-excitation gate through Hardsigmoid."""

    def __init__(self, c: int, expand: int) -> None:
        super().__init__()
        e = c * expand
        self.body = nn.Sequential(nn.Conv2d(c, e, 1, bias=False), nn.BatchNorm2d(e),
                                  nn.Hardswish(), nn.Conv2d(e, e, 3, padding=1, groups=e,
                                                            bias=False),
                                  nn.BatchNorm2d(e), nn.Hardswish())
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(e, c, 1), nn.ReLU(),
                                  nn.Conv2d(c, e, 1), nn.Hardsigmoid())
        self.project = nn.Sequential(nn.Conv2d(e, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.body(x)
        return x + self.project(y * self.gate(y))


class ShuffleUnit(nn.Module):
    """ShuffleNet's unit: grouped 1x1 conv, channel shuffle (reshape, transpose, reshape),
    depthwise 3x3, grouped 1x1 conv, residual add."""

    def __init__(self, c: int, groups: int) -> None:
        super().__init__()
        self.groups = groups
        self.reduce = nn.Sequential(nn.Conv2d(c, c // 2, 1, groups=groups, bias=False),
                                    nn.BatchNorm2d(c // 2), nn.ReLU())
        self.depthwise = nn.Sequential(nn.Conv2d(c // 2, c // 2, 3, padding=1, groups=c // 2,
                                                 bias=False), nn.BatchNorm2d(c // 2))
        self.expand = nn.Sequential(nn.Conv2d(c // 2, c, 1, groups=groups, bias=False),
                                    nn.BatchNorm2d(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.reduce(x)
        n, c, h, w = y.shape
        y = y.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)
        return (x + self.expand(self.depthwise(y))).relu()


class VectorHead(nn.Module):
    """LayerNorm on a vector: Linear, LayerNorm, GELU (tanh), Linear."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(48, 32), nn.LayerNorm(32),
                                  nn.GELU(approximate="tanh"), nn.Linear(32, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def randomised(model: nn.Module) -> nn.Module:
    """`model` in eval mode with every parameter and statistic drawn at random: PyTorch's fresh
    norms (scale 1, shift 0, statistics 0 and 1) would hide a scale and shift swapped or lost."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():  # a layer scale's; the layers' are drawn below
            p.uniform_(0.5, 1.5)
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                fan_in = m.weight[0].numel()
                m.weight.normal_(0, math.sqrt(2 / fan_in))  # He's gain keeps the signal
                if m.bias is not None:
                    m.bias.normal_(0, 0.1)
            elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)):
                if m.weight is not None:
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.normal_(0, 0.1)
                if isinstance(m, nn.BatchNorm2d):
                    m.running_mean.normal_(0, 0.1)
                    m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def torch_figures(model: nn.Module, x: torch.Tensor) -> tuple:
    """The figures cnnc reports, counted on the torch module: parameters (all trainable),
    buffers (BatchNorm's statistics), MACs (convs and linears) and the shapes."""
    macs = []

    def count(m: nn.Module, inputs: tuple, y: torch.Tensor) -> None:
        if isinstance(m, nn.Conv2d):
            macs.append(y[0].numel() * m.in_channels // m.groups * math.prod(m.kernel_size))
        else:
            macs.append(y[0].numel() * m.in_features)
    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for name, b in model.named_buffers()
                  if not name.endswith("num_batches_tracked"))
    return params, params, buffers, sum(macs), tuple(x.shape[1:]), tuple(y.shape[1:])


def exported(model: nn.Module, x: torch.Tensor, opset: int = 17,
             dynamic: bool = False) -> onnx.ModelProto:
    """torch's ONNX of `model`; `dynamic`: with a symbolic batch, so that torch computes the
    sizes it reads from shapes (a view's) in the graph instead of writing them as constants."""
    f = io.BytesIO()
    batch = {"input_names": ["x"], "dynamic_axes": {"x": {0: "N"}}} if dynamic else {}
    # PRESERVE on an eval-mode model: eval mode, the BatchNorms kept (EVAL folds them into convs)
    torch.onnx.export(model, (x,), f, dynamo=False, opset_version=opset,
                      training=torch.onnx.TrainingMode.PRESERVE, **batch)
    return onnx.load_from_string(f.getvalue())


CNBLOCK = ["conv", "layernorm", "conv", "gelu", "conv", "scale", "add"]
CASES = {
    # torch writes the missing affine map as Constant nodes of ones and zeros, not parameters
    "batchnorm_no_affine": (lambda: nn.Sequential(nn.Conv2d(3, 4, 3),
                                                  nn.BatchNorm2d(4, affine=False)),
                            (3, 6, 6), ["conv", "batchnorm"]),
    "convnext": (lambda: ConvNeXtBlock(8), (8, 9, 10),
                 ["conv", "layernorm", "conv", "gelu", "conv", "add"]),
    "convnext_swapped": (lambda: ConvNeXtBlock(8, swap=True), (8, 9, 10),
                         ["conv", "layernorm", "conv", "gelu", "conv", "add"]),
    "convnext_tanh_no_affine": (lambda: ConvNeXtBlock(8, "tanh", affine=False), (8, 9, 10),
                                ["conv", "layernorm", "conv", "gelu", "conv", "add"]),
    "convnext_channels_last": (lambda: ChannelsLastConvNeXtBlock(8), (8, 9, 10), CNBLOCK),
    # stage 1's two blocks become one with repeat: 2, written once
    "convnext_torchvision": (TinyConvNeXt, (3, 32, 32),
                             [*CNBLOCK, "conv", "layernorm", "layernorm", "conv", *CNBLOCK,
                              "global_avgpool", "layernorm", "flatten", "linear"]),
    "groupnorm": (lambda: GroupNormBlock(8, 4), (8, 6, 7),
                  ["conv", "groupnorm", "relu", "conv", "groupnorm", "add", "relu"]),
    "groupnorm_no_affine": (lambda: GroupNormBlock(8, 2, affine=False), (8, 6, 7),
                            ["conv", "groupnorm", "relu", "conv", "groupnorm", "add", "relu"]),
    "instancenorm": (lambda: InstanceNormBlock(4), (4, 8, 7),
                     ["conv", "groupnorm", "relu", "conv", "groupnorm"]),
    # torch writes the first view's sizes as constants, the second's computed from shapes
    "lrn": (lambda: nn.Sequential(nn.Conv2d(3, 8, 3), nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0),
                                  nn.MaxPool2d(2), nn.Conv2d(8, 4, 3),
                                  nn.LocalResponseNorm(4, 0.01, 0.5, 1.5)),
            (3, 12, 12), ["conv", "lrn", "maxpool", "conv", "lrn"]),
    "mobilenet_v3": (lambda: MobileNetV3Block(4, 3), (4, 8, 8),
                     ["conv", "batchnorm", "hardswish", "conv", "batchnorm", "hardswish",
                      "global_avgpool", "conv", "relu", "conv", "hardsigmoid", "mul", "conv",
                      "batchnorm", "add"]),
    "shuffle": (lambda: ShuffleUnit(8, 2), (8, 6, 6),
                ["conv", "batchnorm", "relu", "reshape", "permute", "reshape", "conv",
                 "batchnorm", "conv", "batchnorm", "add", "relu"]),
    "vector": (VectorHead, (3, 4, 4), ["flatten", "linear", "layernorm", "gelu", "linear"]),
}


@pytest.mark.parametrize("batch", ["fixed", "symbolic"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_export_imports_to_the_modules_figures_and_outputs(case, batch):
    make, shape, ops = CASES[case]
    model = randomised(make())
    x = torch.randn(2, *shape)
    back, tensors, text = imported(exported(model, x, dynamic=batch == "symbolic"), case)
    assert re.findall(r"op: (\w+)", text) == ops
    assert figures(back) == torch_figures(model, x)
    with torch.no_grad():
        want = model(x).numpy()
    assert_outputs_equal(back, tensors, x.numpy(), want)


def test_torch_alexnet_with_lrn_imports_to_the_spec_figures():
    c = compile_file("alexnet_paper")  # 227x227: the classifier's input is fixed; ~6 s
    model, reference, x = exported_reference("alexnet_paper", c.input_shape, keep_bn=False)
    back, tensors, text = imported(model, "alexnet_paper")
    assert text.count("op: lrn, size: 5, k: 2.0}") == 2
    assert figures(back) == figures(c)
    assert layout(back) == layout(c)
    with torch.no_grad():
        assert_outputs_equal(back, tensors, x.numpy(), reference(x).numpy())


def test_exact_gelu_and_layernorm_attributes_are_read_not_assumed():
    _, _, text = imported(exported(randomised(ConvNeXtBlock(4)), torch.randn(1, 4, 5, 5)))
    assert "{id: norm, op: layernorm, eps: 1e-06}" in text
    assert "{id: act, op: gelu}" in text
    _, _, text = imported(exported(randomised(ConvNeXtBlock(4, "tanh", affine=False)),
                                   torch.randn(1, 4, 5, 5)))
    assert "{id: norm, op: layernorm, eps: 1e-06, affine: false}" in text
    assert "{id: act, op: gelu, approximate: tanh}" in text


def test_onnx_gelu_node_of_opset_20_imports():
    model, x = randomised(ConvNeXtBlock(4, "tanh")), torch.randn(2, 4, 5, 5)
    onnx_model = exported(model, x, opset=20)
    assert "Gelu" in {n.op_type for n in onnx_model.graph.node}  # one node from opset 20
    back, tensors, text = imported(onnx_model)
    assert "{id: act, op: gelu, approximate: tanh}" in text
    with torch.no_grad():
        assert_outputs_equal(back, tensors, x.numpy(), model(x).numpy())


def _unsupported(model: nn.Module, x: torch.Tensor) -> list[str]:
    with pytest.raises(CnncError) as e:
        imported(exported(randomised(model), x))
    return str(e.value).splitlines()


class NearlyGelu(nn.Module):
    """GELU's nodes that are not a GELU: x/2 (1 + erf(x / 1.5)), another constant; or
    a/2 (1 + erf(b / sqrt 2)), two tensors."""

    def __init__(self, two_inputs: bool) -> None:
        super().__init__()
        self.two_inputs = two_inputs
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.conv(x) if self.two_inputs else x
        return x * 0.5 * (1 + torch.erf(b / (math.sqrt(2) if self.two_inputs else 1.5)))


@pytest.mark.parametrize("two_inputs", [False, True], ids=["constant", "inputs"])
def test_a_form_that_differs_is_not_taken_for_gelu(two_inputs):
    lines = _unsupported(NearlyGelu(two_inputs), torch.randn(2, 3, 4, 4))
    listed = sorted(re.search(r"\((\w+)\)", line).group(1) for line in lines)
    assert listed == ["Add", "Div", "Erf", "Mul"]  # x * 0.5; the product of the two is a mul
    assert any("(Mul): a constant operand of shape []" in line for line in lines)


class SwappedBack(nn.Module):
    """A LayerNorm on the channels moved last, moved back to (C, W, H): the two Transposes do
    not undo each other, so the norm stays one over the last axis of a map."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.permute(0, 2, 3, 1)).permute(0, 3, 2, 1)


def test_transposes_that_do_not_undo_each_other_leave_the_norm_listed():
    (line,) = _unsupported(SwappedBack(4), torch.randn(2, 4, 5, 6))
    assert "(LayerNormalization): `axis` -1 of a [5, 6, 4] value" in line


class TokenHead(nn.Module):
    """A map read as tokens (N, H*W, C), a LayerNorm and a Linear on them, and their mean: no
    Transpose brings the channels back, and cnnc's layers run channels first."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.norm, self.fc, self.act = nn.LayerNorm(c), nn.Linear(c, 2 * c), nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.flatten(2).transpose(1, 2)
        return self.act(self.fc(self.norm(tokens))).mean(dim=1)


def test_channels_last_layers_are_listed_one_line_per_node():
    lines = _unsupported(TokenHead(4), torch.randn(2, 4, 5, 5))
    listed = sorted(re.search(r"\((\w+)\)", line).group(1) for line in lines)
    # the norm, the linear (a product and the bias added) and the mean; not the GELU
    assert listed == ["Add", "LayerNormalization", "MatMul", "ReduceMean"]
    assert len(set(lines)) == len(lines)
    norm = next(line for line in lines if "LayerNormalization" in line)
    assert "cnnc's layernorm normalises a vector, or a map's channels" in norm
    assert all("error[import]" in line for line in lines)
