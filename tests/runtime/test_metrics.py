"""Scores from the confusion matrix: counts, accuracy, IoU, and the terminal table."""

import numpy as np

from runtime import metrics


def test_confusion_counts_truth_by_prediction():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0, 2])
    m = metrics.confusion(labels, predicted, 3)
    np.testing.assert_array_equal(m, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert metrics.accuracy(m) == 4 / 6


def test_pixel_confusion_and_iou_match_a_direct_count():
    rng = np.random.default_rng(0)
    labels, predicted = rng.integers(0, 4, (3, 8, 8)), rng.integers(0, 4, (3, 8, 8))
    m = metrics.confusion(labels, predicted, 5)  # class 4 never occurs
    for c in range(4):
        inter = np.sum((labels == c) & (predicted == c))
        union = np.sum((labels == c) | (predicted == c))
        assert metrics.iou(m)[c] == inter / union
    assert np.isnan(metrics.iou(m)[4])
    assert metrics.mean_iou(m) == np.mean(metrics.iou(m)[:4])


def test_rendered_matrix_shows_counts_and_recall_per_class():
    m = np.array([[8, 2], [1, 9]])
    lines = metrics.render_confusion(m, ["T-shirt/top", "Trouser"]).splitlines()
    assert lines[0].split() == ["T-shirt/t", "Trouser", "recall"]
    assert lines[1].split() == ["T-shirt/t", "8", "2", "80.0%"]
    assert lines[2].split() == ["Trouser", "1", "9", "90.0%"]
