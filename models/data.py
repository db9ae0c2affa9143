"""Data sets: the scikit-learn ones that ship with the package (nothing is downloaded) and a
loader for user data in ``.npz`` (keys ``X``, ``y``) or CSV (last column ``y``)."""
from __future__ import annotations

import csv
import os

import numpy as np

BUILTIN = ("breast_cancer", "digits01", "digits")


def builtin_dataset(name: str):
    """(X, y) float64 / int64 for ``breast_cancer`` (standardized features, y in {0, 1}),
    ``digits01`` (digits 0 vs 1, pixels / 16 in [0, 1], y in {0, 1}) or ``digits`` (all ten
    classes, pixels / 16).

    >>> X, y = builtin_dataset("digits01")
    >>> X.shape, sorted(set(y.tolist())), float(X.max())
    ((360, 64), [0, 1], 1.0)
    """
    if name == "breast_cancer":
        X, y = _bundled("breast_cancer")
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    elif name in ("digits01", "digits"):
        X, y = _bundled("digits")
        X = X / 16.0
        if name == "digits01":
            keep = y <= 1
            X, y = X[keep], y[keep]
    else:
        raise ValueError(f"unknown data set {name!r}; built-in ones: {', '.join(BUILTIN)}")
    return np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)


def _bundled(name: str):
    """scikit-learn's bundled ``breast_cancer`` or ``digits`` (X, y), read from its data files
    the way its loaders read them, without importing scikit-learn (the import takes 4-7 s,
    most of a worker's start-up in ``gd-study --quick``); its loaders if the files moved."""
    import importlib.util
    spec = importlib.util.find_spec("sklearn")
    folder = os.path.join(os.path.dirname(spec.origin), "datasets", "data") if spec and spec.origin else ""
    path = os.path.join(folder, "breast_cancer.csv" if name == "breast_cancer" else "digits.csv.gz")
    if not os.path.isfile(path):
        from sklearn import datasets
        load = datasets.load_breast_cancer if name == "breast_cancer" else datasets.load_digits
        return load(return_X_y=True)
    if name == "breast_cancer":
        with open(path, encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        n, d = int(rows[0][0]), int(rows[0][1])
        a = np.array(rows[1:1 + n])
        return a[:, :d].astype(np.float64), a[:, d].astype(np.int64)
    import gzip
    with gzip.open(path, "rt") as fh:
        a = np.loadtxt(fh, delimiter=",")
    return a[:, :-1], a[:, -1].astype(np.int64)


def _check(X, y, where: str):
    for name, a in (("X", X), ("y", y)):
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise ValueError(f"{where}: {name} must be numeric, got dtype {a.dtype}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"{where}: X must be 2-D (samples, features), got shape {X.shape}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{where}: y must be 1-D (one label per sample), got shape {y.shape}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"{where}: shape mismatch, X has {X.shape[0]} samples and y has "
                         f"{y.shape[0]}")
    if X.shape[0] == 0:
        raise ValueError(f"{where}: no samples")
    for name, a in (("X", X), ("y", y)):
        bad = ~np.isfinite(a)
        if bad.any():
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(f"{where}: {name} has {int(bad.sum())} NaN/inf value(s), the first at "
                             f"index {idx}")
    return X, y


def load_dataset(path):
    """Load user data: ``.npz`` with arrays ``X`` (samples, features) and ``y`` (samples,), or a
    CSV file of numbers whose last column is ``y`` (an optional non-numeric header row is
    skipped).  Returns float64 ``(X, y)``.  Raises ``ValueError`` saying what is wrong: missing
    keys, non-numeric values (with line and column), NaN/inf, ragged rows, shape mismatch,
    unknown extension.

    >>> import os, tempfile
    >>> p = os.path.join(tempfile.mkdtemp(), "d.csv")
    >>> with open(p, "w") as f:
    ...     for line in ("a,b,label", "1,2,0", "3,4,1"):
    ...         print(line, file=f)
    >>> X, y = load_dataset(p)
    >>> X.tolist(), y.tolist()
    ([[1.0, 2.0], [3.0, 4.0]], [0.0, 1.0])
    """
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".npz":
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in ("X", "y") if k not in z.files]
            if missing:
                raise ValueError(f"{path}: missing key(s) {', '.join(missing)}; an .npz data set "
                                 f"needs arrays 'X' and 'y' (found: {', '.join(z.files) or 'none'})")
            try:
                X, y = z["X"], z["y"]
            except ValueError as e:  # object arrays need pickle
                raise ValueError(f"{path}: X and y must be numeric arrays ({e})") from None
        return _check(X, y, path)
    if ext in (".csv", ".txt"):
        rows = []
        with open(path, newline="") as fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                if not row or all(not c.strip() for c in row):
                    continue
                try:
                    vals = [float(c) for c in row]
                except ValueError:
                    if not rows and lineno == 1:
                        continue  # header
                    col = next(i for i, c in enumerate(row) if not _isnum(c))
                    raise ValueError(f"{path}: line {lineno}, column {col + 1}: non-numeric value "
                                     f"{row[col]!r}") from None
                if rows and len(vals) != len(rows[0][1]):
                    raise ValueError(f"{path}: line {lineno} has {len(vals)} columns, expected "
                                     f"{len(rows[0][1])} (line {rows[0][0]})")
                rows.append((lineno, vals))
        if not rows:
            raise ValueError(f"{path}: no numeric rows")
        if len(rows[0][1]) < 2:
            raise ValueError(f"{path}: need at least 2 columns (features..., y), got 1")
        a = np.array([v for _, v in rows], dtype=np.float64)
        return _check(a[:, :-1], a[:, -1], path)
    raise ValueError(f"{path}: unknown data file extension {ext!r}; use .npz (keys X, y) or .csv "
                     f"(last column y)")


def _isnum(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
