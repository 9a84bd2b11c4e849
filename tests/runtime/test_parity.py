"""Whole-model parity with PyTorch: the same weights give the same outputs, loss, parameter and
input gradients and running statistics in training, and the same outputs in evaluation, with
BatchNorm folded into the convs and without.

The reference models (tests/runtime/torch_models.py) are written independently, with
torchvision's parameter names; their state dicts reach cnnc through the importer, so this also
checks that definition order maps every tensor.

Two precisions. In float64 both sides must agree to 1e-9 of each tensor's largest magnitude:
that pins the mathematics of every kernel and of the executor. In float32, cnnc is compared with
the float64 reference run on the same float32 weights, to 1e-4, or to twice PyTorch's own
float32 error on the same training step where that is larger: resnet50's training output at
batch 2 is 9e-5 from float64 in PyTorch itself (BatchNorm's statistics over 8 values in
layer4 magnify rounding), and 1.3e-4 in cnnc, whose 3x3 convs run Winograd. That covers
outputs and losses for every model, and gradients where float32 itself is that accurate. In
BatchNorm nets trained on small
batches it is not: a pre-activation within rounding of zero flips a ReLU, and the batch
statistics spread that flip through its channel. One such flip (in resnet20_cifar's
layer2.2.relu1, one element of 32,768) moves the input gradient by 5e-3; PyTorch's own float32
gradients of resnet50, googlenet and unet_milesial are 0.3-2% from float64 for the same reason.
A max-pool window whose two largest inputs lie within rounding of each other does the same:
in alexnet_paper, one of pool5's 18,432 windows picks the other input once conv3-5 run
Winograd (float32 error 1e-5 where im2col's is 1e-6), and the input gradient moves by 3%.
Those nets' gradients are checked in float64 only.
"""

import copy
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from parity_cases import CASES
from torch_models import build

from cnnc import build_model, compile_file
from cnnc_runtime.importer import NamesDiffer, map_state_dict
from cnnc_runtime.losses import softmax_cross_entropy

# float32: within max(TOL32, PEER x PyTorch's own float32 error against float64). PEER is 3, not
# 2: cnnc's Winograd convolutions round about ten times more than im2col (runtime/kernels/
# winograd.py), which through GoogLeNet's 57 convolutions gives 1.30e-4 against PyTorch's
# 5.3e-5 (measured 2026-12-04, numpy 2.4.6, numba 0.68.1; float64 stays exact).
EXACT, TOL32, PEER = 1e-9, 1e-4, 3.0

FLOAT32_GRADIENTS = {"lenet5", "mnist1d_cnn", "highway_mlp", "vgg11_bn", "unet_original", "wavenet"}


def close(ours, theirs, tol, what, floor=0.0):
    """Elementwise within tol of the reference's largest magnitude. A tensor that is zero in
    exact arithmetic (the gradient of a conv bias feeding a BatchNorm; the running mean of a
    bias-free 1x1 conv that reads a BatchNorm's zero-mean output, EfficientNet's stage2.0.expand:
    under 1e-6 of `floor`, the model's largest gradient or statistic) is compared on the scale
    of `floor` instead."""
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, what
    scale = float(np.abs(theirs).max())
    scale = floor if scale < 1e-6 * floor else scale
    err = float(np.abs(ours - theirs).max())
    assert err <= tol * scale, f"{what}: largest difference {err:.2e}, magnitude {scale:.2e}"


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    """The float64 reference after one training step, its starting weights, and the data."""
    name = request.param
    shape, n = CASES[name]
    torch.manual_seed(0)
    reference = build(name)  # initialised in float32, like cnnc's weights
    start = {k: v.numpy().copy() for k, v in reference.state_dict().items()}
    reference.double()
    compiled = compile_file(name, shape)
    x = np.random.default_rng(2).standard_normal((n, *compiled.input_shape)).astype(np.float32)
    out = compiled.output_shape
    labels = np.random.default_rng(3).integers(0, out[0], (n, *out[1:]))
    return name, reference, compiled, start, x, labels


def cnnc_model(compiled, weights, dtype, fuse=True):
    model = build_model(compiled, dtype=dtype, fuse=fuse, seed=1)
    with warnings.catch_warnings():  # torchvision's names are not the spec's: by position, on purpose
        warnings.simplefilter("ignore", NamesDiffer)
        mapping, arrays = map_state_dict(model.plan, weights)
    assert len(mapping) == len(model.plan.tensor_order)
    model.load(arrays)
    return model, mapping


def reference_step(reference, start, x, labels, masks):
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in start.items()})
    reference.train()
    reference.dropout_masks = [m.astype(np.float64) for m in masks] or None
    reference.zero_grad()
    tx = torch.from_numpy(x.astype(np.float64)).requires_grad_()
    ty = reference(tx)
    loss = torch.nn.functional.cross_entropy(ty, torch.from_numpy(labels))
    loss.backward()
    return tx, ty, loss


def float32_error(reference, start, x, labels, masks, ty):
    """How far PyTorch's own float32 training output is from the float64 one, `ty`."""
    peer = copy.deepcopy(reference).float()
    peer.load_state_dict({k: torch.from_numpy(v) for k, v in start.items()})
    peer.train()
    peer.dropout_masks = [m.astype(np.float32) for m in masks] or None
    with torch.no_grad():
        y32 = peer(torch.from_numpy(x)).double()
    return float((y32 - ty.detach()).abs().max() / ty.detach().abs().max())


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_training_step_matches_pytorch(case, dtype):
    name, reference, compiled, start, x, labels = case
    model, mapping = cnnc_model(compiled, start, dtype)
    y = model.forward(x, training=True)
    masks = [saved for step, saved in zip(model.plan.training.steps, model._tape.saved)
             if step.op in ("dropout", "drop_path") and saved is not None]
    loss, dy = softmax_cross_entropy(np, y, labels)
    grads = model.backward(dy, input_grad=True)
    tx, ty, tloss = reference_step(reference, start, x, labels, masks)

    tol = EXACT if dtype == "float64" else max(
        TOL32, PEER * float32_error(reference, start, x, labels, masks, ty))
    close(y, ty, tol, f"{name} training output")
    assert float(loss) == pytest.approx(tloss.item(), rel=tol)
    if dtype == "float32" and name not in FLOAT32_GRADIENTS:
        return
    params, buffers = dict(reference.named_parameters()), dict(reference.named_buffers())
    floor = max(float(p.grad.abs().max()) for p in params.values())
    # a running mean that is zero in exact arithmetic (a 1x1 conv of a BatchNorm output whose
    # shift is still 0: ShuffleNet's branch 1, EfficientNet's stage2.0.expand) is compared on
    # the scale of the largest statistic
    stats_floor = max((float(buffers[m.source].abs().max()) for m in mapping
                       if m.source not in params), default=0.0)
    close(model.input_grad, tx.grad, tol, f"{name} input gradient")
    for m in mapping:
        if m.source in params:
            close(grads[m.target], params[m.source].grad, tol, f"{name} gradient of "
                  f"'{m.target}'", floor)
        else:  # running statistics after the update
            close(model.state[m.target], buffers[m.source], tol, f"{name} '{m.target}'",
                  stats_floor)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("fuse", [True, False], ids=["folded", "unfused"])
def test_evaluation_matches_pytorch(case, fuse, dtype):
    name, reference, compiled, start, x, labels = case
    # Running statistics that moved away from 0 and 1, so folding has something to fold.
    reference_step(reference, start, x, labels, [])
    reference.eval()
    trained = {k: v.numpy() for k, v in reference.state_dict().items()}
    model, _ = cnnc_model(compiled, trained, dtype, fuse)
    with torch.no_grad():
        ty = reference(torch.from_numpy(x.astype(np.float64)))
    close(model.forward(x), ty, EXACT if dtype == "float64" else TOL32,
          f"{name} evaluation output")
