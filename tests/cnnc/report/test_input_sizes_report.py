"""The `--input-sizes` report: size lists compressed without loss, the table and the JSON."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cnnc.compiler import scan_input_sizes
from cnnc.report.input_sizes import LEGEND, describe, progressions, render_sizes, sizes_json


@given(st.sets(st.integers(1, 200)))
def test_progressions_give_back_every_size_and_no_other(sizes):
    pieces = progressions(sorted(sizes))
    assert sorted(n for r in pieces for n in r) == sorted(sizes)


def test_sizes_read_as_runs_progressions_and_repeats():
    assert describe([]) == "none"
    assert describe([5]) == "5"
    assert describe([188, 204]) == "188, 204"
    assert describe(list(range(188, 1021, 16))) == "188..1020 step 16"
    assert describe([1, 2, 3, 7, 9, 11, 20]) == "1..3, 7..11 step 2, 20"
    # the gaps are the shorter list
    assert describe([n for n in range(189, 1025) if (n - 188) % 16]) == (
        "189..1024 except 204..1020 step 16")
    # runs of 4 every 32 (DenseNet's transitions)
    runs = [n for n in range(29, 1025) if n % 32 in (29, 30, 31, 0)]
    assert describe(runs) == "29..32, 61..64, ..., 1021..1024 (every 32)"


def test_a_long_list_says_how_many_sizes_it_leaves_out():
    scattered = [n * n for n in range(1, 20)]
    text = describe(scattered)
    assert text.startswith("1, 4, 9, 16, 25, 36, 49, 64, and 11 more")


def test_the_table_of_unet_original():
    text = render_sizes(scan_input_sizes("unet_original", range(100, 701)))
    assert text.splitlines() == [
        "unet_original: input 1xNxN, N from 100 to 700",
        "  fit          33 sizes  188..700 step 16",
        "  pool drops  480 sizes  189..699 except 204..684 step 16",
        "  fail         88 sizes  100..187",
        LEGEND,
        "the given input 1x572x572 fits",
    ]


def test_the_json_lists_every_size_as_triples():
    report = scan_input_sizes("unet_original", range(100, 701), (3, 573, 573))
    doc = sizes_json(report)
    assert (doc["format"], doc["version"], doc["name"]) == ("cnnc.input_sizes", 1,
                                                            "unet_original")
    assert doc["input_shape"] == [3, 573, 573] and doc["input_status"] == "drops"
    (scan,) = doc["scans"]
    assert (scan["axes"], scan["first"], scan["last"]) == ([1, 2], 100, 700)
    assert scan["fits"] == {"count": 33, "ranges": [[188, 700, 16]]}
    assert scan["fails"] == {"count": 88, "ranges": [[100, 187, 1]]}
    for status, sizes in (("fits", report.scans[0].fits), ("drops", report.scans[0].drops)):
        listed = [n for first, last, step in scan[status]["ranges"]
                  for n in range(first, last + 1, step)]
        assert listed == list(sizes) and scan[status]["count"] == len(sizes)
