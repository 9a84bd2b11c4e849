"""--sync-bn's code path in one process (runtime/sync_bn.py): through a world of one rank it
must compute what the BatchNorm kernels compute alone, unfused and fused, forward, backward and
the running statistics, and outside `across` (and shards.split) the kernels never call it."""

import numpy as np
import pytest

from cnnc import build_model, compile_file
from cnnc_runtime import sync_bn
from cnnc_runtime.losses import softmax_cross_entropy


class OneRank:
    """A world of one rank, whose sums are the identity: the sync path, nothing added up."""

    size = 1

    def __init__(self):
        self.calls = 0

    def sum(self, values):
        self.calls += 1
        return values


def step(fuse: bool, world=None):
    model = build_model(compile_file("resnet20_cifar", (3, 8, 8)), dtype="float64",
                        fuse=fuse)
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 3, 8, 8)), rng.integers(0, 10, 8)
    with sync_bn.across(world):
        logits = model.forward(x, training=True)
        _, dlogits = softmax_cross_entropy(np, logits, y)
        grads = model.backward(dlogits)
    steps = model.plan.training.steps
    norms = sum(s.op in ("batchnorm", "conv_bn", "conv_bn_relu") for s in steps)
    return logits, grads, dict(model.state), norms


@pytest.mark.parametrize("fuse", [False, True])
def test_the_sync_path_of_one_rank_is_batchnorm_itself(fuse):
    logits, grads, state, norms = step(fuse)
    world = OneRank()
    synced_logits, synced_grads, synced_state, _ = step(fuse, world)
    assert norms >= 19 and world.calls == 3 * norms  # 2 sums forward, 1 backward, each
    np.testing.assert_allclose(synced_logits, logits, rtol=1e-12, atol=1e-14)
    for name in grads:
        np.testing.assert_allclose(synced_grads[name], grads[name], rtol=1e-10, atol=1e-13,
                                   err_msg=name)
    for name in state:
        np.testing.assert_allclose(synced_state[name], state[name], rtol=1e-12, atol=1e-15,
                                   err_msg=name)


@pytest.mark.parametrize("fuse", [False, True])
def test_outside_across_and_shards_the_kernels_never_ask(fuse, monkeypatch):
    def asked(*args):
        raise AssertionError("sync_bn was asked")

    assert not sync_bn.active()
    monkeypatch.setattr(sync_bn, "centred", asked)
    monkeypatch.setattr(sync_bn, "gradient_sums", asked)
    step(fuse)


def test_a_single_process_run_never_imports_mpi(tmp_path):
    import subprocess
    import sys

    script = ("import sys; from cnnc.cli import main; "
              f"rc = main(['run', 'mnist1d_cnn', '--train', '--data', 'mnist1d', '--epochs', "
              f"'1', '--threads', '1', '--out', {str(tmp_path)!r}]); "
              "assert rc == 0 and 'mpi4py' not in sys.modules, rc")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
