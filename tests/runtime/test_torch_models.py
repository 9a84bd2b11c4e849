"""The PyTorch reference models (torch_models.py) against the cnnc specs of the same names.

Structure checks run on the meta device (shapes only, no memory, no arithmetic): parameters and
BatchNorm statistics one for one in the spec's order, totals and MACs equal to the reference
figures, and the attributes of every BN, LayerNorm, GELU, dropout, stochastic depth, LRN and
pool equal to the spec's; and measure_figures.py, run on each model, gives its whole entry of
the reference figures. A forward pass of real numbers then checks the output shape (on the meta device for
the 3D U-Net, too big for these CPUs), and the dropout masks are checked by value.
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from measure_figures import measure
from torch import nn
from torch_dropout import MaskedStochasticDepth
from torch_models import MODELS, MaskedDropout, build, state_tensors

from cnnc.compiler import Compiled, compile_file
from cnnc.ir import keys

REFERENCE = json.loads((Path(__file__).parents[1] / "reference_figures.json").read_text())
NAMES = sorted(MODELS)


@cache
def compiled(name: str) -> Compiled:
    return compile_file(name)


def on_meta(name: str) -> nn.Module:
    with torch.device("meta"):
        return build(name)


def spec_tensors(c: Compiled, with_buffers: bool = True) -> list[tuple[str, tuple[int, ...]]]:
    """(qualified name, shape) of every parameter (and running statistic) in the spec's order."""
    out = []
    for node in c.layers:
        d = c.node(node)
        entries = {**d[keys.PARAMS], **(d[keys.BUFFERS] if with_buffers else {})}
        out += [(f"{node}.{k}", tuple(shape)) for k, shape in entries.items()]
    return out


def spec_layers(c: Compiled, op: str) -> list:
    return [c.node(n)[keys.LAYER].attrs for n in c.layers if c.node(n)[keys.LAYER].op == op]


def test_every_model_has_a_spec_and_figures():
    assert set(NAMES) <= set(REFERENCE)
    for name in NAMES:
        assert compiled(name).name == name


@pytest.mark.parametrize("name", NAMES)
def test_parameters_in_spec_order(name):
    c, model = compiled(name), on_meta(name)
    spec = spec_tensors(c, with_buffers=False)
    torch_side = [(k, tuple(p.shape)) for k, p in model.named_parameters()]
    assert len(torch_side) == len(spec)
    for (sk, ss), (tk, ts) in zip(spec, torch_side):
        assert ss == ts, f"spec {sk} {ss} != torch {tk} {ts}"
    params = sum(p.numel() for p in model.parameters())
    assert params == c.totals.params == REFERENCE[name]["params"]


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_in_spec_order(name):
    c, model = compiled(name), on_meta(name)
    spec = spec_tensors(c)
    torch_side = [(k, tuple(v.shape)) for k, v in state_tensors(model)]
    assert len(torch_side) == len(spec)
    for (sk, ss), (tk, ts) in zip(spec, torch_side):
        assert ss == ts and sk.rsplit(".", 1)[1] == tk.rsplit(".", 1)[1], f"{sk} vs {tk}"
    buffers = sum(b.numel() for k, b in model.named_buffers() if "num_batches" not in k)
    assert buffers == REFERENCE[name]["buffers"]


def count_macs(model: nn.Module, x: torch.Tensor) -> int:
    """Conv, transposed conv and linear MACs of one forward pass, the figures' conventions."""
    total = 0

    def hook(m: nn.Module, inputs: tuple, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Linear):
            total += out.numel() * m.in_features
        elif isinstance(m, nn.modules.conv._ConvTransposeNd):
            total += inputs[0].numel() * m.out_channels // m.groups * math.prod(m.kernel_size)
        elif isinstance(m, nn.modules.conv._ConvNd):
            total += out.numel() * m.in_channels // m.groups * math.prod(m.kernel_size)

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    model(x)
    for h in handles:
        h.remove()
    return total


@pytest.mark.parametrize("name", NAMES)
def test_macs_match_figures(name):
    c, model = compiled(name), on_meta(name)
    model.eval()
    x = torch.empty((1, *c.input_shape), device="meta")
    assert count_macs(model, x) == c.totals.macs == REFERENCE[name]["macs"]


@pytest.mark.parametrize("name", NAMES)
def test_layer_attributes_match_spec(name):
    c, model = compiled(name), on_meta(name)
    mods = list(model.modules())

    def of(kind: type) -> list[nn.Module]:
        return [m for m in mods if isinstance(m, kind)]

    bns = [(m.eps, m.momentum, m.affine) for m in of(nn.modules.batchnorm._BatchNorm)]
    assert bns == [(a.eps, a.momentum, a.affine) for a in spec_layers(c, "batchnorm")]
    assert not of(nn.Dropout), "dropouts must be MaskedDropout"
    assert [m.p for m in of(MaskedDropout)] == [a.p for a in spec_layers(c, "dropout")]
    assert [(m.p, "row") for m in of(MaskedStochasticDepth)] == [
        (a.p, a.mode) for a in spec_layers(c, "drop_path")]
    lns = [(m.eps, m.elementwise_affine) for m in of(nn.LayerNorm)]
    assert lns == [(a.eps, a.affine) for a in spec_layers(c, "layernorm")]
    assert [m.approximate for m in of(nn.GELU)] == [a.approximate for a in spec_layers(c, "gelu")]
    lrns = [(m.size, m.alpha, m.beta, m.k) for m in of(nn.LocalResponseNorm)]
    assert lrns == [(a.size, a.alpha, a.beta, a.k) for a in spec_layers(c, "lrn")]
    pooling = nn.modules.pooling
    for kind, op in ((pooling._MaxPoolNd, "maxpool"), (pooling._AvgPoolNd, "avgpool")):
        pools = [(m.kernel_size, m.stride, m.padding, m.ceil_mode) for m in of(kind)]
        assert pools == [(a.kernel, a.kernel if a.stride is None else a.stride, a.padding,
                          a.ceil_mode) for a in spec_layers(c, op)]
    activations = [type(m) for m in mods if isinstance(m, nn.Sigmoid | nn.ReLU)]
    if name == "lenet5":  # its activations are all modules: compare them in order
        assert activations == [nn.Sigmoid] * len(spec_layers(c, "sigmoid"))
        assert not spec_layers(c, "relu")


@pytest.mark.parametrize("name", NAMES)
def test_forward_shape(name):
    c = compiled(name)
    torch.manual_seed(0)
    macs = REFERENCE[name]["macs"]
    if macs > 5e10:  # the 3D U-Net (267 G): minutes on these CPUs; its shapes on the meta device
        model, x = on_meta(name).eval(), torch.empty((1, *c.input_shape), device="meta")
    else:
        model, x = build(name).eval(), torch.randn((1 if macs > 1e9 else 2, *c.input_shape))
    with torch.no_grad():
        ys = model(x)
    ys = ys if isinstance(ys, list) else [ys]  # several outputs: the spec's `outputs` in order
    assert [tuple(y.shape) for y in ys] == [(x.shape[0], *c.node(o)[keys.SHAPE]) for o in c.outputs]
    assert all(y.is_meta or torch.isfinite(y).all() for y in ys)


@pytest.mark.parametrize("name", NAMES)
def test_measure_script_gives_the_reference_figures(name):
    """measure_figures.py, which wrote the classic CNNs' entries, reproduces every entry."""
    assert measure(name, compiled(name).input_shape) == REFERENCE[name]


def test_masked_dropout_uses_the_queue_in_order():
    drop = MaskedDropout(0.5)
    x = torch.randn(2, 3)
    mask = torch.tensor([[0.0, 2.0, 2.0], [2.0, 0.0, 0.0]])
    drop.queue = [mask, mask.numpy() * 0]
    assert torch.equal(drop(x), x * mask)
    assert torch.equal(drop(x), torch.zeros_like(x))
    with pytest.raises(RuntimeError, match="ran out"):
        drop(x)
    drop.queue = None
    assert torch.equal(drop.eval()(x), x)  # inference: identity, no mask taken


def test_masked_dropout_without_queue_is_plain_dropout():
    drop = MaskedDropout(0.25)
    y = drop(torch.ones(100_000))
    assert set(y.unique().tolist()) <= {0.0, torch.tensor(1 / 0.75).item()}
    assert abs((y == 0).float().mean().item() - 0.25) < 0.01


def test_model_consumes_masks_in_forward_order():
    torch.manual_seed(0)
    model = build("alexnet_paper")  # drop6 after fc6, drop7 after fc7
    x = torch.randn(1, 3, 227, 227)
    m6 = torch.zeros(1, 4096)  # drop6 zeroes all: fc7 sees zeros
    m7 = (torch.rand(1, 4096) < 0.5) * 2.0
    model.dropout_masks = [m6, m7]
    with torch.no_grad():
        y = model(x)
        expected = model.fc8(torch.relu(model.fc7.bias).unsqueeze(0) * m7)
    assert model.dropout_masks == []
    torch.testing.assert_close(y, expected)
    model.eval()
    with torch.no_grad():
        model(x)  # inference takes no masks
