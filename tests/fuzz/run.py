"""The long fuzz run: `python tests/fuzz/run.py --cases 20000 [--seed S]`.

Prints how the cases ended (compiled, or which error kinds), the slowest cases and the peak
memory, and every defect with the command that replays it; exits 1 if there was one.
"""

from __future__ import annotations

import argparse
import collections
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

from fuzz_cases import case, outcome, specs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replay", metavar="SEED:INDEX", help="run one case and print it")
    args = parser.parse_args()
    sources = specs()
    file = Path(tempfile.mkdtemp()) / "mutated.yaml"
    if args.replay:
        seed, index = map(int, args.replay.split(":"))
        name, mutation, text = case(seed, index, sources)
        print(f"# {name}, {mutation}\n{text.decode('utf-8', 'replace')}")
        print(outcome(text, file))
        return 0
    ends, by_mutation, times, defects = collections.Counter(), collections.Counter(), [], []
    start = time.perf_counter()
    for index in range(args.cases):
        name, mutation, text = case(args.seed, index, sources)
        t = time.perf_counter()
        try:
            end = outcome(text, file)
        except Exception as e:  # noqa: BLE001 (a defect: anything but success or a located CnncError)
            end = "DEFECT"
            defects.append((index, name, mutation, "".join(traceback.format_exception_only(e))))
        times.append((time.perf_counter() - t, index, name, mutation))
        ends[end.split()[0] if end != "ok" else "ok"] += 1
        by_mutation[mutation, end == "ok"] += 1
    total = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.cases} cases (seed {args.seed}) in {total:.1f} s; peak resident memory "
          f"{peak:.0f} MiB")
    print("ended in: " + ", ".join(f"{k} {v}" for k, v in ends.most_common()))
    times.sort(reverse=True)
    print("slowest: " + ", ".join(f"{t * 1000:.0f} ms ({n}, {m}, {args.seed}:{i})"
                                   for t, i, n, m in times[:5]))
    print(f"cases over 1 s: {sum(t > 1 for t, *_ in times)}")
    for index, name, mutation, error in defects:
        print(f"DEFECT {name}, {mutation}: {error.strip()}\n  replay: python tests/fuzz/run.py "
              f"--replay {args.seed}:{index}")
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
