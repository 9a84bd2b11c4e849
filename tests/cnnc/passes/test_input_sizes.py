"""The input-size scan: U-Net's rule worked out by hand, agreement with a full compile at each
size, and the hint a merge that fails gets."""

from __future__ import annotations

import time

import pytest

from cnnc import CnncError, compile_file, compile_text
from cnnc.compiler import scan_input_sizes
from cnnc.errors import ShapeError


def unet_status(n: int) -> str:
    """unet_original at n x n by the paper's arithmetic: two valid 3x3 convs take 4 pixels,
    a 2x2 pool halves (dropping an odd pixel), an up-conv doubles, the crop needs the skip at
    least as large as the up-conv's output."""
    drops, skips, a = False, [], n
    for level in range(5):
        if level:
            drops = drops or a % 2 == 1
            a //= 2
        a -= 4
        if a < 1:
            return "fails"
        skips.append(a)
    for skip in reversed(skips[:-1]):
        a *= 2
        if skip < a or a - 4 < 1:
            return "fails"
        a -= 4
    return "drops" if drops else "fits"


@pytest.fixture(scope="module")
def unet():
    return scan_input_sizes("unet_original", range(1, 1201))


def test_unet_original_fits_the_papers_sizes(unet):
    (scan,) = unet.scans
    assert scan.axis is None and unet.base == (1, 572, 572) and unet.base_status == "fits"
    for status in ("fits", "drops", "fails"):
        assert list(getattr(scan, status)) == [n for n in range(1, 1201)
                                               if unet_status(n) == status]
    # the rule as the paper states it: 572 = 188 + 16 * 24, and every 16 sizes from 188
    assert list(scan.fits) == list(range(188, 1201, 16))
    assert scan.status(572) == "fits" and scan.status(573) == "drops"


NETS = {
    "unet_original": None,
    "skip_after_two_pools": """
name: skip_after_two_pools
input: [1, 32, 32]
layers:
  - {id: stem, op: conv, out: 4, kernel: 3, padding: 1}
  - {id: pool1, op: maxpool, kernel: 2}
  - {id: pool2, op: maxpool, kernel: 2}
  - {id: up, op: upsample, scale: 4}
  - {id: cat, op: concat, from: [stem, up]}
""",
}


def compile_at(name: str, n: int):
    text = NETS[name]
    if text is None:
        return compile_file(name, (1, n, n))
    return compile_text(text, "net.yaml", (1, n, n))


@pytest.mark.parametrize("name", NETS)
def test_the_scan_says_what_a_full_compile_does(name, tmp_path):
    """fails: the compile raises; drops: it warns; fits: neither."""
    spec = name if NETS[name] is None else tmp_path / "net.yaml"
    if NETS[name] is not None:
        spec.write_text(NETS[name])
    (scan,) = scan_input_sizes(spec, range(1, 400)).scans
    for n in range(1, 400, 7):
        try:
            warned = bool(compile_at(name, n).warnings)
        except CnncError:
            assert scan.status(n) == "fails", n
        else:
            assert scan.status(n) == ("drops" if warned else "fits"), n


def test_a_merge_that_fails_names_the_nearest_sizes_that_fit(tmp_path):
    with pytest.raises(ShapeError) as e:
        compile_at("skip_after_two_pools", 30)
    (d,) = e.value.diagnostics
    assert (d.kind, d.span.line) == ("shape", 9)
    # two 2x2 pools and an upsample by 4 give the skip's size back for multiples of 4 only
    below, above = 30 // 4 * 4, -(-30 // 4) * 4
    assert d.notes[-1] == (None, (f"this network fits inputs of {below}x{below} or "
                                  f"{above}x{above} (every 4); `cnnc compile net.yaml "
                                  "--input-sizes` lists them"))
    assert d.hint.startswith("crop or pad the larger input")  # the other fix, kept


def test_a_non_square_input_moves_each_axis_to_its_nearest_fit():
    text = NETS["skip_after_two_pools"]
    with pytest.raises(ShapeError) as e:
        compile_text(text, "net.yaml", (1, 31, 45))
    assert "fits inputs of 28x44 or 32x48 (every 4)" in e.value.diagnostics[0].notes[-1][1]
    with pytest.raises(ShapeError) as e:  # the height fits: only the width moves
        compile_text(text, "net.yaml", (1, 32, 45))
    assert "fits inputs of 32x44 or 32x48 (every 4)" in e.value.diagnostics[0].notes[-1][1]


def test_a_zoo_spec_is_named_in_the_hint_as_the_user_types_it():
    with pytest.raises(ShapeError) as e:
        compile_file("unet_milesial", (3, 250, 250))
    assert e.value.diagnostics[0].notes[-1] == (None, (
        "this network fits inputs of 240x240 or 256x256 (every 16); "
        "`cnnc compile unet_milesial --input-sizes` lists them"))


def test_a_gate_mistake_keeps_the_gate_hint_beside_the_sizes():
    """A `mul` whose gate has the wrong shape: the sizes that would fit are a note, and the
    hint stays the one about broadcasting (issue: `mul` gets a hint about broadcasting)."""
    text = """
name: gate
input: [8, 32, 32]
layers:
  - {id: maps, op: conv, out: 8, kernel: 3}
  - {id: pooled, op: maxpool, kernel: 2}
  - {op: mul, from: [maps, pooled]}
"""
    with pytest.raises(ShapeError) as e:
        compile_text(text, "net.yaml")
    (d,) = e.value.diagnostics
    assert d.hint.startswith("a gate broadcasts over the axes where it has size 1")
    assert d.notes[-1][0] is None and d.notes[-1][1].startswith("this network fits inputs of")


def test_a_merge_no_size_can_mend_keeps_its_own_hint():
    text = """
name: channels_disagree
input: [3, 16, 16]
layers:
  - {id: a, op: conv, out: 4, kernel: 1}
  - {id: b, op: conv, out: 8, kernel: 1, from: input}
  - {op: add, from: [a, b]}
"""
    with pytest.raises(ShapeError) as e:
        compile_text(text, "net.yaml")
    assert e.value.diagnostics[0].hint.startswith("add a 1x1 conv")


def test_a_non_square_input_is_scanned_one_axis_at_a_time(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(NETS["skip_after_two_pools"])
    report = scan_input_sizes(spec, range(1, 65), (1, 32, 48))
    assert [s.axis for s in report.scans] == [1, 2]
    for s in report.scans:
        assert s.base == (1, 32, 48) and list(s.fits) == list(range(4, 65, 4))
        assert not s.drops  # a pool that would drop a row breaks the concat first
    # the width held at 45, no height fits
    (h, w) = scan_input_sizes(spec, range(1, 65), (1, 32, 45)).scans
    assert not h.fits and not h.drops and list(w.fits) == list(range(4, 65, 4))


def test_a_spec_whose_blocks_read_the_input_shape_is_expanded_again_at_each_size(tmp_path):
    """A conv as wide as its input: at 8x8 its kernel is 8, at 5x5 it is 5, so every size fits
    (on the graph made for 8x8 alone, sizes under 8 would fail)."""
    spec = tmp_path / "net.yaml"
    spec.write_text("name: n\ninput: [1, 8, 8]\nblocks:\n  whole:\n    layers:\n"
                    "      - {op: conv, out: 4, kernel: $in.height}\n"
                    "layers:\n  - {block: whole}\n")
    (scan,) = scan_input_sizes(spec, range(1, 17)).scans
    assert list(scan.fits) == list(range(1, 17)) and not scan.drops and not scan.fails


def test_a_spec_that_fits_no_size_fails_as_at_its_own_size(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text("name: n\ninput: [3, 8, 8]\nlayers:\n  - {op: conv, out: 4, kernel: 1}\n"
                    "  - {op: add, from: [conv_1, input]}\n")
    with pytest.raises(ShapeError, match="add inputs must have equal shapes"):
        scan_input_sizes(spec)


def test_a_vector_input_has_no_sizes_to_scan():
    with pytest.raises(CnncError, match="no spatial sizes"):
        scan_input_sizes("highway_mlp")


def test_the_default_range_is_one_to_four_times_the_input():
    (scan,) = scan_input_sizes("mnist1d_cnn").scans
    assert scan.sizes == range(1, 161)


@pytest.mark.parametrize("name", ["unet_original", "resnet50"])
def test_scanning_a_thousand_sizes_takes_well_under_a_few_seconds(name):
    # a full compile per size takes 10-30 ms for these, so tens of seconds for 1..1024
    start = time.perf_counter()
    scan_input_sizes(name, range(1, 1025))
    assert time.perf_counter() - start < 5


def test_fits_that_are_not_evenly_spaced_get_no_period():
    # DenseNet fits 221..224 and 253..256 (the stem halves twice, three 2x2 pools follow)
    w = compile_file("densenet121", (3, 225, 225)).warnings[0]
    assert w.hint.endswith("or give an input of 224x224 or 253x253")
