"""Saving and exchange (issue 19): pickle and fxsim.save/load keep formats and raw words
exactly; from_dlpack reads a DLPack tensor in place; to_columns; bit-level operations and
printing against the reference's bin/hex strings."""
import importlib.util
import io
import json
import pickle

import numpy as np
import pytest

import fxsim
from conftest import fixed, raws_of
from reference import fmt_range, ref_bin, ref_hex

FORMATS = [(1, 0, True), (1, 0, False), (7, 3, True), (8, 8, False), (12, -3, True),
           (16, 20, True), (33, 5, False), (53, 0, True), (63, 40, True), (64, 0, True),
           (64, 64, False)]


def sample(fmt, shape=(2, 3)):
    lo, hi = fmt_range(fmt[0], fmt[2])
    rng = np.random.default_rng(fmt[0] * 1000 + fmt[1])
    n = int(np.prod(shape))
    raws = [lo, hi, 0] + [lo + int(rng.integers(0, 2**62)) % (hi - lo + 1) for _ in range(n - 3)]
    return fixed(fxsim, np.array(raws[:n], dtype=object).reshape(shape), fmt)


@pytest.mark.parametrize("fmt", FORMATS, ids=str)
def test_pickle_round_trip(fmt):
    a = sample(fmt)
    for x in (a, a.T, a[0, 1], a[:, ::2]):
        y = pickle.loads(pickle.dumps(x))
        assert y.identical(x) and y.raw.dtype == x.raw.dtype and y.fmt == x.fmt


def test_save_load_round_trip(tmp_path):
    arrays = {f"a{i}": sample(f) for i, f in enumerate(FORMATS)}
    path = tmp_path / "w.npz"
    fxsim.save(path, sample(FORMATS[2], (4,)), **arrays)
    got = fxsim.load(path)
    assert set(got) == {"arr_0", *arrays}
    for name, a in arrays.items():
        assert got[name].identical(a) and got[name].raw.dtype == a.fmt.dtype
    assert raws_of(got["arr_0"]) == raws_of(sample(FORMATS[2], (4,)))
    with np.load(path) as z:                 # raw words and a versioned header, no pickle
        header = json.loads(str(z["__fxsim__"]))
        assert header["fxsim_npz"] == 1
        assert header["arrays"]["a9"] == {"wl": 64, "fl": 0, "signed": True, "shape": [2, 3]}
        assert np.array_equal(z["a4"], arrays["a4"].raw)


def _rewrite(buf, **changes):
    with np.load(buf) as z:
        items = {k: z[k] for k in z.files}
    items.update(changes)
    out = io.BytesIO()
    np.savez(out, **items)
    out.seek(0)
    return out


def test_load_refuses_what_is_not_its_own():
    buf = io.BytesIO()
    fxsim.save(buf, w=sample((8, 4, True)))
    buf.seek(0)
    header = json.loads(str(np.load(buf)["__fxsim__"]))
    buf.seek(0)
    newer = _rewrite(buf, __fxsim__=np.array(json.dumps(dict(header, fxsim_npz=2))))
    with pytest.raises(ValueError, match="version 2"):
        fxsim.load(newer)
    buf.seek(0)
    with pytest.raises(ValueError, match="outside"):       # a word out of its format's range
        bad = np.full((2, 3), 127, np.int8)
        hdr = dict(header, arrays={"w": {"wl": 4, "fl": 0, "signed": True, "shape": [2, 3]}})
        fxsim.load(_rewrite(buf, w=bad, __fxsim__=np.array(json.dumps(hdr))))
    plain = io.BytesIO()
    np.savez(plain, w=np.zeros(3))
    plain.seek(0)
    with pytest.raises(ValueError, match="not an fxsim file"):
        fxsim.load(plain)
    with pytest.raises(ValueError, match="FixedArray"):
        fxsim.save(io.BytesIO(), w=np.zeros(3))


class DLPackOnly:
    """A tensor of another library, seen only through DLPack (as torch/JAX CPU tensors are)."""

    def __init__(self, arr):
        self._arr = arr

    def __dlpack__(self, **kw):
        return self._arr.__dlpack__(**kw)

    def __dlpack_device__(self):
        return self._arr.__dlpack_device__()


def test_from_dlpack_reads_in_place():
    x = np.array([0.1, -2.5, 300.0, 1 / 3])
    seen = []
    real_cast = fxsim.io.cast

    def spy(arr, *args, **kw):
        seen.append(np.shares_memory(arr, x))
        return real_cast(arr, *args, **kw)
    fxsim.io.cast = spy
    try:
        got = fxsim.from_dlpack(DLPackOnly(x), "Q8.8", "nearest_even", "saturate")
    finally:
        fxsim.io.cast = real_cast
    assert seen == [True]                                   # no copy of the tensor
    assert got.identical(fxsim.cast(x, "Q8.8", "nearest_even", "saturate"))
    assert np.array_equal(x, [0.1, -2.5, 300.0, 1 / 3])     # and it is left unchanged
    words = fxsim.from_dlpack(DLPackOnly(np.array([3, -2], np.int32)), "Q(8,4)", raw=True)
    assert raws_of(words) == [3, -2] and words.raw.dtype == np.int8
    with pytest.raises(ValueError, match="__dlpack__"):
        fxsim.from_dlpack([1.0], "Q8.8")
    with pytest.raises(ValueError, match="integer"):
        fxsim.from_dlpack(np.ones(2), "Q8.8", raw=True)


def test_to_columns_and_frame():
    a = sample((12, 4, True))
    cols = a.to_columns()
    assert list(cols) == ["i0", "i1", "raw", "hex", "float"]
    assert cols["raw"].tolist() == raws_of(a)
    assert cols["hex"].tolist() == [ref_hex(m, 12) for m in raws_of(a)]
    assert cols["float"].tolist() == [m / 16 for m in raws_of(a)]
    assert cols["i1"].tolist() == [0, 1, 2, 0, 1, 2]
    if importlib.util.find_spec("pandas") is None:
        with pytest.raises(ImportError, match="to_columns"):
            a.to_frame()
    else:
        assert a.to_frame()["raw"].tolist() == raws_of(a)


@pytest.mark.parametrize("fmt", [(8, 4, True), (12, 0, False), (64, 3, True), (5, 1, True)],
                         ids=str)
def test_bit_operations(fmt):
    a, b = sample(fmt, (6,)), sample(fmt, (6,))[::-1]
    wl = fmt[0]
    bins_a = [ref_bin(m, wl) for m in raws_of(a)]
    bins_b = [ref_bin(m, wl) for m in raws_of(b)]
    hi, lo = wl - 1, wl // 2
    s = a.bits[hi:lo]
    assert (s.fmt.wl, s.fmt.fl, s.fmt.signed) == (hi - lo + 1, 0, False)
    assert raws_of(s) == [int(t[wl - 1 - hi:wl - lo], 2) for t in bins_a]
    assert raws_of(a.bits[0]) == [int(t[-1]) for t in bins_a]
    signed = fmt[2]

    def word(bits):              # a bit string read back in the format (two's complement)
        m = int(bits, 2)
        return m - (1 << wl) if signed and bits[0] == "1" else m
    for op, f in (("&", lambda x, y: x & y), ("|", lambda x, y: x | y), ("^", lambda x, y: x ^ y)):
        got = {"&": a & b, "|": a | b, "^": a ^ b}[op]
        want = [word(format(f(int(x, 2), int(y, 2)), f"0{wl}b")) for x, y in zip(bins_a, bins_b)]
        assert got.fmt == a.fmt and raws_of(got) == want, op
    assert raws_of(~a) == [word("".join("1" if c == "0" else "0" for c in t)) for t in bins_a]
    other = fxsim.QFormat(wl, 2, not signed)
    assert raws_of(a.reinterpret(other)) == [
        int(t, 2) - (1 << wl) if other.signed and t[0] == "1" else int(t, 2) for t in bins_a]
    if 2 * wl <= 64:
        c = fxsim.bitcat(a, b)
        assert raws_of(c) == [int(x + y, 2) for x, y in zip(bins_a, bins_b)]
    else:
        with pytest.raises(ValueError, match="64"):
            fxsim.bitcat(a, b)
    with pytest.raises(ValueError, match="hi >= lo"):
        a.bits[0:1]
    with pytest.raises(ValueError, match="reinterpret"):
        a.reinterpret(fxsim.QFormat(wl + 1 if wl < 64 else 1, 0))


def test_printing():
    a = fxsim.FixedArray(np.array([3, -2, 127]), "Q4.4")
    assert repr(a) == "FixedArray(Q(8,4), [ 0.1875, -0.125 ,  7.9375])"
    assert repr(a[0]) == "FixedArray(Q(8,4), 0.1875)"
    with fxsim.printoptions(view="hex"):
        assert repr(a) == f"FixedArray(Q(8,4), hex=[{', '.join(ref_hex(m, 8) for m in [3, -2, 127])}])"
    with fxsim.printoptions(view="bin"):
        assert ref_bin(-2, 8) in repr(a)
    with fxsim.printoptions(view="raw"):
        assert repr(a) == "FixedArray(Q(8,4), raw=[3, -2, 127])"
    long = fxsim.FixedArray(np.arange(5000) % 100, "Q(8,1)")
    assert "..." in repr(long) and len(repr(long)) < 400
    assert repr(fxsim.FixedArray([8, 12], "UQ(4,-1)")) == "FixedArray(UQ(4,-1), [16, 24])"
    assert repr(fxsim.FixedArray([2**64 - 1], "UQ(64,-2)")) == \
        f"FixedArray(UQ(64,-2), [{(2**64 - 1) * 4}])"                 # exact integers
    with pytest.raises(ValueError, match="view"):
        fxsim.set_printoptions(view="octal")
    assert fxsim.get_printoptions()["view"] == "value"
