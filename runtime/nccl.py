"""Gradient buckets between GPUs through NCCL (CuPy's binding), one GPU per rank: MPI only
starts the job and hands every rank rank 0's NCCL id; the buckets never leave the GPUs.

Each bucket's ncclAllReduce runs on a stream of its own, after an event that marks its
gradients written on the compute stream, so it overlaps the rest of backward; `finish` makes
the compute stream wait for the reductions before the optimizer step reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cnnc_runtime.device import nccl
from cnnc_runtime.distributed import Buckets, Mpi

NCCL_TYPES = {"float32": "NCCL_FLOAT32", "float64": "NCCL_FLOAT64"}


class NcclReducer:
    """distributed.MpiReducer's contract on CuPy arrays; the step's totals go through MPI."""

    def __init__(self, w: Mpi, cupy: Any, groups: list[list[tuple[str, tuple[int, ...]]]],
                 dtype: Any) -> None:
        binding = nccl()
        uid = w.comm.bcast(binding.get_unique_id() if w.rank == 0 else None, root=0)
        self.comm = binding.NcclCommunicator(w.size, uid, w.rank)
        self.type = getattr(binding, NCCL_TYPES[np.dtype(dtype).name])
        self.sum = binding.NCCL_SUM
        self.w, self.cupy = w, cupy
        self.buckets = Buckets(groups, lambda n: cupy.empty(n, dtype))
        self.stream = cupy.cuda.Stream(non_blocking=True)
        self.totals = np.zeros(0)
        self.request: Any = None

    def start(self, totals: Sequence[float]) -> None:
        self.buckets.reset()
        self.totals = np.array(totals, np.float64)
        self.request = self.w.comm.Iallreduce(self.w.MPI.IN_PLACE, self.totals,
                                              op=self.w.MPI.SUM)

    def add(self, name: str, grad: Any) -> None:
        full = self.buckets.put(name, grad)
        if full is not None:
            self._launch(full)

    def _launch(self, b: int) -> None:
        self.buckets.launched[b] = True
        flat = self.buckets.flats[b]
        self.stream.wait_event(self.cupy.cuda.get_current_stream().record())
        self.comm.allReduce(flat.data.ptr, flat.data.ptr, flat.size, self.type, self.sum,
                            self.stream.ptr)

    def finish(self) -> tuple[dict[str, Any], np.ndarray]:
        for b in self.buckets.rest():
            self._launch(b)
        self.cupy.cuda.get_current_stream().wait_event(self.stream.record())
        for flat in self.buckets.flats:
            flat /= self.w.size
        self.request.Wait()
        return self.buckets.views, self.totals
