"""`load_dataset` (runtime/data/__init__.py): names, prefixes and their errors."""

import pytest

from cnnc_runtime.data import NAMED, ON_DISK, SOURCES, DataError, load_dataset


def test_the_help_text_lists_every_accepted_source():
    for name in NAMED:
        assert f"  {name} " in SOURCES
    for prefix in ON_DISK:
        assert f"  {prefix}:" in SOURCES


@pytest.mark.parametrize("source, suggestion", [("fashion_mnist", "fashion-mnist"),
                                                ("mnist-1d", "mnist1d"),
                                                ("folders:/data/pets", "folder:/data/pets"),
                                                ("idx", "idx:PATH")])
def test_a_misspelt_source_gets_a_suggestion_and_the_list(source, suggestion):
    with pytest.raises(DataError, match=f"unknown dataset '{source}'; did you mean "
                                        f"'{suggestion}'\\? expected one of mnist1d, digits"):
        load_dataset(source)


def test_an_unrelated_name_gets_the_list_without_a_guess():
    with pytest.raises(DataError) as e:
        load_dataset("imagenet")
    assert "did you mean" not in str(e.value) and "npz:PATH" in str(e.value)


def test_a_prefix_without_a_path_is_refused():
    with pytest.raises(DataError, match="'npz:' names no path; write npz:PATH"):
        load_dataset("npz:")


def test_a_negative_seed_is_refused():
    with pytest.raises(DataError, match="seed -3 is out of range"):
        load_dataset("mnist1d", seed=-3)
