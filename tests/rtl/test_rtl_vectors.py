"""The section 7 vector-folder helpers (no simulator needed)."""

import os
import sys

for _p in (os.path.dirname(os.path.abspath(__file__)),
           os.path.dirname(os.path.dirname(os.path.abspath(__file__)))):
    if _p not in sys.path:   # this folder's helpers and tests/lfsr_ref.py, any import mode
        sys.path.insert(0, _p)

import json

import pytest

from rtl_vectors import (hex_digits, hex_to_word, read_mem_lines, read_vector_set,
                         word_to_hex, write_vector_set)


@pytest.mark.parametrize("value,wl,signed,text", [
    (0, 1, False, "0"), (1, 1, False, "1"), (-1, 1, True, "1"),
    (-1, 12, True, "fff"), (-2048, 12, True, "800"), (2047, 12, True, "7ff"),
    (5, 13, True, "0005"), (-5, 13, True, "1ffb"), (-128, 8, True, "80"),
    (0xABC, 12, False, "abc"), (10, 5, False, "0a"),
    (-(1 << 63), 64, True, "8000000000000000"), ((1 << 64) - 1, 64, False, "ffffffffffffffff"),
])
def test_word_hex(value, wl, signed, text):
    assert word_to_hex(value, wl, signed) == text
    assert len(text) == hex_digits(wl)
    assert hex_to_word(text, wl, signed) == value


@pytest.mark.parametrize("value,wl,signed", [(8, 4, True), (-9, 4, True), (16, 4, False),
                                             (-1, 4, False)])
def test_word_out_of_range(value, wl, signed):
    with pytest.raises(ValueError):
        word_to_hex(value, wl, signed)


def test_hex_rejects_x_and_wide():
    with pytest.raises(ValueError):
        hex_to_word("x1", 8)
    with pytest.raises(ValueError):
        hex_to_word("1ff", 8)


def test_vector_set_roundtrip(tmp_path):
    folder = str(tmp_path / "v")
    m = write_vector_set(folder, operation="cast", count=3,
                         formats={"x": {"wl": 6, "fl": 2, "signed": True}},
                         inputs={"x": ([-32, 0, 31], 6, True)},
                         outputs={"y": ([1, -1, 0], 3, True)},
                         draws={"rnd": ([0, 5, 31], 5)}, extra={"note": "t"})
    with open(os.path.join(folder, "manifest.json")) as fh:
        assert json.load(fh) == m
    assert m["ports"]["x"]["dir"] == "in" and m["ports"]["y"]["dir"] == "out"
    assert read_mem_lines(os.path.join(folder, "x.mem")) == ["20", "00", "1f"]
    assert read_mem_lines(os.path.join(folder, "y.mem")) == ["1", "7", "0"]
    assert read_mem_lines(os.path.join(folder, "rnd.mem")) == ["00", "05", "1f"]
    with open(os.path.join(folder, "x.mem"), "rb") as fh:
        assert fh.read() == b"20\n00\n1f\n"
    _, data = read_vector_set(folder)
    assert data == {"x": [-32, 0, 31], "y": [1, -1, 0], "rnd": [0, 5, 31]}
