"""The fused CUDA kernels against their NumPy references, on random data (never zeros), and the
fused training kernels on CuPy against the same on NumPy for real convolutions.

float64 must agree to 1e-12 of each result's largest magnitude: the kernels do the reference's
arithmetic with other roundings (an fma, sums in another order). float32 to 1e-5. The bias and
ReLU epilogue does one addition and one comparison per element, so it must match bit for bit.
Means of 3 and of 1000 (with spread 1) check the shifted sums of the moments kernel.
"""

import math

import numpy as np
import pytest

from cnnc_runtime import device
from cnnc_runtime.kernels import conv_bn, conv_bn_relu, conv_relu

pytestmark = pytest.mark.gpu

TOL = {"float64": 1e-12, "float32": 1e-5}
CHAIN = {"float64": 1e-10, "float32": 1e-4}  # conv + BN: GEMMs sum in another order too
DTYPES = list(TOL)
rng = np.random.default_rng(0)


def data(shape, dtype, mean=0.0, std=1.0):
    return (mean + std * rng.standard_normal(shape)).astype(dtype)


def close(ours, reference, tol, what, floor=0.0):
    """Elementwise within tol of the reference's largest magnitude (or of `floor`, when the
    reference is zero in exact arithmetic and holds only rounding)."""
    ours, reference = device.to_host(ours), device.to_host(reference)
    assert ours.shape == reference.shape and ours.dtype == reference.dtype, what
    scale = max(float(np.abs(reference).max()), floor)
    err = float(np.abs(ours.astype(np.float64) - reference).max())
    assert err <= tol * scale, f"{what}: largest difference {err:.2e}, magnitude {scale:.2e}"


# bias + ReLU epilogue -------------------------------------------------------------------------

GRIDS = {  # (N, C, out, grid): the GEMM's result (C, N * prod(grid)), cropped to out
    "1d": (3, 5, (11,), (13,)),
    "2d": (2, 7, (6, 5), (8, 7)),
    "3d": (2, 3, (4, 5, 6), (5, 6, 7)),
    "2d_wide": (2, 4, (56, 56), (58, 58)),  # several blocks along each row
    "2d_many_rows": (33, 2048, (1, 1), (2, 2)),  # N * C > 65535: rows step by gridDim.y
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("case", list(GRIDS))
def test_bias_relu_matches_its_reference_on_the_gemm_layout(cupy, case, bias, dtype):
    n, c, out, grid = GRIDS[case]
    ag = data((c, n * math.prod(grid)), dtype, mean=0.5)
    ag[0, :7] = np.nan  # NaN stays NaN, as in np.maximum
    b = data(c, dtype) if bias else None
    crop = (slice(None), slice(None), *(slice(0, m) for m in out))
    want = np.empty((n, c, *out), dtype)
    conv_relu.bias_relu_reference(np, ag.reshape(c, n, *grid)[crop].swapaxes(0, 1), b, want)
    src = cupy.asarray(ag).reshape(c, n, *grid)[crop].swapaxes(0, 1)  # from_grid's view
    got = cupy.full((n, c, *out), 7, dtype)
    conv_relu.bias_relu(cupy, src, None if b is None else cupy.asarray(b), got)
    np.testing.assert_array_equal(device.to_host(got), want)
    assert np.isnan(want).any() and 0 < (want > 0).mean() < 1


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
def test_bias_relu_in_place_on_a_pointwise_convs_output(cupy, bias, dtype):
    y, b = data((4, 6, 5, 3), dtype), data(6, dtype) if bias else None
    want = y.copy()
    conv_relu.bias_relu_reference(np, want, b, want)
    got = cupy.asarray(y)
    conv_relu.bias_relu(cupy, got, None if b is None else cupy.asarray(b), got)
    np.testing.assert_array_equal(device.to_host(got), want)
    assert 0 < (want > 0).mean() < 1


# batchnorm passes -------------------------------------------------------------------------------

SHAPES = {  # (N, C, *S)
    "S49": (4, 3, 7, 7),
    "S1_C2048": (40, 2048),  # N * C > 65535 rows
    "C1_N1": (1, 1, 1000),
    "N1": (1, 64, 9, 9),
    "3d": (2, 3, 4, 5, 6),
    "S3136": (2, 16, 56, 56),  # several blocks per channel in the reductions
}
LOCATIONS = {"mean3": (3.0, 2.0), "mean1000": (1000.0, 1.0)}


def bn_inputs(shape, dtype, loc):
    """y and its statistics, as fused_forward makes them: (y, mean, inv_std, scale, beta).
    Each z = (y - mean) * scale + beta is kept 1e-3 clear of the ReLU's edge, where the fma of
    the CUDA kernels rounds otherwise than the reference and may flip the mask (the edge has a
    test of its own below)."""
    c, per_channel = shape[1], (1, -1) + (1,) * (len(shape) - 2)
    y = data(shape, dtype, *loc)
    mean, var = conv_bn.moments_reference(np, y)
    inv_std = (1 / np.sqrt(var + 1e-5)).astype(dtype)
    scale, beta = rng.uniform(0.5, 1.5, c).astype(dtype) * inv_std, data(c, dtype, 0.3)
    z = conv_bn.normalise_reference(np, y, mean, scale, beta, False)
    y = np.where(np.abs(z) < 1e-3, y + (0.01 / scale).reshape(per_channel), y).astype(dtype)
    return y, mean, inv_std, scale, beta


def on_gpu(cupy, *arrays):
    return [cupy.asarray(a) for a in arrays]


@pytest.mark.parametrize("loc", list(LOCATIONS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_moments_match_their_reference(cupy, shape, dtype, loc):
    y = data(SHAPES[shape], dtype, *LOCATIONS[loc])
    mean, var = conv_bn.moments(cupy, cupy.asarray(y))
    want_mean, want_var = conv_bn.moments_reference(np, y)
    close(mean, want_mean, TOL[dtype], "mean")
    close(var, want_var, TOL[dtype], "variance")


@pytest.mark.parametrize("relu", [True, False], ids=["relu", "no_relu"])
@pytest.mark.parametrize("loc", list(LOCATIONS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_normalise_matches_its_reference(cupy, shape, dtype, loc, relu):
    y, mean, _, scale, beta = bn_inputs(SHAPES[shape], dtype, LOCATIONS[loc])
    z = conv_bn.normalise(cupy, *on_gpu(cupy, y, mean, scale, beta), relu)
    want = conv_bn.normalise_reference(np, y, mean, scale, beta, relu)
    close(z, want, TOL[dtype], "z")
    assert (want > 0).any() and (want < 0).any() == (not relu)


@pytest.mark.parametrize("training", [True, False], ids=["batch_stats", "running_stats"])
@pytest.mark.parametrize("relu", [True, False], ids=["relu", "no_relu"])
@pytest.mark.parametrize("loc", list(LOCATIONS))
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", list(SHAPES))
def test_normalise_backward_matches_its_reference(cupy, shape, dtype, loc, relu, training):
    y, *stats = bn_inputs(SHAPES[shape], dtype, LOCATIONS[loc])
    dz = data(y.shape, dtype)
    got = conv_bn.normalise_backward(cupy, *on_gpu(cupy, dz, y, *stats), relu, training)
    want = conv_bn.normalise_backward_reference(np, dz, y, *stats, relu, training)
    for ours, theirs, what in zip(got, want, ("dy", "dweight", "dbias")):
        close(ours, theirs, TOL[dtype], what)


@pytest.mark.parametrize("dtype", DTYPES)
def test_backward_masks_exactly_where_the_forward_clamped(cupy, dtype):
    # Values within a few ulp of the ReLU's edge, where another rounding of z flips its sign:
    # z = y * s + t with t = -round(y0 * s) and y = y0 + k ulp. Channel 1 is plain data.
    t = np.dtype(dtype).type
    y0, s = t(1.7), t(0.7123)
    y = np.stack([y0 + np.arange(-64, 64, dtype=dtype) * np.spacing(y0),
                  data(128, dtype)], axis=1)[:, :, None].repeat(3, axis=2)  # (128, 2, 3)
    mean, scale = np.zeros(2, dtype), np.array([s, 0.9], dtype)
    inv_std, beta = np.ones(2, dtype), np.array([-(y0 * s), 0.1], dtype)
    dz = data(y.shape, dtype, 1.0, 0.2)  # nonzero: dy is zero only where the mask is
    gpu = on_gpu(cupy, y, mean, inv_std, scale, beta)
    z = device.to_host(conv_bn.normalise(cupy, gpu[0], gpu[1], gpu[3], gpu[4], True))
    assert (z == 0).any() and (z > 0).any() and np.abs(z[:, 0]).max() < 1e-5 * s

    dy, _, _ = conv_bn.normalise_backward(cupy, cupy.asarray(dz), *gpu, True, False)
    np.testing.assert_array_equal(device.to_host(dy), np.where(z > 0, dz * scale[:, None], 0))
    _, dweight, dbias = conv_bn.normalise_backward(cupy, cupy.asarray(dz), *gpu, True, True)
    g = np.where(z > 0, dz, 0).astype(np.float64)  # the forward's mask, in the sums too
    close(dbias, g.sum(axis=(0, 2)).astype(dtype), TOL[dtype], "dbias")
    close(dweight, (g * y).sum(axis=(0, 2)).astype(dtype), TOL[dtype], "dweight")


def test_launches_refuse_strided_arrays_and_other_dtypes(cupy):
    y = cupy.asarray(data((2, 3, 4, 4), "float32"))
    c3 = cupy.asarray(data(3, "float32"))
    device.check_launch("k", cupy.float32, y=y, c3=c3)  # contiguous and float32: accepted
    with pytest.raises(AssertionError, match="cnnc_bn_moments: y is not C-contiguous"):
        conv_bn.moments(cupy, y[:, :, ::2])
    with pytest.raises(AssertionError, match="cnnc_bn_normalise: mean is float64, the launch "
                                             "is for float32"):
        conv_bn.normalise(cupy, y, c3.astype(cupy.float64), c3, c3, True)
    with pytest.raises(AssertionError, match="cnnc_bias_relu: out is not C-contiguous"):
        conv_relu.bias_relu(cupy, y, c3, cupy.empty((2, 3, 4, 8), cupy.float32)[..., ::2])
    with pytest.raises(AssertionError, match="cnnc_bias_relu: bias is float64"):
        conv_relu.bias_relu(cupy, y, c3.astype(cupy.float64), cupy.empty_like(y))


def test_backward_takes_a_strided_gradient(cupy):
    y, *stats = bn_inputs((2, 3, 4, 4), "float64", (3.0, 2.0))
    wide = cupy.asarray(data((2, 5, 4, 4), "float64"))  # a concat's gradient: dz a slice of it
    gpu = on_gpu(cupy, y, *stats)
    got = conv_bn.normalise_backward(cupy, wide[:, 1:4], *gpu, True, True)
    want = conv_bn.normalise_backward(cupy, wide[:, 1:4].copy(), *gpu, True, True)
    for ours, theirs, what in zip(got, want, ("dy", "dweight", "dbias")):
        close(ours, theirs, TOL["float64"], what)


# the training kernels around a real conv ----------------------------------------------------

CONVS = {  # x, weight, stride, padding: the three layouts of conv.convolve, and a 1D conv
    "strided": ((2, 3, 9, 8), (8, 3, 3, 3), (2, 1), ((1, 0), (1, 1))),
    "shift": ((2, 4, 7, 7), (6, 4, 3, 3), (1, 1), ((1, 1), (1, 1))),
    "pointwise": ((3, 5, 4, 4), (7, 5, 1, 1), (1, 1), ((0, 0), (0, 0))),
    "1d": ((4, 3, 11), (5, 3, 3), (2,), ((1, 1),)),
}
BN = {"eps": 1e-5, "momentum": 0.1}


def conv_case(name, dtype, bias):
    x, w, stride, padding = CONVS[name]
    attrs = {"stride": stride, "dilation": (1,) * len(stride), "padding": padding, "groups": 1,
             "padding_mode": "zeros"}
    params = {"weight": data(w, dtype, std=0.3)} | ({"bias": data(w[0], dtype)} if bias else {})
    return data(x, dtype, 0.5), params, attrs


def both(cupy, kernel, x, params, attrs, training, **kwargs):
    """(forward and backward results, params) of `kernel` on NumPy and on CuPy: the same x,
    parameters (updated in place by a training forward) and a random dz."""
    outs, dz = [], None
    for xp in (np, cupy):
        p = {k: xp.array(v) for k, v in params.items()}
        z, saved = kernel.forward(xp, [xp.asarray(x)], p, attrs, training, **kwargs)
        dz = data(z.shape, x.dtype) if dz is None else dz
        (dx,), grads = kernel.backward(xp, xp.asarray(dz), saved, p, attrs)
        outs.append((z, dx, grads, p))
    return outs


@pytest.mark.parametrize("training", [True, False], ids=["batch_stats", "running_stats"])
@pytest.mark.parametrize("relu", [True, False], ids=["relu", "no_relu"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("conv", list(CONVS))
def test_fused_conv_bn_on_the_gpu_matches_numpy(cupy, conv, dtype, relu, training):
    x, params, attrs = conv_case(conv, dtype, bias=conv != "pointwise")
    o = params["weight"].shape[0]
    params |= {"bn.weight": data(o, dtype, 1.0, 0.3), "bn.bias": data(o, dtype),
               "bn.running_mean": data(o, dtype), "bn.running_var": data(o, dtype, 2.0, 0.3)}
    kernel = conv_bn_relu if relu else conv_bn
    cpu, gpu = both(cupy, kernel, x, params, {"conv": attrs, "bn": BN}, training)
    tol = CHAIN[dtype]
    close(gpu[0], cpu[0], tol, "z")
    close(gpu[1], cpu[1], tol, "dx")
    assert cpu[2].keys() == gpu[2].keys() >= {"weight", "bn.weight", "bn.bias"}
    # In training a conv bias before BN has a gradient of zero, but for rounding.
    largest = max(float(np.abs(g).max()) for g in cpu[2].values())
    for name, g in cpu[2].items():
        floor = largest if training and name == "bias" else 0.0
        close(gpu[2][name], g, tol, f"d{name}", floor)
    for name in ("bn.running_mean", "bn.running_var"):
        close(gpu[3][name], cpu[3][name], tol, name)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("conv", list(CONVS))
def test_conv_relu_on_the_gpu_matches_numpy(cupy, conv, dtype):
    x, params, attrs = conv_case(conv, dtype, bias=conv != "shift")
    cpu, gpu = both(cupy, conv_relu, x, params, {"conv": attrs}, True)
    for i, what in enumerate(("y", "dx")):
        close(gpu[i], cpu[i], CHAIN[dtype], what)
    assert 0 < float((cpu[0] > 0).mean()) < 1
    for name, g in cpu[2].items():
        close(gpu[2][name], g, CHAIN[dtype], f"d{name}")


# host -> device ---------------------------------------------------------------------------------

def test_batches_reach_the_device_in_order_and_intact(cupy):
    # Two arrays of one shape and dtype per batch: each has its own pinned buffers.
    batches = [(data((4, 3, 5), "float32"), data((4, 3, 5), "float32"),
                rng.integers(0, 10, 4)) for _ in range(5)]
    seen = []
    for got in device.batches_on(cupy, iter(batches)):
        assert all(isinstance(a, cupy.ndarray) for a in got)
        seen.append([float(a.astype(cupy.float64).sum()) for a in got])  # used as it arrives
        seen[-1] += [device.to_host(a) for a in got]
    assert len(seen) == len(batches)
    for got, want in zip(seen, batches):
        assert got[:3] == pytest.approx([float(a.astype(np.float64).sum()) for a in want])
        for ours, theirs in zip(got[3:], want):
            assert ours.dtype == theirs.dtype
            np.testing.assert_array_equal(ours, theirs)


SLOW_SUM = r"""
extern "C" __global__ void slow_sum(const float* a, long long n, int reps, double* total) {
    double s = 0.0;
    for (int r = 0; r < reps; ++r)
        for (long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n;
             i += (long long)gridDim.x * blockDim.x)
            s += a[i];
    atomicAdd(total, s);
}
"""


def test_a_batch_is_not_copied_into_memory_that_queued_work_still_reads(cupy):
    # An array freed while kernels on the compute stream still read it goes back to CuPy's pool
    # at once, and the next batch may be allocated there: its copy must wait for those kernels.
    n, reps = 1 << 22, 20000  # one kernel of over 20 ms, reading 16 MB again and again
    cupy.get_default_memory_pool().free_all_blocks()  # so the block freed below is the one free
    batches = device.batches_on(cupy, iter([(np.full(n, i, np.float32),) for i in range(4)]))
    kept = [next(batches), next(batches)]  # batches 0-2 copied: both pinned buffers exist
    a = cupy.ones(n, cupy.float32)
    total, ptr = cupy.zeros((), cupy.float64), a.data.ptr
    cupy.RawKernel(SLOW_SUM, "slow_sum")((264,), (256,), (a, np.int64(n), np.int32(reps), total))
    del a
    kept += list(batches)  # copies batch 3, perhaps into a's memory
    if kept[3][0].data.ptr != ptr:
        pytest.skip("CuPy's pool did not reuse the freed block: nothing could race here")
    assert float(total) == n * reps  # batch 3 holds 3s: read by the kernel, they add more
    assert all(bool((b[0] == i).all()) for i, b in enumerate(kept))
