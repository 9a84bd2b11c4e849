"""CPU runtime speed: cnnc (NumPy) against PyTorch on the same model, in one process.

Cases from ../shared/reference/README.md. A training step is forward, softmax cross-entropy,
backward and a plain SGD update; inference is one evaluation forward (BatchNorm folded in
cnnc). Both sides use the same weights (imported through the state-dict importer) and 2 threads.
Times are medians over interleaved repeats, so drift on a noisy machine hits both sides alike;
the ratio is the figure to read. Targets (issue "The NumPy runtime"): no case over 2x PyTorch;
lenet5 and mnist1d_cnn within 1.3x.

    python bench/runtime_cpu.py [--repeats N] [CASE ...]
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

import numpy as np  # noqa: E402

from cnnc import build_model, compile_file  # noqa: E402
from runtime.importer import map_state_dict  # noqa: E402
from runtime.losses import softmax_cross_entropy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "runtime"))

LR = 0.01
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


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("cases", nargs="*", default=list(CASES), metavar="CASE")
    args = parser.parse_args()
    try:
        import torch
        from torch_models import build
        torch.set_num_threads(2)
    except ImportError:
        torch = None
        print("PyTorch is not installed: timing cnnc alone (pip install torch==2.13.0)")

    print(f"{'case':<24} {'batch':>5} {'cnnc ms':>9} {'torch ms':>9} {'ratio':>6}")
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
        for _ in range(args.repeats):
            t_ours.append(timed(ours))
            if theirs:
                t_theirs.append(timed(theirs))
        a = statistics.median(t_ours) * 1e3
        if theirs:
            b = statistics.median(t_theirs) * 1e3
            print(f"{case:<24} {batch:>5} {a:>9.1f} {b:>9.1f} {a / b:>6.2f}", flush=True)
        else:
            print(f"{case:<24} {batch:>5} {a:>9.1f} {'-':>9} {'-':>6}", flush=True)


if __name__ == "__main__":
    main()
