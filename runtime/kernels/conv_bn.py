"""Fused conv -> batchnorm (-> ReLU) for training. Pattern: cnnc/lower/fuse.py; conv_bn_relu.py
is this with the ReLU.

In inference the BatchNorm is folded into the conv (runtime/fold.py) and `conv` or `conv_relu`
runs instead. Params: the conv's `weight` (and `bias`), the BatchNorm's as `bn.weight`,
`bn.bias`, `bn.running_mean`, `bn.running_var`. Attrs: `conv` and `bn`.

Backward keeps only the conv's output y and the (C,) statistics, and recomputes the normalised
value and the ReLU mask from them: one saved tensor where the unfused layers keep three. With
scale = weight / sqrt(var + eps), the output and its gradient are

    z  = relu((y - mean) * scale + bias)
    g  = dz * (z > 0)                       (dz without the ReLU)
    dy = scale * (g - mean(g) - xhat * mean(g * xhat)),   xhat = (y - mean) / sqrt(var + eps)

(the means over each channel's N * H * W values; in evaluation mode dy = scale * g). Each of
the three passes, `moments` (sum and sum of squares in one read), `normalise` (one elementwise
pass) and `normalise_backward` (a reduction for sum(g) and sum(g * xhat), then one elementwise
pass for dy), is one CUDA kernel on a GPU and one compiled loop over Numba's threads on the
CPU (conv_bn_cpu.py); their NumPy references, `<name>_reference`, define the result (about 13 NumPy passes
over the map for the backward alone).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from cnnc_runtime import device, jit, shards, sync_bn
from cnnc_runtime.kernels import batchnorm, conv, conv_bn_cpu

BN = "bn."
SKIPS_DX = True  # passes need_dx on (see conv.SKIPS_DX)
BATCH_STATISTICS = True  # runs on the whole batch under shards.split; its conv, shard by shard


def _split(params: dict) -> tuple[dict, dict]:
    conv_params = {k: v for k, v in params.items() if not k.startswith(BN)}
    bn_params = {k[len(BN):]: v for k, v in params.items() if k.startswith(BN)}
    return conv_params, bn_params


def forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool) -> tuple:
    """z (N, O, *out) = bn(conv(x))."""
    return fused_forward(xp, inputs, params, attrs, training, relu=False)


def fused_forward(xp: Any, inputs: list, params: dict, attrs: dict, training: bool,
                  relu: bool) -> tuple:
    """z (N, O, *out) = bn(conv(x)), or relu(bn(conv(x))) with `relu`."""
    conv_params, bn_params = _split(params)
    y, conv_saved = shards.forward(conv, xp, inputs, conv_params, attrs["conv"], training)
    bn = attrs["bn"]
    if training:
        mean, var = moments(xp, y)
        batchnorm.update_running_stats(xp, bn_params, mean, var, sync_bn.count(y),
                                       bn["momentum"])
    else:  # copied: a later training step updates the running statistics in place
        mean, var = bn_params["running_mean"].copy(), bn_params["running_var"]
    inv_std = 1.0 / xp.sqrt(var + bn["eps"])  # (O,)
    weight, bias = bn_params.get("weight"), bn_params.get("bias")
    scale = inv_std if weight is None else weight * inv_std
    beta = xp.zeros_like(mean) if bias is None else bias
    z = normalise(xp, y, mean, scale, beta, relu)
    return z, (conv_saved, y, mean, inv_std, scale, beta, relu, training)


def backward(xp: Any, dy: Any, saved: Any, params: dict, attrs: dict,
             need_dx: bool = True) -> tuple[list, dict]:
    """dy is the gradient of z; the conv's output gets dconv, passed on to the conv."""
    conv_saved, y, mean, inv_std, scale, beta, relu, training = saved
    conv_params, bn_params = _split(params)
    dconv, dweight, dbias = normalise_backward(xp, dy, y, mean, inv_std, scale, beta, relu,
                                               training)
    dinputs, dparams = shards.backward(conv, xp, dconv, conv_saved, conv_params, attrs["conv"],
                                       need_dx=need_dx)
    if "weight" in bn_params:
        dparams |= {BN + "weight": dweight, BN + "bias": dbias}
    return dinputs, dparams


# The three passes: CUDA on a GPU, the NumPy reference elsewhere -------------------------------

def moments(xp: Any, y: Any) -> tuple[Any, Any]:
    """Batch mean and biased variance (C,) of y (N, C, *S) per channel; over every rank's
    batch under --sync-bn (runtime/sync_bn.py)."""
    if sync_bn.active():
        if jit.enabled(xp):  # each shard's sums in one compiled pass, the mean's then the squares'
            k = shards.local()
            return sync_bn.mean_var(xp, y, lambda y, c: conv_bn_cpu.shard_sums(y, k, c))
        return sync_bn.centred(xp, y)[:2]
    if device.on_gpu(xp):
        return _moments(xp, y)
    return conv_bn_cpu.moments(y) if jit.enabled(xp) else moments_reference(xp, y)


def normalise(xp: Any, y: Any, mean: Any, scale: Any, beta: Any, relu: bool) -> Any:
    """z (N, C, *S) = (y - mean) * scale + beta per channel, then max(z, 0) with `relu`."""
    if device.on_gpu(xp):
        return _normalise(xp, y, mean, scale, beta, relu)
    if jit.enabled(xp):
        return conv_bn_cpu.normalise(y, mean, scale, beta, relu)
    return normalise_reference(xp, y, mean, scale, beta, relu)


def normalise_backward(xp: Any, dz: Any, y: Any, mean: Any, inv_std: Any, scale: Any,
                       beta: Any, relu: bool, training: bool) -> tuple[Any, Any, Any]:
    """(dy (N, C, *S), dweight (C,), dbias (C,)) of `normalise`, through the batch statistics
    when `training`; its sums over every rank under --sync-bn, and shard by shard in shards."""
    if device.on_gpu(xp) and not sync_bn.active():
        return _normalise_backward(xp, dz, y, mean, inv_std, scale, beta, relu, training)
    if jit.enabled(xp):
        if sync_bn.active():  # each shard's sums, combined as sync_bn says
            combine = partial(sync_bn.from_partials, xp)
            return conv_bn_cpu.normalise_backward(dz, y, mean, inv_std, scale, beta, relu,
                                                  training, shards.local(), combine)
        return conv_bn_cpu.normalise_backward(dz, y, mean, inv_std, scale, beta, relu, training)
    return normalise_backward_reference(xp, dz, y, mean, inv_std, scale, beta, relu, training)


def moments_reference(xp: Any, y: Any) -> tuple[Any, Any]:
    return batchnorm.channel_stats(xp, y)  # two passes: the mean, then squares about it


def normalise_reference(xp: Any, y: Any, mean: Any, scale: Any, beta: Any, relu: bool) -> Any:
    nd = y.ndim
    z = y - batchnorm.per_channel(mean, nd)
    z *= batchnorm.per_channel(scale, nd)
    z += batchnorm.per_channel(beta, nd)
    if relu:
        xp.maximum(z, 0, out=z)
    return z


def normalise_backward_reference(xp: Any, dz: Any, y: Any, mean: Any, inv_std: Any, scale: Any,
                                 beta: Any, relu: bool, training: bool) -> tuple[Any, Any, Any]:
    nd = y.ndim
    xhat = y - batchnorm.per_channel(mean, nd)
    g = dz
    if relu:  # the forward's z > 0, recomputed with the same operations, so the same bits
        z = xhat * batchnorm.per_channel(scale, nd)
        z += batchnorm.per_channel(beta, nd)
        g = dz * (z > 0)
    xhat *= batchnorm.per_channel(inv_std, nd)
    if training:
        dbias, dweight, total, dot, m = batchnorm.gradient_sums(xp, g, xhat)
        dy = xp.multiply(xhat, batchnorm.per_channel(-dot / m, nd))
        dy += g
        dy -= batchnorm.per_channel(total / m, nd)
    else:
        dbias, dweight = batchnorm.channel_sum(xp, g), batchnorm.channel_sum(xp, g * xhat)
        dy = g.copy() if g is dz else g
    dy *= batchnorm.per_channel(scale, nd)
    return dy, dweight, dbias


# CUDA -------------------------------------------------------------------------------------------

# y, dz and the outputs are (N, C, S) contiguous. Reductions: blockIdx.y is the channel and the
# blocks along x split its N * S values; each block adds its two double sums into acc[2c] and
# acc[2c + 1]. Elementwise passes: blockIdx.y walks the (image, channel) rows, x their S values.
# bn_out is the one formula for z, so backward's mask is bit for bit the forward's.
CUDA_SOURCE = r"""
__device__ __forceinline__ T bn_out(T y, T mean, T scale, T beta) {
    return fma(y - mean, scale, beta);
}

__device__ void block_add(double a, double b, double* acc) {
    for (int off = 16; off > 0; off >>= 1) {
        a += __shfl_down_sync(0xffffffffu, a, off);
        b += __shfl_down_sync(0xffffffffu, b, off);
    }
    __shared__ double wa[32], wb[32];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) { wa[warp] = a; wb[warp] = b; }
    __syncthreads();
    if (warp == 0) {
        const int warps = (blockDim.x + 31) >> 5;
        a = lane < warps ? wa[lane] : 0.0;
        b = lane < warps ? wb[lane] : 0.0;
        for (int off = 16; off > 0; off >>= 1) {
            a += __shfl_down_sync(0xffffffffu, a, off);
            b += __shfl_down_sync(0xffffffffu, b, off);
        }
        if (lane == 0) { atomicAdd(acc, a); atomicAdd(acc + 1, b); }
    }
}

// Sums of (y - shift) and its square, shift = the channel's first value: no cancellation
// when the mean is large against the spread.
extern "C" __global__ void cnnc_bn_moments(
        const T* y, double* acc, long long channels, long long size_, long long count) {
    const long long c = blockIdx.y;
    const unsigned int size = (unsigned int)size_;
    const double shift = (double)y[c * size];
    double a = 0.0, b = 0.0;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (long long)gridDim.x * blockDim.x) {
        const unsigned int n = (unsigned int)e / size, p = (unsigned int)e - n * size;
        const double v = (double)y[((long long)n * channels + c) * size + p] - shift;
        a += v;
        b += v * v;
    }
    block_add(a, b, acc + 2 * c);
}

extern "C" __global__ void cnnc_bn_backward_sums(
        const T* dz, const T* y, const T* mean, const T* inv_std, const T* scale,
        const T* beta, double* acc, long long channels, long long size_, long long count,
        long long relu) {
    const long long c = blockIdx.y;
    const unsigned int size = (unsigned int)size_;
    const T m = mean[c], r = inv_std[c], s = scale[c], t = beta[c];
    double a = 0.0, b = 0.0;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (long long)gridDim.x * blockDim.x) {
        const unsigned int n = (unsigned int)e / size, p = (unsigned int)e - n * size;
        const long long i = ((long long)n * channels + c) * size + p;
        const T g = relu ? dz[i] * (T)(bn_out(y[i], m, s, t) > (T)0) : dz[i];
        a += (double)g;
        b += (double)g * (double)((y[i] - m) * r);
    }
    block_add(a, b, acc + 2 * c);
}

extern "C" __global__ void cnnc_bn_normalise(
        const T* y, const T* mean, const T* scale, const T* beta, T* z, long long rows,
        long long channels, long long size, long long relu) {
    for (long long row = blockIdx.y; row < rows; row += gridDim.y) {
        const int c = (int)(row % channels);
        const T m = mean[c], s = scale[c], t = beta[c];
        const T* from = y + row * size;
        T* to = z + row * size;
        for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < size;
             p += (long long)gridDim.x * blockDim.x) {
            const T v = bn_out(from[p], m, s, t);
            to[p] = relu && v < (T)0 ? (T)0 : v;
        }
    }
}

extern "C" __global__ void cnnc_bn_normalise_backward(
        const T* dz, const T* y, const T* mean, const T* inv_std, const T* scale,
        const T* beta, const T* mean_g, const T* mean_gx, T* dy, long long rows,
        long long channels, long long size, long long relu) {
    for (long long row = blockIdx.y; row < rows; row += gridDim.y) {
        const int c = (int)(row % channels);
        const T m = mean[c], r = inv_std[c], s = scale[c], t = beta[c];
        const T mg = mean_g[c], mgx = mean_gx[c];
        const long long base = row * size;
        for (long long p = (long long)blockIdx.x * blockDim.x + threadIdx.x; p < size;
             p += (long long)gridDim.x * blockDim.x) {
            const T yv = y[base + p];
            const T g = relu ? dz[base + p] * (T)(bn_out(yv, m, s, t) > (T)0) : dz[base + p];
            dy[base + p] = s * (g - mg - (yv - m) * r * mgx);
        }
    }
}
"""


def _shape(y: Any) -> tuple[int, int, int]:
    """(N, C, S) of y (N, C, *spatial)."""
    n, c = y.shape[:2]
    return n, c, y.size // max(n * c, 1)


def _per_channel_sums(cupy: Any, name: str, y: Any, args: tuple, tail: tuple = ()
                      ) -> tuple[Any, Any]:
    """Launch a reduction kernel (args, then acc and the sizes, then tail) -> its two
    per-channel sums, float64 (C,) each."""
    n, c, s = _shape(y)
    assert n * s < 2**32 and c < 2**16, f"{name}: over 2**32 values or 2**16 channels"
    acc = cupy.zeros((c, 2), cupy.float64)
    per_channel = max(1, min(-(-n * s // (8 * device.THREADS)), 64))  # >= 8 values a thread
    kernel = device.cuda_function(CUDA_SOURCE, name, y.dtype)
    device.launch(kernel, (per_channel, c), device.THREADS, *args, acc, c, s, n * s, *tail)
    return acc[:, 0], acc[:, 1]


def _rows_launch(cupy: Any, name: str, y: Any, args: tuple, tail: tuple) -> None:
    """Launch an elementwise kernel over y's rows: args, then the sizes, then tail."""
    n, c, s = _shape(y)
    threads = min(device.THREADS, 32 * -(-s // 32))
    kernel = device.cuda_function(CUDA_SOURCE, name, y.dtype)
    device.launch(kernel, (device.grid_for(s, threads), min(n * c, 65535)), threads, *args,
                  n * c, c, s, *tail)


def _moments(cupy: Any, y: Any) -> tuple[Any, Any]:
    device.check_launch("cnnc_bn_moments", y.dtype, y=y)
    n, c, s = _shape(y)
    total, squares = _per_channel_sums(cupy, "cnnc_bn_moments", y, (y,))
    shift = y.reshape(n, c, s)[0, :, 0].astype(cupy.float64)
    m = n * s
    mean = total / m
    var = cupy.maximum(squares / m - mean * mean, 0)
    return (shift + mean).astype(y.dtype), var.astype(y.dtype)


def _normalise(cupy: Any, y: Any, mean: Any, scale: Any, beta: Any, relu: bool) -> Any:
    device.check_launch("cnnc_bn_normalise", y.dtype, y=y, mean=mean, scale=scale, beta=beta)
    z = cupy.empty_like(y)
    _rows_launch(cupy, "cnnc_bn_normalise", y, (y, mean, scale, beta, z), (int(relu),))
    return z


def _normalise_backward(cupy: Any, dz: Any, y: Any, mean: Any, inv_std: Any, scale: Any,
                        beta: Any, relu: bool, training: bool) -> tuple[Any, Any, Any]:
    dz = cupy.ascontiguousarray(dz)  # a channel slice of a concat's gradient, say
    device.check_launch("cnnc_bn_normalise_backward", y.dtype, dz=dz, y=y, mean=mean,
                        inv_std=inv_std, scale=scale, beta=beta)
    stats = (mean, inv_std, scale, beta)
    dbias, dweight = _per_channel_sums(cupy, "cnnc_bn_backward_sums", y, (dz, y, *stats),
                                       (int(relu),))
    m = y.size // y.shape[1]
    if training:
        mean_g, mean_gx = (dbias / m).astype(y.dtype), (dweight / m).astype(y.dtype)
    else:
        mean_g = mean_gx = cupy.zeros_like(mean)
    dy = cupy.empty_like(y)
    _rows_launch(cupy, "cnnc_bn_normalise_backward", y, (dz, y, *stats, mean_g, mean_gx, dy),
                 (int(relu),))
    return dy, dweight.astype(y.dtype), dbias.astype(y.dtype)
