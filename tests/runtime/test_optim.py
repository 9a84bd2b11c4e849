"""Optimizers against torch.optim on identical tensors, their state through a checkpoint file,
in-place updates, and clear errors for bad settings and bad saved state."""

import numpy as np
import pytest

from cnnc_runtime import checkpoint
from cnnc_runtime.optim import OptimError, make_optimizer

SHAPES = {"conv.weight": (4, 3, 3, 3), "bn.bias": (7,), "fc.weight": (5, 6), "fc.bias": (1,)}
SETTINGS = [
    ("sgd", {"momentum": 0.0}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.8, "nesterov": True}),
    ("sgd", {"momentum": 0.0, "weight_decay": 0.1}),
    ("sgd", {"momentum": 0.9, "weight_decay": 0.05}),
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.05}),
    ("adam", {}),
    ("adam", {"weight_decay": 0.1, "betas": (0.8, 0.99), "eps": 1e-6}),
    ("adamw", {"weight_decay": 0.1}),
    ("adamw", {"weight_decay": 0.0, "betas": (0.5, 0.9), "eps": 1e-3}),
]
TOLERANCE = {"float64": {"rtol": 1e-12, "atol": 1e-14}, "float32": {"rtol": 1e-6, "atol": 1e-6}}


def make_params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape).astype(dtype) for name, shape in SHAPES.items()}


def gradients(params, steps, seed=1):
    """One dict of random gradients per step, never zero (zeros hide missing terms)."""
    rng = np.random.default_rng(seed)
    return [{name: rng.standard_normal(p.shape).astype(p.dtype) for name, p in params.items()}
            for _ in range(steps)]


def rates(steps):
    """A learning rate that changes every step, so a stale rate shows."""
    return [0.05 * (1 + 0.1 * t) for t in range(steps)]


def torch_optimizer(torch, kind, tensors, options):
    options = dict(options)
    if kind == "sgd":
        return torch.optim.SGD(tensors, lr=1.0, foreach=False, **options)
    options.setdefault("weight_decay", 0.0)  # AdamW's default is 0.01, ours 0
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return cls(tensors, lr=1.0, foreach=False, **options)


TORCH_SLOTS = {"momentum": "momentum_buffer", "exp_avg": "exp_avg", "exp_avg_sq": "exp_avg_sq"}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(("kind", "options"), SETTINGS)
def test_twenty_steps_match_torch_optim(kind, options, dtype):
    torch = pytest.importorskip("torch")
    params = make_params(dtype)
    tensors = {name: torch.tensor(p, requires_grad=True) for name, p in params.items()}
    ours = make_optimizer(kind, params, list(params), np, **options)
    theirs = torch_optimizer(torch, kind, list(tensors.values()), options)
    for grads, lr in zip(gradients(params, 20), rates(20)):
        ours.step(grads, lr)
        for name, t in tensors.items():
            t.grad = torch.tensor(grads[name])
        theirs.param_groups[0]["lr"] = lr
        theirs.step()
    for name, t in tensors.items():
        np.testing.assert_allclose(params[name], t.detach().numpy(), err_msg=name,
                                   **TOLERANCE[dtype])
    state = ours.state_dict()
    assert int(state["optim.step"]) == 20
    for name, t in tensors.items():
        for slot in ours.slots:
            expected = theirs.state[t][TORCH_SLOTS[slot]].numpy()
            mine = state[f"optim.{name}.{slot}"]
            assert mine.dtype == params[name].dtype
            np.testing.assert_allclose(mine, expected, err_msg=f"{name}.{slot}",
                                       **TOLERANCE[dtype])


def run(kind, options, params, grads, lrs, opt=None):
    opt = opt or make_optimizer(kind, params, list(params), np, **options)
    for g, lr in zip(grads, lrs):
        opt.step(g, lr)
    return opt


@pytest.mark.parametrize(("kind", "options"), [SETTINGS[0], SETTINGS[5], SETTINGS[7], SETTINGS[8]])
def test_resuming_from_a_checkpoint_file_gives_bitwise_the_same_parameters(kind, options,
                                                                           tmp_path):
    params = make_params("float32")
    grads, lrs = gradients(params, 15), rates(15)
    straight = make_params("float32")
    run(kind, options, straight, grads, lrs)

    first = run(kind, options, params, grads[:7], lrs[:7])
    checkpoint.save(tmp_path / "c.safetensors", params | first.state_dict())
    tensors, _ = checkpoint.load(tmp_path / "c.safetensors")
    resumed = {name: tensors[name] for name in SHAPES}
    opt = make_optimizer(kind, resumed, list(resumed), np, **options)
    opt.load_state_dict(tensors)
    assert opt.steps == 7
    run(kind, options, resumed, grads[7:], lrs[7:], opt)
    for name in SHAPES:
        np.testing.assert_array_equal(resumed[name], straight[name], err_msg=name)


def test_state_dict_names_its_tensors_by_parameter_and_slot():
    params = make_params("float32")
    state = run("adam", {}, params, gradients(params, 2), rates(2)).state_dict()
    assert list(state) == ["optim.step"] + [f"optim.{name}.{slot}" for name in SHAPES
                                            for slot in ("exp_avg", "exp_avg_sq")]
    assert state["optim.step"].dtype == np.int64 and state["optim.step"].shape == ()
    assert state["optim.fc.weight.exp_avg"].shape == SHAPES["fc.weight"]
    assert list(make_optimizer("sgd", params, list(params), np, momentum=0).state_dict()) == [
        "optim.step"]


def test_parameters_are_updated_in_place_and_gradients_left_alone():
    params = make_params("float32")
    arrays = dict(params)
    before = {name: p.copy() for name, p in params.items()}
    grads = gradients(params, 1)[0]
    kept = {name: g.copy() for name, g in grads.items()}
    make_optimizer("adam", params, list(params), np, weight_decay=0.1).step(grads, 0.1)
    for name, p in params.items():
        assert p is arrays[name]
        assert not np.array_equal(p, before[name])
        np.testing.assert_array_equal(grads[name], kept[name])


def test_only_the_named_parameters_move():
    params = make_params("float64")
    frozen = params["fc.bias"].copy()
    names = [name for name in SHAPES if name != "fc.bias"]
    opt = make_optimizer("sgd", params, names, np)
    opt.step({name: np.ones(SHAPES[name]) for name in names}, 0.1)
    np.testing.assert_array_equal(params["fc.bias"], frozen)
    assert "optim.fc.bias.momentum" not in opt.state_dict()


def test_a_parameter_replaced_in_the_dict_is_the_one_updated():
    params = make_params("float64")
    opt = make_optimizer("sgd", params, list(params), np, momentum=0)
    params["fc.bias"] = np.array([2.0])  # what Model.set does
    opt.step({name: np.ones(shape) for name, shape in SHAPES.items()}, 0.5)
    np.testing.assert_array_equal(params["fc.bias"], [1.5])


def saved_state(kind="sgd", **options):
    params = make_params("float32")
    return params, run(kind, options, params, gradients(params, 2), rates(2)).state_dict()


@pytest.mark.parametrize(("change", "phrases"), [
    (lambda s: s.pop("optim.bn.bias.momentum"), ["'optim.bn.bias.momentum' is missing"]),
    (lambda s: s.pop("optim.step"), ["'optim.step' is missing"]),
    (lambda s: s.update({"optim.fc.weight.momentum": np.zeros((6, 5), np.float32)}),
     ["'optim.fc.weight.momentum'", "shape (6, 5)", "expected (5, 6)"]),
    (lambda s: s.update({"optim.step": np.array([1.5])}), ["'optim.step'", "integer"]),
    (lambda s: s.update({"optim.step": np.array([1, 2])}), ["'optim.step'", "integer"]),
    (lambda s: s.update({"optim.conv.weight.exp_avg": np.zeros(SHAPES["conv.weight"])}),
     ["unexpected 'optim.conv.weight.exp_avg'", "momentum"]),
])
def test_bad_saved_state_is_an_error_naming_the_tensor_and_changes_nothing(change, phrases):
    params, state = saved_state()
    state = {key: value.copy() for key, value in state.items()}
    change(state)
    opt = make_optimizer("sgd", params, list(params), np)
    with pytest.raises(OptimError) as e:
        opt.load_state_dict(state)
    message = str(e.value)
    assert "\n" not in message and all(p in message for p in phrases), message
    assert opt.steps == 0 and not opt.state_dict()["optim.conv.weight.momentum"].any()


def test_state_of_another_optimizer_is_refused():
    params, state = saved_state("sgd", momentum=0.9)
    with pytest.raises(OptimError, match="'optim.conv.weight.exp_avg' is missing.*adam"):
        make_optimizer("adam", params, list(params), np).load_state_dict(state)


def test_other_checkpoint_tensors_are_ignored_by_load_state_dict():
    params, state = saved_state()
    opt = make_optimizer("sgd", params, list(params), np)
    opt.load_state_dict(params | state)
    assert opt.steps == 2


@pytest.mark.parametrize(("kind", "options", "phrases"), [
    ("adagrad", {}, ["unknown optimizer 'adagrad'", "sgd, adam, adamw"]),
    ("adamm", {}, ["did you mean 'adam'?"]),
    ("sgd", {"momentum": -0.1}, ["momentum", "[0, 1)", "-0.1"]),
    ("sgd", {"momentum": 0.0, "nesterov": True}, ["Nesterov", "momentum > 0"]),
    ("adam", {"nesterov": True}, ["Nesterov", "sgd only"]),
    ("adamw", {"weight_decay": -1.0}, ["weight decay", ">= 0", "-1.0"]),
    ("adam", {"betas": (0.9, 1.0)}, ["betas", "(0.9, 1.0)"]),
    ("adam", {"eps": float("nan")}, ["eps", "nan"]),
])
def test_bad_settings_are_one_line_errors(kind, options, phrases):
    params = make_params("float32")
    with pytest.raises(OptimError) as e:
        make_optimizer(kind, params, list(params), np, **options)
    message = str(e.value)
    assert "\n" not in message and all(p in message for p in phrases), message


def test_parameters_must_exist_and_share_a_floating_dtype():
    params = make_params("float32")
    with pytest.raises(OptimError, match="no trainable parameters"):
        make_optimizer("sgd", params, [], np)
    with pytest.raises(OptimError, match="'fc.wieght' is not one"):
        make_optimizer("sgd", params, ["fc.wieght"], np)
    params["fc.bias"] = params["fc.bias"].astype(np.float64)
    with pytest.raises(OptimError, match="float32, float64"):
        make_optimizer("sgd", params, list(params), np)
