"""A quadratic with its eigenbasis on the axes (the GD study's quadratic,
``fxsim.studies.gd_rounding``)."""
from __future__ import annotations

import numpy as np

from .quadratic import Quadratic

__all__ = ["AlignedQuadratic"]


class AlignedQuadratic(Quadratic):
    """``fxsim.models.Quadratic`` with its eigenbasis on the axes (A = diag(λ)): the same
    eigenvalues, minimizer and start points; components evolve independently, so the
    round-to-nearest stagnation bounds hold per component.

    >>> q = AlignedQuadratic(d=3, cond=4.0)
    >>> bool(np.allclose(q.A, np.diag(q.eigs))), q.eigs.tolist()
    (True, [1.0, 2.0, 4.0])
    """

    def __init__(self, **kw):
        super().__init__(**kw)
        self.Q = np.eye(self.dim)
        self.A = np.diag(self.eigs)
        self._cache = {}

    def __repr__(self):
        return "Aligned" + super().__repr__()
