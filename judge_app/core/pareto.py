"""Pareto frontier for quality against cost (or latency): the models worth considering."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def pareto_front(cost: ArrayLike, quality: ArrayLike) -> np.ndarray:
    """Mask of points no other point dominates (costs no more and is no worse, and is strictly
    better in one of the two). Points with a missing (NaN) cost or quality are never on it;
    identical points are both on it."""
    c = np.asarray(cost, dtype=float)
    q = np.asarray(quality, dtype=float)
    if c.shape != q.shape or c.ndim != 1:
        raise ValueError("cost and quality must be 1-d arrays of the same length")
    on = np.zeros(len(c), dtype=bool)
    known = np.flatnonzero(np.isfinite(c) & np.isfinite(q))
    # cheapest first, best first within a cost: a point is dominated exactly when an earlier
    # one is better, or as good and strictly cheaper
    order = known[np.lexsort((-q[known], c[known]))]
    best_q, best_c = -np.inf, np.inf
    for i in order:
        if q[i] > best_q:
            best_q, best_c = q[i], c[i]
            on[i] = True
        elif q[i] == best_q and c[i] == best_c:
            on[i] = True
    return on
