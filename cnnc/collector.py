"""The cycle collector, paused while a compile builds its objects.

A compile makes tens of thousands of objects that all live on (scopes, references, the graph,
the JSON document), so the collections their allocation sets off find nothing to free; they
cost ~5% of densenet201's compile, and more in a process with a large heap of its own (a
notebook with PyTorch loaded), whose older generations each full collection walks. Nothing
is lost: garbage left meanwhile is collected at the next collection after the compile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside the block; the collector's state restored after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
