"""CPU runtime speed and memory: cnnc against PyTorch on the same model, at each thread count.

Cases from ../shared/reference/README.md. A training step is forward, softmax cross-entropy,
backward and a plain SGD update; inference is one evaluation forward (BatchNorm folded in
cnnc). Both sides use the same weights (imported through the state-dict importer) and the
same number of threads (`--threads 1,2`: cnnc's compiled kernels and BLAS, and PyTorch's
intra-op pool). The sides take turns in rounds of BLOCK calls, so drift on a noisy machine hits
both alike; the first call of each block is not counted, because both libraries' idle worker
threads spin for a while after a call and would steal the cores of the other side's next
call. Times are medians; the ratio is the figure to read.

Targets (issue "Runtime speed on the CPU"): every inference case at or under 1.0x PyTorch,
every training case at or under 1.3x, the small nets under 1.0x, at every thread count; peak
resident memory at or under 1.0x.

Where cnnc's time goes, from one more call with every kernel's stages run apart (Winograd and
im2col convs staged instead of fused per worker, so that their GEMMs can be timed alone):
"gemm" (BLAS), "conv data" (im2col, col2im, Winograd transforms, copies between layouts),
"norm" (BatchNorm passes), "rest" (activations, pooling, merges, the loss, the update, Python),
as shares of that call.

Peak memory: bench/peak_memory.py, a fresh process per side and case that loads only its own
library, runs one call and reports its peak resident set, libraries and interpreter included.

    python bench/runtime_cpu.py [--threads 1,2] [--rounds N] [--no-memory] [CASE ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from cnnc import build_model, compile_file
from cnnc_runtime import blas, jit
from cnnc_runtime.importer import map_state_dict
from cnnc_runtime.kernels import batchnorm, conv, conv_bn, conv_cpu, winograd, winograd_cpu
from cnnc_runtime.losses import softmax_cross_entropy

TESTS = Path(__file__).resolve().parents[1] / "tests" / "runtime"
PEAK = Path(__file__).with_name("peak_memory.py")
sys.path.insert(0, str(TESTS))

LR = 0.01
BLOCK = 3
# name: (model, mode, batch, input shape or None for the spec's)
CASES = {
    "lenet5 train": ("lenet5", "train", 256, None),
    "lenet5 infer": ("lenet5", "infer", 256, None),
    "mnist1d_cnn train": ("mnist1d_cnn", "train", 512, None),
    "resnet20_cifar train": ("resnet20_cifar", "train", 64, None),
    "resnet20_cifar infer": ("resnet20_cifar", "infer", 64, None),
    "resnet18 infer": ("resnet18", "infer", 8, None),
    "unet_milesial infer": ("unet_milesial", "infer", 1, None),
}
MEMORY = {"resnet50 train": ("resnet50", "train", 16), "resnet18 infer": ("resnet18", "infer", 8)}

# Where the time goes: (module, function) per category; each is a leaf (none calls another).
CATEGORIES = {
    "gemm": [(blas, "matmul"), (winograd_cpu, "_staged_products"),
             (winograd_cpu, "_staged_backward_products")],
    "conv data": [(conv, "im2col"), (conv, "col2im"), (conv, "to_grid"), (conv, "from_grid"),
                  (conv_cpu, "from_columns"), (conv_cpu, "add_bias"),
                  (winograd_cpu, "_staged_input"), (winograd_cpu, "_staged_output"),
                  (winograd_cpu, "_staged_adjoint_input"), (winograd_cpu, "_staged_dx"),
                  (winograd, "filter_transform"), (winograd, "filter_transform_adjoint")],
    "norm": [(conv_bn, "moments"), (conv_bn, "normalise"), (conv_bn, "normalise_backward"),
             (batchnorm, "forward"), (batchnorm, "backward")],
}


def cnnc_case(name: str, mode: str, batch: int, shape, state: dict | None):
    compiled = compile_file(name, shape)
    model = build_model(compiled, seed=0)
    if state is not None:
        model.load(map_state_dict(model.plan, state)[1])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, *compiled.input_shape)).astype(np.float32)
    out = compiled.output_shape
    labels = rng.integers(0, out[0], (batch, *out[1:]))

    def infer() -> None:
        model.forward(x)

    def train() -> None:
        y = model.forward(x, training=True)
        _, dy = softmax_cross_entropy(np, y, labels)
        grads = model.backward(dy)
        for p in model.trainable:
            model.params[p] -= LR * grads[p]
        model.changed()

    return (train if mode == "train" else infer), x, labels


def torch_case(torch, reference, mode: str, x: np.ndarray, labels: np.ndarray):
    tx, tl = torch.from_numpy(x), torch.from_numpy(labels)
    opt = torch.optim.SGD(reference.parameters(), lr=LR)

    def infer() -> None:
        with torch.no_grad():
            reference(tx)

    def train() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(reference(tx), tl).backward()
        opt.step()

    reference.train(mode == "train")
    return train if mode == "train" else infer


def timed_block(fn) -> list[float]:
    """Seconds per call of BLOCK calls in a row, the first left out."""
    times = []
    for _ in range(BLOCK):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times[1:]


def where_time_goes(fn) -> dict[str, float]:
    """Shares of one call of fn per category (see the module docstring), stages run apart."""
    spent = dict.fromkeys(CATEGORIES, 0.0)
    saved = [(winograd_cpu, "STAGED_FILTER", 0), (conv_cpu, "FUSED_WEIGHT", 0)]
    for category, places in CATEGORIES.items():
        for module, attr in places:
            saved.append((module, attr, _timed(getattr(module, attr), category, spent)))
    originals = [(m, a, getattr(m, a)) for m, a, _ in saved]
    try:
        for module, attr, value in saved:
            setattr(module, attr, value)
        fn()  # compile what the staged schedules need, then measure
        spent.update(dict.fromkeys(spent, 0.0))
        start = time.perf_counter()
        fn()
        total = time.perf_counter() - start
    finally:
        for module, attr, value in originals:
            setattr(module, attr, value)
    shares = {k: v / total for k, v in spent.items()}
    return shares | {"rest": max(0.0, 1 - sum(shares.values()))}


def _timed(fn, category: str, spent: dict):
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[category] += time.perf_counter() - start
    return wrapper


def describe(torch) -> str:
    """The BLAS and its kernels, the compiled kernels' threading, PyTorch's version."""
    try:
        from threadpoolctl import threadpool_info
        pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
        kernels = ", ".join(f"{p['internal_api']} {p['version']} ({p.get('architecture')} "
                            "kernels)" for p in pools)
    except ImportError:
        kernels = "BLAS kernels unknown (pip install threadpoolctl)"
    import numba
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                    if k in os.environ) or "no OPENBLAS_CORETYPE"
    torch_version = f"PyTorch {torch.__version__}" if torch else "no PyTorch"
    return (f"NumPy {np.__version__} on {kernels}, {env}; Numba {numba.__version__} "
            f"({'compiled kernels' if jit.enabled(np) else 'NumPy references'}, "
            f"{'BLAS from the workers' if blas.AVAILABLE else 'np.matmul'}); {torch_version}")


def speed(torch, build, cases: list[str], threads: list[int], rounds: int) -> None:
    head = (f"{'case':<22} {'batch':>5} {'thr':>3} {'cnnc ms':>9} {'torch ms':>9} {'ratio':>6}"
            f"   {'gemm':>5} {'conv data':>9} {'norm':>5} {'rest':>5}")
    print(head)
    for n in threads:
        jit.set_threads(n)
        if torch:
            torch.set_num_threads(n)
        for case in cases:
            name, mode, batch, shape = CASES[case]
            reference = build(name).float() if torch else None
            state = ({k: v.numpy() for k, v in reference.state_dict().items()}
                     if reference is not None else None)
            ours, x, labels = cnnc_case(name, mode, batch, shape, state)
            theirs = torch_case(torch, reference, mode, x, labels) if torch else None
            for _ in range(2):  # warm up caches and allocators on both sides
                ours(), theirs and theirs()
            t_ours, t_theirs = [], []
            for _ in range(rounds):
                t_ours += timed_block(ours)
                if theirs:
                    t_theirs += timed_block(theirs)
            a = statistics.median(t_ours) * 1e3
            b = statistics.median(t_theirs) * 1e3 if theirs else float("nan")
            share = where_time_goes(ours)
            print(f"{case:<22} {batch:>5} {n:>3} {a:>9.1f} {b:>9.1f} {a / b:>6.2f}"
                  f"   {share['gemm']:>5.0%} {share['conv data']:>9.0%} {share['norm']:>5.0%}"
                  f" {share['rest']:>5.0%}", flush=True)


def memory(torch, threads: int) -> None:
    print(f"\n{'peak resident memory':<22} {'batch':>5} {'thr':>3} {'cnnc MiB':>9} "
          f"{'torch MiB':>9} {'ratio':>6}")
    for case, (name, mode, batch) in MEMORY.items():
        peaks = []
        for side in ("cnnc", "torch") if torch else ("cnnc",):
            run = subprocess.run([sys.executable, str(PEAK), side, name, mode, str(batch),
                                  str(threads)], capture_output=True, text=True, check=True)
            peaks.append(float(run.stdout.split()[-1]))
        ours, theirs = peaks[0], peaks[1] if len(peaks) > 1 else float("nan")
        print(f"{case:<22} {batch:>5} {threads:>3} {ours:>9.0f} {theirs:>9.0f} "
              f"{ours / theirs:>6.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default=f"1,{jit.max_threads()}",
                        help="thread counts to measure, comma-separated (1,<cores>)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory rows")
    parser.add_argument("cases", nargs="*", default=list(CASES), metavar="CASE")
    args = parser.parse_args()
    threads = sorted({int(t) for t in args.threads.split(",")})
    try:
        import torch
        from torch_models import build
    except ImportError:
        torch = build = None
        print("PyTorch is not installed: timing cnnc alone (pip install torch==2.13.0)")
    print(describe(torch))
    speed(torch, build, args.cases, threads, args.rounds)
    if not args.no_memory:
        memory(torch, max(threads))


if __name__ == "__main__":
    main()
