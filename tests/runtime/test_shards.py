"""A batch in shards (runtime/shards.py), in one process: the per-image layers run shard by
shard and their gradients add in the fixed tree, so a batch in two shards gives, bit for bit,
the sum of its halves run alone; BatchNorm still normalises over the whole batch; and the
settings that cannot share the shards among the ranks are refused. The ranks' side (the same
bits as one process) is tests/runtime/test_distributed.py's."""

import numpy as np
import pytest
from parity_cases import CASES

from cnnc import build_model, compile_file, compile_text
from cnnc_runtime import jit, shards
from cnnc_runtime.run_state import RunError, TrainConfig
from cnnc_runtime.train import _dropout_seeds, _shards_per_rank

POOLS = """
name: pools
input: [2, 8, 8]
layers:
  - {id: conv, op: conv, out: 4, kernel: 3, padding: 1, bias: false}
  - {id: bn, op: batchnorm}
  - {id: pool, op: maxpool, kernel: 2}
  - {id: unpool, op: maxunpool, kernel: 2, from: [pool, pool.indices, bn]}
  - {id: flatten, op: flatten}
  - {id: fc, op: linear, out: 3}
"""


def test_the_tree_adds_halves_and_each_rank_run_is_a_subtree():
    parts = list(np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32) * 1e4)
    assert np.array_equal(shards.tree(parts), shards.tree(parts[:4]) + shards.tree(parts[4:]))
    quarters = [shards.tree(parts[j:j + 2]) for j in range(0, 8, 2)]
    assert np.array_equal(shards.tree(parts), (quarters[0] + quarters[1])
                          + (quarters[2] + quarters[3]))
    # the order matters: a left-to-right sum rounds otherwise
    big = [np.float32(x) for x in (1e8, 3.0, -1e8, 3.0)]
    assert shards.tree(big) == (big[0] + big[1]) + (big[2] + big[3]) != sum(big[1:], big[0])


def relative(a, b):
    """The largest difference relative to b's largest value (some entries nearly cancel)."""
    return np.abs(a - b).max() / np.abs(b).max()


def run(model, x, dy, k=1):
    with shards.split(k):
        y = model.forward(x, training=True)
        return y, model.backward(dy)


@pytest.mark.parametrize("k", [2, 4])
def test_shards_give_the_bits_of_their_parts_run_alone(k):
    """mnist1d_cnn (no BatchNorm), float32: what k ranks would compute, each its part."""
    jit.set_threads(1)
    model = build_model(compile_file("mnist1d_cnn"), dtype="float32", seed=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 1, 40)).astype(np.float32)
    dy = rng.standard_normal((16, 10)).astype(np.float32)
    y, grads = run(model, x, dy, k)
    parts = [run(model, xs, ds) for xs, ds in zip(shards.pieces(x, k), shards.pieces(dy, k))]
    assert np.array_equal(y, np.concatenate([p[0] for p in parts]))
    for name, g in grads.items():
        assert np.array_equal(g, shards.tree([p[1][name] for p in parts])), name


DROPS = """
name: drops
input: [2, 6, 6]
layers:
  - {id: conv, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: drop, op: drop_path, p: 0.5}
  - {id: skip, op: add, from: [conv, drop]}
  - {id: flatten, op: flatten}
  - {id: dropout, op: dropout, p: 0.3}
  - {id: fc, op: linear, out: 3}
"""


def test_each_shard_draws_from_its_own_generator():
    """Dropout and drop_path with one seed a shard, as --shards gives them: the masks of
    the ranks that each compute their part with their seeds."""
    model = build_model(compile_text(DROPS), dtype="float32", seed=0)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((8, 2, 6, 6)).astype(np.float32)
    dy = rng.standard_normal((8, 3)).astype(np.float32)
    model.reseed(*([7, j] for j in range(4)))
    y, grads = run(model, x, dy, 4)
    parts = []
    for j, (xs, ds) in enumerate(zip(shards.pieces(x, 4), shards.pieces(dy, 4))):
        model.reseed([7, j])
        parts.append(run(model, xs, ds))
    assert np.array_equal(y, np.concatenate([p[0] for p in parts]))
    for name, g in grads.items():
        assert np.array_equal(g, shards.tree([p[1][name] for p in parts])), name
    model.reseed(*([8, j] for j in range(4)))
    assert not np.array_equal(run(model, x, dy, 4)[0], y)  # other seeds, other masks


class Rank:
    def __init__(self, rank, size):
        self.rank, self.size = rank, size


def test_the_dropout_seeds_of_a_shard_do_not_depend_on_the_ranks():
    config = TrainConfig(shards=4, seed=5)
    alone = _dropout_seeds(config, 9, Rank(0, 1))
    assert alone == [[5, 9, j] for j in range(4)]
    assert _dropout_seeds(config, 9, Rank(0, 2)) + _dropout_seeds(config, 9, Rank(1, 2)) == alone
    # without --shards: one generator, the rank's own when there are several
    assert _dropout_seeds(TrainConfig(seed=5), 9, Rank(1, 2)) == [[5, 9, 1]]
    assert _dropout_seeds(TrainConfig(seed=5), 9, Rank(0, 1)) == [[5, 9]]


@pytest.mark.parametrize("spec, shape, fuse", [("resnet20_cifar", (3, 8, 8), True),
                                               ("resnet20_cifar", (3, 8, 8), False),
                                               (POOLS, None, True)])
def test_batchnorm_in_shards_still_normalises_over_the_whole_batch(spec, shape, fuse):
    """float64: the same function as without shards, to rounding, running statistics too; a
    step with two outputs (the pool's indices) runs shard by shard as well."""
    compiled = compile_text(spec) if shape is None else compile_file(spec, shape)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, *compiled.input_shape))
    models = [build_model(compiled, dtype="float64", seed=0, fuse=fuse) for _ in range(2)]
    dy = rng.standard_normal(models[0].forward(x).shape)
    (y1, g1), (y2, g2) = run(models[0], x, dy), run(models[1], x, dy, 2)
    assert relative(y2, y1) < 1e-12
    for name in g1:
        assert relative(g2[name], g1[name]) < 1e-10, name
    for name, value in models[0].state.items():
        assert relative(models[1].state[name], value) < 1e-12, name


def test_evaluation_runs_the_whole_batch():
    model = build_model(compile_file("mnist1d_cnn"), dtype="float64", seed=0)
    x = np.random.default_rng(2).standard_normal((6, 1, 40))
    with shards.split(4):  # 6 images do not split into 4: evaluation does not try
        assert model.forward(x).shape == (6, 10)


@pytest.mark.parametrize("settings, ranks, expected", [
    ({"shards": 4, "batch_size": 16}, 2, 2), ({"batch_size": 12}, 3, 1),
    ({"shards": 8, "batch_size": 16}, 1, 8)])
def test_the_shards_of_each_rank(settings, ranks, expected):
    assert _shards_per_rank(TrainConfig(**settings), ranks) == expected


@pytest.mark.parametrize("settings, ranks, says", [
    ({"shards": 6, "batch_size": 12}, 3, "a power of two and divides them"),
    ({"shards": 2, "batch_size": 16}, 4, "cannot be shared by 4 ranks"),
    ({"shards": 3, "batch_size": 16}, 1, "does not split into 3 shards: make it a multiple"),
    ({"batch_size": 15}, 2, "2 equal shares, one per rank")])
def test_shards_that_cannot_be_shared_are_refused(settings, ranks, says):
    with pytest.raises(RunError, match=says):
        _shards_per_rank(TrainConfig(**settings), ranks)


@pytest.mark.parametrize("name", [n for n, (_, batch) in CASES.items() if batch > 1])
def test_every_kernel_of_the_parity_models_in_shards_computes_the_same_function(name):
    """float64, one image a shard: a kernel without BATCH_STATISTICS that mixed the images
    of its batch would compute another function here."""
    shape, batch = CASES[name]
    model = build_model(compile_file(name, shape), dtype="float64", seed=0)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, *model.plan.input_shape))
    dy = rng.standard_normal(model.forward(x).shape)
    model.reseed(0)
    y1, g1 = run(model, x, dy)
    model.reseed(0)  # dropout draws the same masks, shard after shard
    y2, g2 = run(model, x, dy, batch)
    assert relative(y2, y1) < 1e-12
    noise = 1e-10 * max(float(np.abs(g).max()) for g in g1.values())
    for tensor, g in g1.items():  # a bias a BatchNorm follows has gradient 0, to rounding
        if np.abs(g).max() > noise:
            assert relative(g2[tensor], g) < 1e-9, tensor
        else:
            assert np.abs(g2[tensor]).max() < noise, tensor
