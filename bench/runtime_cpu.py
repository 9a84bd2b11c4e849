"""CPU runtime speed: cnnc (NumPy) against PyTorch on the same model, in one process.

Cases from ../shared/reference/README.md. A training step is forward, softmax cross-entropy,
backward and a plain SGD update; inference is one evaluation forward (BatchNorm folded in
cnnc). Both sides use the same weights (imported through the state-dict importer) and 2 threads.
The sides take turns in rounds of BLOCK calls, so drift on a noisy machine hits both alike; the
first call of each block is not counted, because both libraries' idle worker threads spin for a
while after a call and would steal the cores of the other side's next call (alternating single
calls made PyTorch up to 2x slower). Times are medians; the ratio is the figure to read.
Targets (issue "The NumPy runtime"): no case over 2x PyTorch; lenet5 and mnist1d_cnn within
1.3x.

"gemm ms" is the part of a cnnc call spent inside NumPy's matmul (one extra call, timed apart)
and "floor" is that over PyTorch's whole call: the ratio cnnc would reach if everything but its
GEMMs were free, a measure of the BLAS rather than of cnnc. The header names the BLAS and the
kernels it picked for this CPU.

    python bench/runtime_cpu.py [--rounds N] [CASE ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np

from cnnc import build_model, compile_file
from runtime.importer import map_state_dict
from runtime.losses import softmax_cross_entropy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "runtime"))

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


def gemm_seconds(fn) -> float:
    """Seconds one call of fn spends inside np.matmul (every kernel GEMM goes through it)."""
    matmul, spent = np.matmul, [0.0]

    def timed_matmul(*args, **kwargs):
        start = time.perf_counter()
        result = matmul(*args, **kwargs)
        spent[0] += time.perf_counter() - start
        return result

    np.matmul = timed_matmul
    try:
        fn()
    finally:
        np.matmul = matmul
    return spent[0]


def blas() -> str:
    """The BLAS NumPy calls and, where threadpoolctl can tell, the CPU kernels it chose."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{info['name']} {info['version']}"
    pools = [p for p in threadpool_info() if p["user_api"] == "blas"]
    return ", ".join(f"{p['internal_api']} {p['version']} ({p.get('architecture')} kernels,"
                     f" {p['num_threads']} threads)" for p in pools)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("cases", nargs="*", default=list(CASES), metavar="CASE")
    args = parser.parse_args()
    try:
        import torch
        from torch_models import build
        torch.set_num_threads(2)
    except ImportError:
        torch = None
        print("PyTorch is not installed: timing cnnc alone (pip install torch==2.13.0)")

    print(f"NumPy {np.__version__} on {blas()}")
    print(f"{'case':<24} {'batch':>5} {'cnnc ms':>9} {'gemm ms':>8} {'torch ms':>9}"
          f" {'ratio':>6} {'floor':>6}")
    for case in args.cases:
        name, mode, batch, shape = CASES[case]
        reference = build(name).float() if torch else None
        state = ({k: v.numpy() for k, v in reference.state_dict().items()}
                 if reference is not None else None)
        ours, x, labels = cnnc_case(name, mode, batch, shape, state)
        theirs = torch_case(torch, reference, mode, x, labels) if torch else None
        for _ in range(2):  # warm up caches and allocators on both sides
            ours(), theirs and theirs()
        t_ours, t_theirs = [], []
        for _ in range(args.rounds):
            t_ours += timed_block(ours)
            if theirs:
                t_theirs += timed_block(theirs)
        a, g = statistics.median(t_ours) * 1e3, gemm_seconds(ours) * 1e3
        row = f"{case:<24} {batch:>5} {a:>9.1f} {g:>8.1f}"
        if theirs:
            b = statistics.median(t_theirs) * 1e3
            print(f"{row} {b:>9.1f} {a / b:>6.2f} {g / b:>6.2f}", flush=True)
        else:
            print(f"{row} {'-':>9} {'-':>6} {'-':>6}", flush=True)


if __name__ == "__main__":
    main()
