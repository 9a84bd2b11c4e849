"""GPU runtime speed of cnnc: fused kernels against unfused ones, models against PyTorch.

One GPU, float32. Parts (all by default):
copy      a device-to-device copy of 512 MiB, bytes read + written per second: the ceiling of
          every memory-bound kernel below (always measured).
epilogue  conv_relu.bias_relu, the inference epilogue of a conv with BN folded in (out of the
          GEMM's layout, bias, ReLU: one pass), against conv -> BN -> ReLU unfused (the copy
          out of the GEMM's layout, BN as a per-channel multiply and add, ReLU).
bn        training BN + ReLU: conv_bn.moments + normalise (and the running statistics' update)
          against batchnorm.forward + relu; conv_bn.normalise_backward against relu's mask +
          batchnorm.backward. epilogue and bn use ResNet-50's shapes at batch 64 and report
          both times, the speed-up, and the bytes the fused kernels must move over their time
          (also as a share of copy). Targets: fused >= 1.5x unfused and >= 70% of copy.
models    images/s of a training step (forward, softmax cross-entropy, backward, SGD update)
          and of inference (BN folded in cnnc): cnnc against PyTorch with the same weights
          (cnnc_runtime.importer), cudnn.benchmark on, TF32 off (cnnc's GEMMs are FP32), taking
          turns step by step. Target: resnet50 training >= 0.5x PyTorch.
conv      one convolution, cnnc's im2col + cuBLAS GEMM (cnnc_runtime.kernels.conv.forward) against
          cuDNN through cupyx.cudnn (where CuPy still has it) and through PyTorch, at ResNet-50's
          conv shapes, batch 64: does cuDNN win, and by how much?

Kernels are timed with CUDA events, model steps by the wall clock around a device-wide
synchronisation (PyTorch's stream may not be CuPy's); medians after warm-up.

    python bench/runtime_gpu.py [--rounds N] [PART ...]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from cnnc import build_model, compile_file
from cnnc_runtime import device
from cnnc_runtime.importer import map_state_dict
from cnnc_runtime.kernels import batchnorm, conv, conv_bn, conv_relu, relu
from cnnc_runtime.losses import softmax_cross_entropy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "runtime"))

LR, WARMUP = 0.01, 3
BN = {"eps": 1e-5, "momentum": 0.1}
SHAPES = [(64, 256, 56, 56), (64, 512, 28, 28), (64, 1024, 14, 14), (64, 2048, 7, 7)]
MODELS = [("resnet50", "train", 64), ("resnet50", "infer", 64), ("resnet18", "train", 64),
          ("resnet18", "infer", 64), ("unet_milesial", "infer", 4)]  # each at its spec's input
CONVS = {  # name: (C, O, kernel, stride, padding, H = W) at batch 64
    "conv1 7x7/2 3->64": (3, 64, 7, 2, 3, 224),
    "layer1 1x1 64->256": (64, 256, 1, 1, 0, 56),
    "layer1 3x3 64": (64, 64, 3, 1, 1, 56),
    "layer2 3x3/2 128": (128, 128, 3, 2, 1, 56),
    "layer3 3x3 256": (256, 256, 3, 1, 1, 14),
    "layer4 3x3 512": (512, 512, 3, 1, 1, 7),
    "layer4 1x1 512->2048": (512, 2048, 1, 1, 0, 7),
}
PARTS = ("copy", "epilogue", "bn", "models", "conv")


def event_ms(fn, rounds: int, new_event, elapsed) -> float:
    """Median milliseconds of fn between two CUDA events, after WARMUP calls."""
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(rounds):
        start, end = new_event(), new_event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(elapsed(start, end))
    return statistics.median(times)


def cupy_ms(cupy, fn, rounds: int) -> float:
    return event_ms(fn, rounds, cupy.cuda.Event, cupy.cuda.get_elapsed_time)


def torch_ms(torch, fn, rounds: int) -> float:
    return event_ms(fn, rounds, lambda: torch.cuda.Event(enable_timing=True),
                    lambda start, end: start.elapsed_time(end))


def copy_bandwidth(cupy, rounds: int) -> float:
    """Bytes read + written per second by a device-to-device copy of 512 MiB."""
    a = cupy.empty(512 << 20, cupy.uint8)
    b = cupy.empty_like(a)
    ms = cupy_ms(cupy, lambda: b.data.copy_from_device_async(a.data, a.nbytes), rounds)
    print(f"copy: 512 MiB device to device in {ms:.3f} ms: {2 * a.nbytes / ms / 1e6:,.0f} GB/s")
    return 2 * a.nbytes / ms * 1e3


def epilogue(cupy, shape: tuple, rounds: int) -> tuple:
    """(label, fused ms, unfused ms, bytes the fused kernel moves) for one output shape."""
    n, c, h, w = shape
    rng = cupy.random.default_rng(0)
    ag = rng.standard_normal((c, n * h * w), dtype=cupy.float32)  # the GEMM's result
    src = ag.reshape(c, n, h, w).swapaxes(0, 1)  # (N, C, H, W) view, as from_grid makes
    scale = rng.standard_normal((1, c, 1, 1), dtype=cupy.float32)  # BN folded: per channel
    shift = rng.standard_normal((1, c, 1, 1), dtype=cupy.float32)
    bias, out = shift.reshape(c), cupy.empty(shape, cupy.float32)

    def unfused() -> None:
        out[...] = src  # conv's epilogue: out of the GEMM's layout
        z = out * scale  # BatchNorm in evaluation, as runtime/kernels/batchnorm.py does
        z += shift
        cupy.maximum(z, 0)  # ReLU, a new array

    fused = cupy_ms(cupy, lambda: conv_relu.bias_relu(cupy, src, bias, out), rounds)
    return "x".join(map(str, shape)), fused, cupy_ms(cupy, unfused, rounds), 2 * out.nbytes


def bn_training(cupy, shape: tuple, rounds: int) -> tuple[tuple, tuple]:
    """Rows as `epilogue`'s for the forward and the backward of BN + ReLU in training."""
    n, c, h, w = shape
    rng = cupy.random.default_rng(0)
    y = rng.standard_normal(shape, dtype=cupy.float32) + 0.5
    dz = rng.standard_normal(shape, dtype=cupy.float32)
    weight, beta = cupy.full(c, 1.5, cupy.float32), cupy.full(c, 0.1, cupy.float32)
    params = {"weight": weight, "bias": beta, "running_mean": cupy.zeros(c, cupy.float32),
              "running_var": cupy.ones(c, cupy.float32)}

    def fused_forward() -> tuple:  # conv_bn.fused_forward after its conv
        mean, var = conv_bn.moments(cupy, y)
        batchnorm.update_running_stats(cupy, params, mean, var, n * h * w, BN["momentum"])
        inv_std = 1.0 / cupy.sqrt(var + BN["eps"])
        scale = weight * inv_std
        return conv_bn.normalise(cupy, y, mean, scale, beta, True), mean, inv_std, scale

    def unfused_forward() -> tuple:
        z, saved = batchnorm.forward(cupy, [y], params, BN, True)
        return relu.forward(cupy, [z], {}, {}, True)[0], saved

    _, mean, inv_std, scale = fused_forward()
    r, saved = unfused_forward()

    def unfused_backward() -> None:
        (g,), _ = relu.backward(cupy, dz, r, {}, {})
        batchnorm.backward(cupy, g, saved, params, BN)

    def fused_backward() -> None:
        conv_bn.normalise_backward(cupy, dz, y, mean, inv_std, scale, beta, True, True)

    label = "x".join(map(str, shape))
    # Bytes: forward reads y twice (moments, normalise) and writes z; backward reads dz and y
    # twice (the sums, then dy) and writes dy.
    return ((label, cupy_ms(cupy, fused_forward, rounds), cupy_ms(cupy, unfused_forward, rounds),
             3 * y.nbytes),
            (label, cupy_ms(cupy, fused_backward, rounds),
             cupy_ms(cupy, unfused_backward, rounds), 5 * y.nbytes))


def fused_table(title: str, rows: list, copy: float) -> None:
    print(f"\n{title}\n{'shape':<22} {'fused ms':>9} {'unfused ms':>11} {'speed-up':>9} "
          f"{'GB/s':>8} {'of copy':>7}")
    for label, fused, unfused, moved in rows:
        rate = moved / fused * 1e3
        print(f"{label:<22} {fused:>9.3f} {unfused:>11.3f} {unfused / fused:>8.2f}x "
              f"{rate / 1e9:>8,.0f} {rate / copy:>7.0%}")


def model_steps(cupy, torch, name: str, mode: str, batch: int) -> tuple:
    """(cnnc step, PyTorch step or None) for one model, with the same weights."""
    compiled = compile_file(name)
    model = build_model(compiled, seed=0, device="gpu")
    reference = None
    if torch is not None:
        from torch_models import build
        reference = build(name).float()
        model.load(map_state_dict(model.plan, {k: v.numpy() for k, v in
                                               reference.state_dict().items()})[1])
        reference = reference.cuda().train(mode == "train")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *compiled.input_shape)).astype(np.float32)
    out = compiled.output_shape
    labels = rng.integers(0, out[0], (batch, *out[1:]))
    gx, glabels = cupy.asarray(x), cupy.asarray(labels)

    def ours() -> None:
        if mode == "infer":
            model.forward(gx)
            return
        y = model.forward(gx, training=True)
        _, dy = softmax_cross_entropy(cupy, y, glabels)
        grads = model.backward(dy)
        for p in model.trainable:
            model.params[p] -= LR * grads[p]
        model.changed()

    if reference is None:
        return ours, None
    tx, tl = torch.from_numpy(x).cuda(), torch.from_numpy(labels).cuda()
    opt = torch.optim.SGD(reference.parameters(), lr=LR)

    def theirs() -> None:
        if mode == "infer":
            with torch.no_grad():
                reference(tx)
            return
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(reference(tx), tl).backward()
        opt.step()

    return ours, theirs


def images_per_s(cupy, steps: list, batch: int, rounds: int) -> list[float]:
    """Images per second of each step, from the median of `rounds` steps taken in turn."""
    sync = cupy.cuda.Device().synchronize  # every stream: PyTorch's too
    for _ in range(WARMUP):
        for step in steps:
            step()
    times: list[list[float]] = [[] for _ in steps]
    for _ in range(rounds):
        for step, t in zip(steps, times):
            sync()
            start = time.perf_counter()
            step()
            sync()
            t.append(time.perf_counter() - start)
    return [batch / statistics.median(t) for t in times]


def models(cupy, torch, rounds: int) -> None:
    print(f"\nmodels (float32){'' if torch else ': PyTorch with CUDA not found, cnnc alone'}")
    print(f"{'model':<15} {'mode':<6} {'batch':>5} {'cnnc img/s':>11} {'torch img/s':>12} "
          f"{'ratio':>6}")
    for name, mode, batch in MODELS:
        steps = [s for s in model_steps(cupy, torch, name, mode, batch) if s]
        rates = images_per_s(cupy, steps, batch, rounds)
        del steps  # both models, before the next two are built
        cupy.get_default_memory_pool().free_all_blocks()
        if torch is not None:
            torch.cuda.empty_cache()
        theirs = f"{rates[1]:>12,.0f} {rates[0] / rates[1]:>6.2f}" if len(rates) > 1 else \
            f"{'n/a':>12} {'n/a':>6}"
        print(f"{name:<15} {mode:<6} {batch:>5} {rates[0]:>11,.0f} {theirs}", flush=True)


def convolution(cupy, torch, cudnn, shape: tuple, rounds: int) -> str:
    """One row of the conv table: cnnc, cupyx.cudnn and PyTorch on one conv shape."""
    c, o, k, s, p, h = shape
    rng = cupy.random.default_rng(0)
    x = rng.standard_normal((64, c, h, h), dtype=cupy.float32)
    w = rng.standard_normal((o, c, k, k), dtype=cupy.float32)
    attrs = {"stride": (s, s), "dilation": (1, 1), "padding": ((p, p), (p, p)), "groups": 1,
             "padding_mode": "zeros"}
    y, _ = conv.forward(cupy, [x], {"weight": w}, attrs, False)
    flops = 2 * y.size * c * k * k
    ours = cupy_ms(cupy, lambda: conv.forward(cupy, [x], {"weight": w}, attrs, False), rounds)
    row = f"{ours:>8.3f} {flops / ours / 1e9:>8.1f}"
    ms = None
    if cudnn is not None:
        try:
            ms = cupy_ms(cupy, lambda: cudnn.convolution_forward(
                x, w, None, y, (p, p), (s, s), (1, 1), 1, auto_tune=True, tensor_core="never"),
                rounds)
        except Exception as e:  # noqa: BLE001 -- an optional column: say why it stays empty
            print(f"cupyx.cudnn: {type(e).__name__}: {e}", file=sys.stderr)
    row += f" {'n/a':>10}" if ms is None else f" {ms:>10.3f}"
    if torch is None:
        return row
    tx, tw = torch.as_tensor(x, device="cuda"), torch.as_tensor(w, device="cuda")
    with torch.no_grad():
        ms = torch_ms(torch, lambda: torch.nn.functional.conv2d(tx, tw, stride=s, padding=p),
                      rounds)
    return row + f" {ms:>9.3f} {flops / ms / 1e9:>8.1f} {ours / ms:>9.2f}x"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20,
                        help="timed calls per kernel; half as many steps per model")
    parser.add_argument("parts", nargs="*", default=list(PARTS), metavar="PART",
                        help=f"any of {', '.join(PARTS)} (all)")
    args = parser.parse_args()
    if set(args.parts) - set(PARTS):
        parser.error(f"unknown parts {sorted(set(args.parts) - set(PARTS))}; choose from "
                     f"{', '.join(PARTS)}")
    try:
        cupy = device.array_module("gpu")
    except device.DeviceError as e:
        print(f"runtime_gpu: {e}", file=sys.stderr)
        return 2
    try:
        import torch
        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    print(f"{name}, {props['totalGlobalMem'] / 2**30:.0f} GiB; CuPy "
          f"{cupy.__version__}, CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}"
          + (f"; PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}"
             if torch else ""))
    if torch is not None:
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    copy = copy_bandwidth(cupy, args.rounds)
    if "epilogue" in args.parts:
        fused_table("inference epilogue: bias_relu vs copy + BN (multiply, add) + ReLU",
                    [epilogue(cupy, shape, args.rounds) for shape in SHAPES], copy)
    if "bn" in args.parts:
        rows = [bn_training(cupy, shape, args.rounds) for shape in SHAPES]
        for i, what in enumerate(("forward", "backward")):
            fused_table(f"training BN + ReLU {what}: fused vs batchnorm and relu kernels",
                        [r[i] for r in rows], copy)
    if "models" in args.parts:
        models(cupy, torch, max(args.rounds // 2, 3))
    if "conv" in args.parts:
        try:
            from cupyx import cudnn
        except ImportError:
            cudnn = None
        print(f"\nconvolution, batch 64{'' if cudnn else ' (cupyx.cudnn: not in this CuPy)'};"
              " time ratio: cnnc over PyTorch")
        print(f"{'conv':<22} {'cnnc ms':>8} {'TFLOP/s':>8} {'cupy cudnn':>10} {'torch ms':>9} "
              f"{'TFLOP/s':>8} {'time ratio':>10}")
        for label, shape in CONVS.items():
            print(f"{label:<22} {convolution(cupy, torch, cudnn, shape, args.rounds)}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
