"""The pieces of distributed training that need no MPI: backward's per-gradient hook, and the
buckets the gradients are reduced in (runtime/distributed.py)."""

import numpy as np

from cnnc import build_model, compile_file
from cnnc_runtime import distributed
from cnnc_runtime.losses import softmax_cross_entropy


def resnet():
    return build_model(compile_file("resnet20_cifar", (3, 8, 8)), dtype="float64")


def test_backward_hands_over_each_gradient_once_as_it_is_final_last_layers_first():
    model = resnet()
    rng = np.random.default_rng(0)
    logits = model.forward(rng.standard_normal((4, 3, 8, 8)), training=True)
    _, dlogits = softmax_cross_entropy(np, logits, rng.integers(0, 10, 4))
    heard = []
    grads = model.backward(dlogits, on_grad=lambda name, g: heard.append((name, g.copy())))
    names = [name for name, _ in heard]
    assert sorted(names) == sorted(model.params) and names[0].startswith("fc.")
    for name, g in heard:  # what the hook heard is what backward returned: final then
        np.testing.assert_array_equal(g, grads[name])


def test_buckets_follow_backward_and_close_at_their_size():
    model = resnet()
    shapes = {n: tuple(model.params[n].shape) for n in model.trainable}
    groups = distributed.buckets(model.plan.training.steps, shapes, 8, limit=20_000)
    flat = [name for g in groups for name, _ in g]
    assert sorted(flat) == sorted(shapes) and flat[0].startswith("fc.")
    sizes = [sum(8 * int(np.prod(s)) for _, s in g) for g in groups]
    assert all(size >= 20_000 for size in sizes[:-1]) and len(groups) > 3
    # one more tensor fewer would not have reached the limit: each closes as soon as it can
    assert all(size - 8 * int(np.prod(g[-1][1])) < 20_000 for size, g in zip(sizes, groups))


def test_a_bucket_is_ready_when_its_last_gradient_arrives_and_missing_ones_are_zeros():
    groups = [[("a", (2,)), ("b", (3,))], [("c", (1,))]]
    b = distributed.Buckets(groups, lambda n: np.full(n, np.nan))
    assert b.put("frozen", np.ones(4)) is None
    assert b.put("b", np.arange(3.0)) is None
    assert b.put("a", np.ones(2)) == 0
    np.testing.assert_array_equal(b.flats[0], [1, 1, 0, 1, 2])
    b.launched[0] = True
    assert b.rest() == [1]  # "c" never came (a skipped step): zeros go out
    np.testing.assert_array_equal(b.flats[1], [0])
