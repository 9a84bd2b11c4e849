"""Measures the reference figures of tests/reference_figures.json on the PyTorch models of
torch_models.py (which include torch_classics.py), with the conventions of the figures the zoo
started with: params, trainable, buffers (BN running mean and variance, no step counters), conv +
transposed conv + linear MACs and their split (conv: output elements x Cin/groups x kernel;
transposed conv: input elements x Cout/groups x kernel; linear: in x out), input and output
shapes with a batch axis of 1 (the first output's, where a model returns a list of them, as
cnnc's output_shape is), and the output elements of every conv, transposed conv, linear,
normalisation (batch, layer, group), activation, pool, unpool, LRN and upsample call
(act_elems; flatten, dropout, concat, add, mul and crop are not counted).

The input shape is the only thing taken from the spec (its `input`); every figure comes from one
forward pass of the PyTorch model on the meta device (shapes only, no arithmetic), with each
counted torch function intercepted as it is called, so functional calls (F.relu) count as much
as modules do.

    python tests/runtime/measure_figures.py NAME...        # print the figures
    python tests/runtime/measure_figures.py --write NAME...  # and store them in the json file
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch
import yaml
from torch.overrides import TorchFunctionMode

sys.path.insert(0, str(Path(__file__).parent))  # run as a script: torch_models sits beside it
from torch_models import MODELS, build

from cnnc.zoo import zoo_dir

REFERENCE = Path(__file__).parents[1] / "reference_figures.json"

CONVS = {"conv1d", "conv2d", "conv3d"}
TRANSPOSED = {"conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}
# Outputs counted in act_elems besides the convs and linears (torch function names).
COUNTED = {"batch_norm", "relu", "relu6", "hardtanh", "leaky_relu", "sigmoid", "tanh", "softmax",
           "hardswish", "hardsigmoid", "silu", "gelu", "layer_norm", "group_norm",
           "local_response_norm", "interpolate",
           *(f"{kind}_pool{d}d" for kind in ("max", "avg") for d in (1, 2, 3)),
           *(f"adaptive_{kind}_pool{d}d" for kind in ("max", "avg") for d in (1, 2, 3)),
           # a max pool that returns its indices (SegNet's) calls these instead of max_pool2d
           *(f"max_pool{d}d_with_indices" for d in (1, 2, 3)),
           *(f"max_unpool{d}d" for d in (1, 2, 3))}


COUNTED_MODULES = {"Hardsigmoid"}


class Counter(TorchFunctionMode):
    """Sums MACs and output elements of the torch functions called in its scope. Inside a
    function it sees (F.local_response_norm calls avg_pool3d) the mode is off, so nothing is
    counted twice."""

    def __init__(self) -> None:
        super().__init__()
        self.macs_conv = self.macs_linear = self.act_elems = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = getattr(func, "__name__", "")
        if name in CONVS | TRANSPOSED | {"linear"}:
            x, weight = args[0], args[1] if len(args) > 1 else kwargs["weight"]
            if name in CONVS:  # output x (Cin / groups) x kernel: weight[0] holds the latter
                self.macs_conv += out.numel() * weight[0].numel()
            elif name in TRANSPOSED:  # every input element times (Cout / groups) x kernel
                self.macs_conv += x.numel() * weight[0].numel()
            else:
                self.macs_linear += out.numel() * weight.shape[1]
            self.act_elems += out.numel()
        elif name in COUNTED:
            first = out[0] if isinstance(out, tuple) else out  # max pools may return indices
            self.act_elems += first.numel()
        return out

    def count_output(self, module: Any, args: Any, out: torch.Tensor) -> None:
        self.act_elems += out.numel()


def measure(name: str, input_shape: tuple[int, ...]) -> dict[str, Any]:
    """The figures of the reference model `name` on one input of `input_shape` (no batch)."""
    with torch.device("meta"):
        model = build(name).eval()
        x = torch.empty((1, *input_shape))
    counter = Counter()
    # Activations the references write out of other functions, to match PyTorch's gradient
    # exactly (torch_mobilenet_v3_large.Hardsigmoid: a clamp and a division), count as modules.
    for module in model.modules():
        if type(module).__name__ in COUNTED_MODULES:
            module.register_forward_hook(counter.count_output)
    with torch.no_grad(), counter:
        y = model(x)
    if isinstance(y, list):  # several outputs (the hourglass's heads): the first, as cnnc's
        y = y[0]
    params = list(model.parameters())
    buffers = [b for k, b in model.named_buffers() if not k.endswith("num_batches_tracked")]
    return {
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "params": sum(p.numel() for p in params),
        "trainable": sum(p.numel() for p in params if p.requires_grad),
        "buffers": sum(b.numel() for b in buffers),
        "macs": counter.macs_conv + counter.macs_linear,
        "macs_conv": counter.macs_conv,
        "macs_linear": counter.macs_linear,
        "act_elems": counter.act_elems,
    }


def spec_input(name: str) -> tuple[int, ...]:
    """The `input` of the zoo spec `name`, read from the YAML (no cnnc figure is used)."""
    return tuple(yaml.safe_load((zoo_dir() / f"{name}.yaml").read_text())["input"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="+", choices=sorted(MODELS), metavar="NAME")
    parser.add_argument("--write", action="store_true", help=f"store them in {REFERENCE.name}")
    args = parser.parse_args(argv)
    figures = {name: measure(name, spec_input(name)) for name in args.names}
    print(json.dumps(figures, indent=1))
    if args.write:
        reference = json.loads(REFERENCE.read_text())
        reference.update(figures)
        REFERENCE.write_text(json.dumps(reference, indent=1))


if __name__ == "__main__":
    main()
