"""Saving FixedArrays (raw words and formats, exactly) and taking arrays from other libraries.

``fxsim.save(file, name=a, ...)`` writes one ``.npz`` holding every array's raw words (in its
container dtype) and a versioned JSON header with the formats; ``fxsim.load(file)`` reads it
back into FixedArrays with the same formats and bits (the words are range-checked, no pickle
is ever loaded).  ``fxsim.from_dlpack(x, fmt, ...)`` takes a DLPack tensor (numpy, and torch or
JAX CPU tensors when they are installed) without copying it and casts it into ``fmt``.

>>> import io as _io, fxsim
>>> buf = _io.BytesIO()
>>> fxsim.save(buf, w=fxsim.cast([0.5, -1.25], "Q4.4"))
>>> _ = buf.seek(0); fxsim.load(buf)["w"]
FixedArray(Q(8,4), [ 0.5 , -1.25])
"""
from __future__ import annotations

import json

import numpy as np

from .fixed import FixedArray
from .ops import cast
from .qformat import QFormat

FORMAT_VERSION = 1
_HEADER = "__fxsim__"


def save(file, *arrays, **named) -> None:
    """Write FixedArrays to ``file`` (a path or a binary file object) as one ``.npz``: the
    positional ones as ``arr_0``, ``arr_1``, ..., the keyword ones under their names.

    >>> import io
    >>> buf = io.BytesIO()
    >>> save(buf, FixedArray([1, -1], "Q(4,2)"), bias=FixedArray([7], "UQ(3,0)"))
    >>> _ = buf.seek(0); sorted(load(buf))
    ['arr_0', 'bias']
    """
    items = {f"arr_{i}": a for i, a in enumerate(arrays)}
    for name, a in named.items():
        if name in items or name == _HEADER:
            raise ValueError(f"save: the name {name!r} is used twice (or reserved)")
        items[name] = a
    if not items:
        raise ValueError("save: give at least one FixedArray")
    formats = {}
    words = {}
    for name, a in items.items():
        if not isinstance(a, FixedArray):
            raise ValueError(f"save: {name} must be a FixedArray, got {type(a).__name__} "
                             "(cast arrays first, fxsim.cast(x, fmt))")
        f = a.fmt
        formats[name] = {"wl": f.wl, "fl": f.fl, "signed": f.signed, "shape": list(a.shape)}
        words[name] = np.ascontiguousarray(a.raw)
    header = json.dumps({"fxsim_npz": FORMAT_VERSION, "arrays": formats})
    np.savez(file, **{_HEADER: np.array(header)}, **words)


def load(file) -> dict:
    """The FixedArrays of a file written by ``save``, as {name: FixedArray}; a ValueError for
    a file that is not one (or of a newer version), or whose words do not fit their format.

    >>> import io
    >>> buf = io.BytesIO()
    >>> save(buf, w=FixedArray([-8, 7], "Q(4,1)"))
    >>> _ = buf.seek(0); load(buf)["w"].raw
    array([-8,  7], dtype=int8)
    """
    with np.load(file, allow_pickle=False) as z:
        if _HEADER not in z.files:
            raise ValueError("load: not an fxsim file (no format header); fxsim.save writes one")
        try:
            header = json.loads(str(z[_HEADER]))
            version = header["fxsim_npz"]
            formats = header["arrays"]
        except (ValueError, KeyError, TypeError) as e:
            raise ValueError(f"load: unreadable fxsim header ({e})") from None
        if version != FORMAT_VERSION:
            raise ValueError(f"load: file version {version!r}; this fxsim reads version "
                             f"{FORMAT_VERSION}")
        out = {}
        for name, spec in formats.items():
            if name not in z.files:
                raise ValueError(f"load: the header names {name!r}, which the file lacks")
            fmt = QFormat(spec["wl"], spec["fl"], spec["signed"])
            raw = z[name]
            if raw.dtype != fmt.dtype or list(raw.shape) != list(spec["shape"]):
                raise ValueError(f"load: {name} holds {raw.dtype} words of shape {raw.shape}; "
                                 f"its format {fmt} needs {fmt.dtype}, shape {tuple(spec['shape'])}")
            out[name] = FixedArray(raw, fmt)        # range-checked copy
    return out


def from_dlpack(x, fmt, rounding=None, overflow=None, *, raw: bool = False,
                **cast_kwargs) -> FixedArray:
    """A DLPack tensor (anything with ``__dlpack__``: numpy arrays, torch or JAX CPU tensors)
    into ``fmt``: the tensor is read in place, without a copy (``numpy.from_dlpack``), then
    cast with ``fxsim.cast`` (``rounding``, ``overflow`` or ``mode=`` and its other keywords,
    the same defaults); ``raw=True``
    takes integer tensors as raw words of ``fmt`` instead (range-checked).  A GPU tensor is
    refused by DLPack itself: move it to the CPU first.

    >>> import numpy as np
    >>> from_dlpack(np.array([0.3, 9.0]), "Q4.4").raw        # nearest_even, saturate
    array([  5, 127], dtype=int8)
    """
    if not hasattr(x, "__dlpack__"):
        raise ValueError(f"from_dlpack: x must have __dlpack__ (a DLPack tensor), got "
                         f"{type(x).__name__}")
    try:
        arr = np.from_dlpack(x)
    except (BufferError, RuntimeError, TypeError) as e:
        raise ValueError(f"from_dlpack: cannot read x in place ({e}); move it to the CPU or "
                         "pass numpy's copy of it to fxsim.cast") from None
    if raw:
        if arr.dtype.kind not in "iu":
            raise ValueError(f"from_dlpack: raw=True takes integer words, got dtype {arr.dtype}")
        return FixedArray(arr, fmt)
    for name, value in (("rounding", rounding), ("overflow", overflow)):
        if value is not None:
            cast_kwargs[name] = value
    return cast(arr, fmt, **cast_kwargs)
