"""Compile speed: every zoo model in one process, and `cnnc compile resnet152` from the shell.

Targets (issue "cnnc compile"): the whole zoo under 1 s in one process; `cnnc compile resnet152`
under 0.5 s wall, start-up included. Prints a table; asserts nothing (machines are noisy).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time

import cnnc
from cnnc.zoo import zoo_names

REPEATS = 5


def best_of(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
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

    command = [shutil.which("cnnc") or sys.executable, *([] if shutil.which("cnnc") else
               ["-m", "cnnc"]), "compile", "resnet152"]
    walls = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.perf_counter() - start)
    print(f"{'cnnc compile resnet152':<24} {'':>6} {statistics.median(walls) * 1e3:>8.1f}   "
          f"target < 500 (median of {REPEATS}, wall, start-up included)")


if __name__ == "__main__":
    main()
