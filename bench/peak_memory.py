"""Peak resident memory of one call, in a process that loads only the library it measures.

    python bench/peak_memory.py cnnc|torch MODEL train|infer BATCH THREADS

Runs one training step (forward, loss, backward, SGD update) or one inference of MODEL on a
random batch of 3x224x224 images and prints this process's peak resident set in MiB,
interpreter and libraries included. bench/runtime_cpu.py runs it once per side and case.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

import numpy as np

LR = 0.01


def peak_mib() -> float:
    """This process's peak resident set. Linux keeps ru_maxrss across fork and exec (a child
    would report its parent's peak), so read VmHWM, which starts afresh with the program."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    side, name, mode, batch, threads = sys.argv[1:6]
    batch, threads = int(batch), int(threads)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, 224, 224)).astype(np.float32)
    labels = rng.integers(0, 1000, batch)
    if side == "cnnc":
        from cnnc import build_model
        from cnnc_runtime import jit
        from cnnc_runtime.losses import softmax_cross_entropy
        jit.set_threads(threads)
        model = build_model(name, seed=0)
        if mode == "train":
            y = model.forward(x, training=True)
            grads = model.backward(softmax_cross_entropy(np, y, labels)[1])
            for p in model.trainable:
                model.params[p] -= LR * grads[p]
        else:
            model.forward(x)
    else:
        import torch
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "runtime"))
        from torch_models import build
        torch.set_num_threads(threads)
        net = build(name).float()
        tx, tl = torch.from_numpy(x), torch.from_numpy(labels)
        if mode == "train":
            opt = torch.optim.SGD(net.parameters(), lr=LR)
            net.train()
            torch.nn.functional.cross_entropy(net(tx), tl).backward()
            opt.step()
        else:
            net.eval()
            with torch.no_grad():
                net(tx)
    print(f"{peak_mib():.1f}")


if __name__ == "__main__":
    main()
