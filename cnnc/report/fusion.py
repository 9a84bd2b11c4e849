"""What lowering does to a network, for `cnnc compile --fuse`: the fused chains of each mode,
the algorithm of each convolution and the inference memory plan."""

from __future__ import annotations

from typing import Any

from cnnc.lower.steps import algorithm_attrs
from cnnc.report.units import binary_bytes
from cnnc_runtime.plan import Plan


def fusion_rows(plan: Plan) -> list[dict[str, Any]]:
    """One row per fused chain: its layers, the training kernel and the inference kernel."""
    inference = {s.nodes: s.op for s in plan.inference.steps if len(s.nodes) > 1}
    folded = {f.weight.rsplit(".", 1)[0] for f in plan.folds}
    return [{"layers": list(s.nodes), "training": s.op, "inference": inference.get(s.nodes),
             "bn_folded": s.nodes[0] in folded}
            for s in plan.training.steps if len(s.nodes) > 1]


def conv_algorithms(plan: Plan) -> dict[str, str]:
    """The algorithm each conv runs (cnnc/ops/conv_algorithm.py), by conv node, in order."""
    chosen = {s.nodes[0]: algorithm_attrs(s) for s in plan.training.steps}
    return {node: attrs["algorithm"] for node, attrs in chosen.items() if attrs is not None}


def render_fusions(plan: Plan) -> str:
    rows = fusion_rows(plan)
    width = max((len(" + ".join(r["layers"])) for r in rows), default=0)
    lines = ["", "fused chains (training kernel -> inference kernel)"]
    for r in rows:
        chain = " + ".join(r["layers"])
        after = r["inference"] + (" (BN folded)" if r["bn_folded"] else "") \
            if r["inference"] else "training only"
        lines.append(f"  {chain:<{width}}  {r['training']} -> {after}")
    sched = plan.inference
    lines.append(f"{len(rows)} chains fused, {len(plan.folds)} BatchNorms folded; "
                 f"{len(sched.steps)} inference steps")
    lines.append(f"inference memory plan: peak {binary_bytes(sched.peak_bytes)} per sample at "
                 f"'{sched.peak_step}', {binary_bytes(sched.naive_bytes)} if nothing were freed")
    algorithms = conv_algorithms(plan)
    if algorithms:
        lines += ["", "convolutions (im2col + GEMM, or winograd: F(4x4, 3x3) for stride-1 3x3)"]
        width = max(len(n) for n in algorithms)
        lines += [f"  {node:<{width}}  {alg}" for node, alg in algorithms.items()]
        count = sum(a == "winograd" for a in algorithms.values())
        lines.append(f"{count} of {len(algorithms)} convolutions run Winograd")
    return "\n".join(lines) + "\n"


def fusion_json(plan: Plan) -> dict[str, Any]:
    sched = plan.inference
    return {"fusions": fusion_rows(plan), "conv_algorithms": conv_algorithms(plan),
            "inference_steps": len(sched.steps),
            "inference_peak_bytes": sched.peak_bytes, "inference_naive_bytes": sched.naive_bytes}
