"""Scores from the confusion matrix: counts, accuracy, IoU, and the terminal table."""

import numpy as np

from cnnc_runtime import metrics


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


def test_rendered_matrix_shows_counts_and_recall_per_class_under_whole_names():
    m = np.array([[8, 2], [1, 9]])
    lines = metrics.render_confusion(m, ["T-shirt/top", "Trouser"]).splitlines()
    assert lines[0].split() == ["0", "1", "recall"]
    assert lines[1].split() == ["0", "T-shirt/top", "8", "2", "80.0%"]  # never cut short
    assert lines[2].split() == ["1", "Trouser", "1", "9", "90.0%"]
    assert len({len(s) for s in lines}) == 1  # the columns line up
    numbered = metrics.render_confusion(m, ["0", "1"]).splitlines()
    assert numbered[1].split() == ["0", "8", "2", "80.0%"]  # "0 0" would say nothing more


def test_rendered_matrix_adds_iou_per_class_when_given():
    m = np.array([[8, 2], [1, 9]])
    lines = metrics.render_confusion(m, ["background", "a very long class name"],
                                     metrics.iou(m)).splitlines()
    assert lines[0].split() == ["0", "1", "recall", "IoU"]
    assert lines[2].startswith("1 a very long class name ")
    assert lines[2].split()[-1] == f"{9 / 12:.3f}"
