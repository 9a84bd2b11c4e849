"""MNIST-1D, generated locally: 10 classes of noisy 1-D "digit" signals of length 40.

The dataset and its generator are by Sam Greydanus and Dmitry Kobak, "Scaling Down Deep Learning
with MNIST-1D" (ICML 2024, arXiv:2011.14439); reference code at github.com/greydanus/mnist1d,
Apache License 2.0. This is an independent NumPy implementation of the same algorithm with the
same default arguments, written to need no SciPy and to transform all samples at once.

Each sample takes the template of its digit (12 points) and then, in this order: pads it with
36..60 zeros, stretches the result to 72 points (so the digit spans 12..24 of them), scales it by
a factor in [0.8, 1.2), rolls it by 0..47 points, fills the zero padding with correlated noise
(white noise of std 0.25 smoothed by a Gaussian of sigma 2), adds white noise of std 0.02 to
everything, adds a linear tilt ("shear") of slope in [-0.375, 0.375) and resamples to 40 points.
The whole set (500 samples per class by default) is shuffled, shifted and scaled to mean 0 and
std 1 as one array, and the first 80% becomes the train split: 4000 train and 1000 test samples.

Random numbers come from NumPy's legacy `RandomState(seed)`, drawn in the order the reference
draws them, so `seed=42` (the reference's default) yields the reference's default dataset; the
interpolation repeats SciPy's `interp1d` arithmetic, because exact zeros decide where noise goes.
"""

from __future__ import annotations

import numpy as np

from cnnc_runtime.data.dataset import DataError, Dataset

# Heights of the 10 digit templates, before whitening (the reference's values).
TEMPLATES = np.array([
    [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
    [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
    [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
    [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
    [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
    [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
    [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
    [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
    [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
])
PADDING = (36, 60)          # zeros appended to the 12-point template, drawn uniformly
SCALE_COEFF = 0.4           # amplitude factor drawn from [1 - 0.2, 1 + 0.2)
MAX_TRANSLATION = 48        # roll by 0..47 points
CORR_NOISE_SCALE = 0.25     # std of the white noise that is smoothed into the padding
CORR_NOISE_SIGMA = 2.0      # its Gaussian smoothing, truncated at 4 sigma like SciPy's
IID_NOISE_SCALE = 0.02
SHEAR_SCALE = 0.75          # tilt coefficient drawn from [-0.375, 0.375)
FINAL_LENGTH = 40
EPS = 1e-8                  # lifted onto the template so its zeros are not taken for padding


def templates() -> np.ndarray:
    """The 10 templates (10, 12): whitened, shifted to start (and end) at 0, divided by 6."""
    x = TEMPLATES - TEMPLATES.mean(1, keepdims=True)
    x /= x.std(1, keepdims=True)
    return (x - x[:, :1]) / 6.0


def interpolate(y: np.ndarray, length: int, n: int) -> np.ndarray:
    """Resample rows y[:, :length] (sampled on [0, 1]) linearly at n points of [0, 1] -> (N, n).

    Same arithmetic as scipy.interpolate.interp1d(kind="linear"): the segment is found by a
    left-side search and the value is slope * offset + left value.
    """
    grid, new = np.linspace(0, 1, length), np.linspace(0, 1, n)
    hi = np.clip(np.searchsorted(grid, new), 1, length - 1)
    lo = hi - 1
    slope = (y[:, hi] - y[:, lo]) / (grid[hi] - grid[lo])  # (N, n)
    return slope * (new - grid[lo]) + y[:, lo]


def gaussian_smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Rows of x (N, L) smoothed by a Gaussian truncated at 4 sigma, with half-sample symmetric
    edges: scipy.ndimage.gaussian_filter1d's defaults (mode "reflect")."""
    radius = int(4.0 * sigma + 0.5)
    w = np.exp(-0.5 / sigma**2 * np.arange(-radius, radius + 1) ** 2)
    padded = np.pad(x, ((0, 0), (radius, radius)), mode="symmetric")  # (N, L + 2r)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * radius + 1, axis=1)
    return windows @ (w / w.sum())  # (N, L)


def draw(rng: np.random.RandomState, labels: np.ndarray, width: int) -> dict[str, np.ndarray]:
    """Each sample's random parameters, drawn sample by sample in the reference's order."""
    n = len(labels)
    out = {"pad": np.empty(n, np.int64), "scale": np.empty(n), "shift": np.empty(n, np.int64),
           "corr": np.empty((n, width)), "iid": np.empty((n, width)), "shear": np.empty(n)}
    low, high = PADDING
    for i in range(n):
        out["pad"][i] = low + int(rng.rand() * (high - low + 1))
        out["scale"][i] = 1 + SCALE_COEFF * (rng.rand() - 0.5)
        out["shift"][i] = rng.randint(MAX_TRANSLATION)  # the stream of RandomState.choice(48)
        out["corr"][i] = CORR_NOISE_SCALE * rng.randn(width)
        out["iid"][i] = IID_NOISE_SCALE * rng.randn(width)
        out["shear"][i] = SHEAR_SCALE * (rng.rand() - 0.5)
    return out


def signals(labels: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """One transformed signal per label -> float64 (N, FINAL_LENGTH), not yet standardised."""
    base = templates()
    t = base.shape[1]
    width = t + PADDING[1]  # 72: every padded template is stretched to this length
    p = draw(rng, labels, width)
    padded = np.zeros((len(labels), width))
    padded[:, :t] = base[labels] + EPS
    x = np.empty_like(padded)
    for pad in np.unique(p["pad"]):  # 25 possible lengths; the rows of one length share a grid
        rows = p["pad"] == pad
        x[rows] = interpolate(padded[rows], t + pad, width)
    x *= p["scale"][:, None]
    cols = (np.arange(width) - p["shift"][:, None]) % width  # (N, 72): roll right by shift
    x = np.take_along_axis(x, cols, axis=1)
    x = np.where(x != 0, x, gaussian_smooth(p["corr"], CORR_NOISE_SIGMA)) + p["iid"]
    x -= p["shear"][:, None] * np.linspace(-0.5, 0.5, width)
    return interpolate(x, width, FINAL_LENGTH)


def generate(seed: int = 42, num_samples: int = 5000, train_split: float = 0.8) -> Dataset:
    """MNIST-1D with the reference's defaults: x float32 (N, 1, 40), y int64 (N,), 10 classes."""
    try:
        rng = np.random.RandomState(seed)
    except ValueError:
        raise DataError(f"mnist1d: seed {seed} is out of range; "
                        "expected an integer from 0 to 2**32 - 1") from None
    per_class = num_samples // len(TEMPLATES)
    labels = np.repeat(np.arange(len(TEMPLATES)), per_class)  # class by class, as drawn
    x = signals(labels, rng)
    order = rng.permutation(len(labels))
    x, labels = x[order], labels[order]
    x = (x - x.mean()) / x.std()
    cut = int(len(labels) * train_split)
    x = x.astype(np.float32)[:, None]  # (N, 1, 40)
    return Dataset("mnist1d", x[:cut], labels[:cut], x[cut:], labels[cut:],
                   [str(i) for i in range(len(TEMPLATES))], "classify")


def load(seed: int = 0) -> Dataset:
    """`mnist1d`: the default-size set drawn with `seed` (42 gives the reference's own set)."""
    return generate(seed)
