"""Compile speed: every zoo model in one process, `cnnc compile resnet152` from the shell, and
cnnc against torchinfo.summary on the same architectures in the same process.

Targets (issues "cnnc compile" and "The language, second edition"): the whole zoo under 1 s in one
process; `cnnc compile resnet152` under 0.5 s wall, start-up included; cnnc's whole pipeline (file
text to JSON) at least 10x faster than torchinfo.summary on resnet152 and densenet201. Prints
tables; asserts nothing (machines are noisy). The torchinfo part needs torch and torchinfo (the
`test` extra); it is left out, with a note, where they are missing.
"""

from __future__ import annotations

import gc
import importlib.util
import math
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cnnc
from cnnc.zoo import zoo_names

REPEATS = 5
ROUNDS = 5  # against torchinfo: rounds of two runs of each side
# The PyTorch references of the test suite (plain torch.nn, checked layer for layer against the
# specs by tests/runtime/test_torch_models.py); no torchvision needed.
TORCH_MODELS = Path(__file__).resolve().parent.parent / "tests" / "runtime" / "torch_models.py"


def best_of(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    """The shortest of `repeats` runs in a row, after a full collection: the garbage earlier
    runs left (either side's) is not collected inside these, what a run allocates itself is.
    Once, not before each run: a collection walks the whole heap (torch's too) and evicts the
    caches a short run would find warm."""
    gc.collect()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def zoo_table() -> None:
    first = time.perf_counter()
    for name in zoo_names():  # the first pass pays for imports and caches, as a real run does
        cnnc.compile_file(name)
    cold = time.perf_counter() - first

    rows = []
    for name in zoo_names():
        c = cnnc.compile_file(name)
        rows.append((name, len(c.layers), best_of(lambda name=name: cnnc.compile_file(name))))
    print(f"{'model':<24} {'layers':>6} {'ms':>8}")
    for name, layers, seconds in rows:
        print(f"{name:<24} {layers:>6} {seconds * 1e3:>8.1f}")
    warm = sum(s for _, _, s in rows)
    print(f"{'zoo, first pass':<24} {'':>6} {cold * 1e3:>8.1f}   target < 1000")
    print(f"{'zoo, warm (sum of best)':<24} {'':>6} {warm * 1e3:>8.1f}")


def shell_compile() -> None:
    command = [shutil.which("cnnc") or sys.executable, *([] if shutil.which("cnnc") else
               ["-m", "cnnc"]), "compile", "resnet152"]
    walls = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
    print(f"{'cnnc compile resnet152':<24} {'':>6} {statistics.median(walls) * 1e3:>8.1f}   "
          f"target < 500 (median of {REPEATS}, wall, start-up included)")


def torch_references() -> dict[str, Callable[[], Any]] | None:
    """Zoo name -> a fresh PyTorch model of the same architecture; None without torch/torchinfo."""
    if importlib.util.find_spec("torch") is None or importlib.util.find_spec("torchinfo") is None:
        return None
    sys.path.insert(0, str(TORCH_MODELS.parent))  # torch_models imports its sibling modules
    spec = importlib.util.spec_from_file_location("torch_models", TORCH_MODELS)
    assert spec is not None and spec.loader is not None
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    return {
        "resnet50": models.MODELS["resnet50"],
        "resnet152": lambda: models.ResNet(bottleneck=True, blocks=(3, 8, 36, 3)),
        "densenet121": models.MODELS["densenet121"],
        "densenet201": lambda: models.DenseNet121(blocks=(6, 12, 48, 32)),
    }


def against_torchinfo() -> None:
    references = torch_references()
    if references is None:
        print("torchinfo comparison left out: install the test extra (torch, torchinfo)")
        return
    import torch
    import torchinfo

    print(f"\ncnnc (compile_file + to_json) against torchinfo {torchinfo.__version__}.summary("
          f"input_size=(1, 3, 224, 224), verbose=0), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; best of {ROUNDS} rounds of 2 runs each, warm")
    print(f"{'model':<14} {'params':>11} {'cnnc ms':>8} {'torchinfo ms':>12} {'ratio':>6}")
    for name, make in references.items():
        model = make().eval()
        compiled = cnnc.compile_file(name)
        stats = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
        # The same architecture on both sides, or the comparison means nothing.
        if stats.total_params != compiled.totals.params:
            raise SystemExit(f"{name}: torchinfo counts {stats.total_params:,} parameters, "
                             f"cnnc {compiled.totals.params:,}: not the same network")
        # in rounds, so that a change in the machine's load weighs on both sides alike; two
        # runs in a row each, so that each side runs warm (the other's run evicts its caches)
        theirs = ours = math.inf
        for _ in range(ROUNDS):
            theirs = min(theirs, best_of(lambda model=model: torchinfo.summary(
                model, input_size=(1, 3, 224, 224), verbose=0), 2))
            ours = min(ours, best_of(lambda name=name: cnnc.compile_file(name).to_json(), 2))
        print(f"{name:<14} {compiled.totals.params:>11,} {ours * 1e3:>8.1f} {theirs * 1e3:>12.1f} "
              f"{theirs / ours:>5.1f}x")
    print("target: ratio >= 10 on resnet152 and densenet201")


def main() -> None:
    zoo_table()
    shell_compile()
    against_torchinfo()


if __name__ == "__main__":
    main()
