"""Fitting data to a spec's input and normalising it (runtime/data/fit.py)."""

import numpy as np
import pytest

from cnnc_runtime.data import DataError, Dataset, fit_to_input, normalise
from cnnc_runtime.data.fit import resize_bilinear, resize_nearest

rng = np.random.default_rng(0)


def images(shape=(1, 28, 28), n=(5, 3), name="imgs"):
    """A classification set of random (never constant) images."""
    return Dataset(name, rng.random((n[0], *shape), dtype=np.float32), np.arange(n[0]) % 2,
                   rng.random((n[1], *shape), dtype=np.float32), np.arange(n[1]) % 2,
                   ["a", "b"], "classify")


def scenes(shape=(1, 28, 28), n=4):
    """A segmentation set: labels 1..3 everywhere, so padding's background 0 is visible."""
    x = rng.random((n, *shape), dtype=np.float32)
    y = rng.integers(1, 4, (n, *shape[1:]))
    return Dataset("seg", x, y, x[:2], y[:2], ["bg", "a", "b", "c"], "segment")


def test_28x28_gets_lenets_two_pixel_zero_border_for_32x32():
    ds = images()
    out = fit_to_input(ds, (1, 32, 32))
    assert out.x_train.shape == (5, 1, 32, 32) and out.x_test.shape == (3, 1, 32, 32)
    np.testing.assert_array_equal(out.x_train[:, :, 2:30, 2:30], ds.x_train)  # exact copy
    border = out.x_train.copy()
    border[:, :, 2:30, 2:30] = 0
    assert not border.any()
    np.testing.assert_array_equal(out.y_train, ds.y_train)
    assert ds.x_train.shape == (5, 1, 28, 28)  # the input dataset is left alone


def test_a_matching_dataset_comes_back_as_a_new_dataset_on_the_same_arrays():
    ds = images()
    out = fit_to_input(ds, (1, 28, 28))
    assert out is not ds and out.x_train is ds.x_train and out.y_test is ds.y_test


def test_one_channel_is_repeated_when_the_spec_wants_three():
    ds = images()
    out = fit_to_input(ds, (3, 32, 32))
    assert out.x_train.shape == (5, 3, 32, 32)
    for c in range(3):
        np.testing.assert_array_equal(out.x_test[:, c, 2:30, 2:30], ds.x_test[:, 0])


@pytest.mark.parametrize("have, want", [((28, 28), (64, 64)), ((8, 8), (32, 32)),
                                        ((64, 64), (20, 20)), ((7, 9), (13, 5)),
                                        ((28, 28), (36, 36)), ((5, 5), (5, 12))])
def test_bilinear_resize_matches_torch(have, want):
    torch = pytest.importorskip("torch")
    x = rng.random((3, 2, *have), dtype=np.float32)
    expected = torch.nn.functional.interpolate(torch.from_numpy(x), size=want, mode="bilinear",
                                               align_corners=False).numpy()
    np.testing.assert_allclose(resize_bilinear(x, want), expected, atol=1e-5)


@pytest.mark.parametrize("have, want", [((28, 28), (64, 64)), ((64, 64), (20, 20)),
                                        ((7, 9), (13, 5))])
def test_nearest_label_resize_matches_torch_nearest_exact(have, want):
    torch = pytest.importorskip("torch")
    y = rng.integers(0, 11, (2, *have))
    expected = torch.nn.functional.interpolate(torch.from_numpy(y[:, None].astype(np.float32)),
                                               size=want, mode="nearest-exact")[:, 0].numpy()
    np.testing.assert_array_equal(resize_nearest(y, want), expected)


@pytest.mark.parametrize("have, want, padded", [
    ((28, 28), (34, 34), True),    # 6 more pixels: a 3-pixel border
    ((28, 28), (28, 32), True),    # one axis only
    ((28, 28), (36, 36), False),   # a border of 4 would add more than a quarter: resize
    ((28, 28), (31, 31), False),   # odd growth cannot be centred: resize
    ((8, 8), (32, 32), False),     # a 12-pixel border would shrink the digit to a corner
    ((32, 32), (28, 28), False),   # shrinking is never cropping
])
def test_small_even_growth_pads_and_anything_else_resizes(have, want, padded):
    ds = images((1, *have))
    out = fit_to_input(ds, (1, *want))
    if padded:
        top, left = (want[0] - have[0]) // 2, (want[1] - have[1]) // 2
        window = out.x_train[:, :, top:top + have[0], left:left + have[1]]
        np.testing.assert_array_equal(window, ds.x_train)
    else:
        np.testing.assert_array_equal(out.x_train, resize_bilinear(ds.x_train, want))


def test_segmentation_labels_are_padded_with_background_and_resized_nearest():
    ds = scenes()
    padded = fit_to_input(ds, (1, 32, 32))
    assert padded.y_train.shape == (4, 32, 32)
    np.testing.assert_array_equal(padded.y_train[:, 2:30, 2:30], ds.y_train)
    assert (padded.y_train[:, :2] == 0).all() and (padded.y_train[:, :, -2:] == 0).all()
    resized = fit_to_input(ds, (1, 64, 64))
    assert resized.y_test.shape == (2, 64, 64) and resized.y_test.dtype == ds.y_test.dtype
    assert set(np.unique(resized.y_test)) <= {1, 2, 3}  # no invented classes
    np.testing.assert_array_equal(resized.y_test, resize_nearest(ds.y_test, (64, 64)))


def test_one_dimensional_signals_of_another_length_are_refused():
    with pytest.raises(DataError, match=r"the spec's input is \[1, 64\] but 'sig' samples are "
                                        r"\[1, 40\]: resizing 1-D signals would change what "
                                        r"they mean; set `input` to \[1, 40\]"):
        fit_to_input(images((1, 40), name="sig"), (1, 64))


def test_colour_to_one_channel_is_refused_with_the_way_out():
    with pytest.raises(DataError, match=r"3 channels cannot become 1 without guessing; convert "
                                        r"the images to grayscale first, or set `input` to "
                                        r"\[3, 28, 28\]"):
        fit_to_input(images((3, 32, 32)), (1, 28, 28))


def test_other_channel_counts_are_refused():
    with pytest.raises(DataError, match="2 channels cannot become 3"):
        fit_to_input(images((2, 8, 8)), (3, 8, 8))


def test_images_cannot_feed_a_one_dimensional_network():
    with pytest.raises(DataError, match=r"2-D images cannot feed a network built for 1-D "
                                        r"signals; set `input` to \[1, 28, 28\]"):
        fit_to_input(images(), (1, 784))


def test_samples_of_the_input_shape_behind_a_channel_axis_of_one_fit():
    ds = images((1, 4, 40))  # an npz x of (N, 4, 40) read as one-channel images
    out = fit_to_input(ds, (4, 40))
    assert out.x_train.shape == (5, 4, 40) and out.x_test.shape == (3, 4, 40)
    np.testing.assert_array_equal(out.x_train, ds.x_train[:, 0])
    with pytest.raises(DataError, match="cannot feed"):  # per-pixel labels keep their rows
        fit_to_input(scenes((1, 4, 40)), (4, 40))


def test_an_npz_of_the_wrong_layout_is_told_the_shapes_that_fit():
    with pytest.raises(DataError) as e:
        fit_to_input(images((1, 5, 40), name="npz:sig.npz"), (1, 40))
    assert str(e.value) == ("the spec's input is [1, 40] but 'npz:sig.npz' samples are "
                            "[1, 5, 40]: 2-D images cannot feed a network built for 1-D signals; "
                            "set `input` to [1, 5, 40] or choose a dataset of that kind; an npz "
                            "`x` for this spec has shape (N, 40) or (N, 1, 40)")
    with pytest.raises(DataError, match=r"set `input` to \[1, 40\]; an npz `x` for this spec "
                                        r"has shape \(N, 2, 40\)$"):
        fit_to_input(images((1, 40), name="npz:sig.npz"), (2, 40))
    with pytest.raises(DataError) as e:  # other sources: the user does not choose the layout
        fit_to_input(images((1, 5, 40)), (1, 40))
    assert "npz" not in str(e.value)


def test_volumes_are_not_resized():
    with pytest.raises(DataError, match="resizing volumes would change what they mean"):
        fit_to_input(images((1, 4, 4, 4)), (1, 8, 8, 8))


def test_normalise_uses_train_statistics_per_channel_for_both_splits():
    ds = images((3, 6, 6), n=(50, 10))
    ds.x_train[:, 1] = ds.x_train[:, 1] * 4 + 100  # a channel far from 0 and 1
    out, mean, std = normalise(ds)
    assert mean.shape == (3,) and std.shape == (3,) and mean.dtype == np.float32
    np.testing.assert_allclose(mean, ds.x_train.mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, ds.x_train.astype(np.float64).std(axis=(0, 2, 3)), rtol=1e-5)
    np.testing.assert_allclose(out.x_train.mean(axis=(0, 2, 3)), 0, atol=1e-5)
    np.testing.assert_allclose(out.x_train.std(axis=(0, 2, 3)), 1, atol=1e-4)
    expected_test = (ds.x_test - mean[:, None, None]) / std[:, None, None]
    np.testing.assert_allclose(out.x_test, expected_test, rtol=1e-6)  # train stats, not test's
    assert out.x_train.dtype == np.float32 and out.y_train is ds.y_train


def test_normalise_maps_a_constant_channel_to_zeros():
    ds = images((2, 4), n=(6, 2))
    ds.x_train[:, 0] = 0.5
    out, _, std = normalise(ds)
    assert std[0] == 1.0 and np.isfinite(out.x_train).all()
    np.testing.assert_array_equal(out.x_train[:, 0], 0)
