"""Counts agree with their nouns."""

from cnnc_runtime.wording import plural


def test_one_is_singular_and_every_other_count_plural():
    assert plural(1, "epoch") == "1 epoch" and plural(2, "epoch") == "2 epochs"
    assert plural(1, "class") == "1 class" and plural(11, "class") == "11 classes"
    assert plural(0, "example") == "0 examples"
    assert plural(60000, "training example") == "60,000 training examples"
