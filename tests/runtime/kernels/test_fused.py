"""Fused kernels: gradients by central differences, and equal to the unfused chain."""

import numpy as np
import pytest
from gradcheck import check_kernel

from cnnc_runtime import jit, shards
from cnnc_runtime.fold import fold
from cnnc_runtime.kernels import (
    batchnorm,
    conv,
    conv_bn,
    conv_bn_relu,
    conv_relu,
    linear,
    linear_relu,
)
from cnnc_runtime.plan import Fold

rng = np.random.default_rng(0)
CONV = {"stride": (2, 1), "dilation": (1, 1), "padding": ((1, 0), (1, 1)), "groups": 1,
        "padding_mode": "zeros"}
BN = {"eps": 1e-5, "momentum": 0.1}


def conv_params(bias):
    p = {"weight": rng.standard_normal((4, 3, 3, 3))}
    return p | ({"bias": rng.standard_normal(4)} if bias else {})


def bn_params(affine):
    p = {"bn.running_mean": rng.standard_normal(4), "bn.running_var": rng.uniform(0.5, 2, 4)}
    return p | ({"bn.weight": rng.uniform(0.5, 2, 4), "bn.bias": rng.standard_normal(4)}
                if affine else {})


@pytest.mark.parametrize("kernel", [conv_bn, conv_bn_relu], ids=["conv_bn", "conv_bn_relu"])
@pytest.mark.parametrize("bias, affine", [(False, True), (True, False)])
@pytest.mark.parametrize("training", [True, False], ids=["batch_stats", "running_stats"])
def test_conv_bn_gradients(kernel, bias, affine, training):
    x = rng.standard_normal((2, 3, 5, 4))
    check_kernel(kernel, [x], conv_params(bias) | bn_params(affine),
                 {"conv": CONV, "bn": BN}, training=training)


def test_moments_keep_their_accuracy_when_the_mean_dwarfs_the_spread():
    y = (1000 + rng.standard_normal((8, 3, 7, 7))).astype(np.float32)
    mean, var = conv_bn.moments(np, y)
    exact = y.astype(np.float64)
    np.testing.assert_allclose(mean, exact.mean(axis=(0, 2, 3)), rtol=1e-7)
    np.testing.assert_allclose(var, exact.var(axis=(0, 2, 3)), rtol=1e-4)


def test_conv_relu_and_linear_relu_gradients():
    check_kernel(conv_relu, [rng.standard_normal((2, 3, 5, 4))], conv_params(True),
                 {"conv": CONV})
    check_kernel(linear_relu, [rng.standard_normal((3, 5))],
                 {"weight": rng.standard_normal((4, 5)), "bias": rng.standard_normal(4)}, {})


def test_conv_bn_relu_equals_the_chain_and_updates_the_same_statistics():
    x = rng.standard_normal((3, 3, 6, 6)).astype(np.float32)
    params = {k: v.astype(np.float32) for k, v in (conv_params(True) | bn_params(True)).items()}
    fused_state = {k: v.copy() for k, v in params.items()}
    z, saved = conv_bn_relu.forward(np, [x], fused_state, {"conv": CONV, "bn": BN}, True)

    conv_p = {k: params[k] for k in ("weight", "bias")}
    bn_state = {k[3:]: v.copy() for k, v in params.items() if k.startswith("bn.")}
    y, s1 = conv.forward(np, [x], conv_p, CONV, True)
    b, s2 = batchnorm.forward(np, [y], bn_state, BN, True)
    np.testing.assert_allclose(z, np.maximum(b, 0), rtol=1e-6, atol=1e-6)
    for k in ("running_mean", "running_var"):
        np.testing.assert_allclose(fused_state["bn." + k], bn_state[k], rtol=1e-6)

    dz = rng.standard_normal(z.shape).astype(np.float32)
    [dx], dparams = conv_bn_relu.backward(np, dz, saved, params, {"conv": CONV, "bn": BN})
    [db], dbn = batchnorm.backward(np, dz * (b > 0), s2, bn_state, BN)
    [dx2], dconv = conv.backward(np, db, s1, conv_p, CONV)
    np.testing.assert_allclose(dx, dx2, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dparams["bn.weight"], dbn["weight"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dparams["weight"], dconv["weight"], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bias, affine", [(True, True), (False, False)])
def test_folding_equals_batchnorm_in_evaluation(bias, affine):
    x = rng.standard_normal((2, 3, 6, 6))
    params = conv_params(bias) | bn_params(affine)
    names = {k: f"c.{k}" for k in ("weight", "bias")} | {
        k: f"b.{k[3:]}" for k in params if k.startswith("bn.")}
    tensors = {names[k]: v for k, v in params.items()}
    f = Fold("c.weight", "c.bias" if bias else None, "b.weight" if affine else None,
             "b.bias" if affine else None, "b.running_mean", "b.running_var", 1e-5,
             "c.weight:folded", "c.bias:folded")
    folded = fold(np, (f,), tensors)
    want, _ = conv_bn.forward(np, [x], params, {"conv": CONV, "bn": BN}, False)
    got, _ = conv.forward(np, [x], {"weight": folded["c.weight:folded"],
                                    "bias": folded["c.bias:folded"]}, CONV, False)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)


def test_linear_relu_equals_the_chain():
    x = rng.standard_normal((3, 5))
    params = {"weight": rng.standard_normal((4, 5)), "bias": rng.standard_normal(4)}
    y, _ = linear_relu.forward(np, [x], params, {}, True)
    np.testing.assert_array_equal(y, np.maximum(linear.forward(np, [x], params, {}, True)[0], 0))


@pytest.mark.twins
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-13), (np.float32, 1e-6)])
@pytest.mark.parametrize("shape, loc", [((4, 5, 6, 7), 0.0), ((3, 2, 9), 1000.0), ((6, 3), 0.5)])
def test_compiled_bn_passes_equal_their_references(shape, loc, dtype, tol):
    y = (loc + 3 * rng.standard_normal(shape)).astype(dtype)
    dz = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    scale, beta = rng.uniform(0.5, 2, c).astype(dtype), rng.standard_normal(c).astype(dtype)
    mean, var = conv_bn.moments(np, y)
    want_mean, want_var = conv_bn.moments_reference(np, y)
    np.testing.assert_allclose(mean, want_mean, rtol=tol)
    np.testing.assert_allclose(var, want_var, rtol=100 * tol)  # the reference loses more
    inv_std = (1 / np.sqrt(want_var + 1e-5)).astype(dtype)
    stats = (want_mean, inv_std, scale, beta)
    for relu in (False, True):  # the same operations in the same order: the same bits
        np.testing.assert_array_equal(conv_bn.normalise(np, y, want_mean, scale, beta, relu),
                                      conv_bn.normalise_reference(np, y, want_mean, scale, beta,
                                                                  relu))
        for training in (True, False):
            got = conv_bn.normalise_backward(np, dz, y, *stats, relu, training)
            want = conv_bn.normalise_backward_reference(np, dz, y, *stats, relu, training)
            for a, b in zip(got, want):
                assert a.dtype == dtype
                np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())


@pytest.mark.twins
@pytest.mark.parametrize("k", [2, 4])
def test_compiled_bn_passes_in_shards_equal_their_references(k):
    """In shards (and so under --sync-bn) the compiled passes give each shard's sums, which
    add up as the NumPy path's do (runtime/sync_bn.py)."""
    y = (3 + rng.standard_normal((8, 3, 5, 4))).astype(np.float32)
    dz = rng.standard_normal(y.shape).astype(np.float32)
    scale, beta = rng.uniform(0.5, 2, 3).astype(np.float32), rng.standard_normal(3).astype(np.float32)
    with shards.split(k):
        got_stats = conv_bn.moments(np, y)
        with jit.reference_kernels():
            want_stats = conv_bn.moments(np, y)
        for a, b in zip(got_stats, want_stats):
            np.testing.assert_allclose(a, b, rtol=1e-5)
        mean, inv_std = want_stats[0], (1 / np.sqrt(want_stats[1] + 1e-5)).astype(np.float32)
        got = conv_bn.normalise_backward(np, dz, y, mean, inv_std, scale, beta, True, True)
        with jit.reference_kernels():
            want = conv_bn.normalise_backward(np, dz, y, mean, inv_std, scale, beta, True, True)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())
