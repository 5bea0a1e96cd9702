"""Simulated battles from known ratings, shared by the rating tests and the benchmark."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_battles(
    theta: np.ndarray,
    n: int,
    *,
    seed: int,
    nu: float = 0.0,
) -> pd.DataFrame:
    """Battles between random distinct pairs; outcomes from Davidson's model (nu=0: plain BT).

    Names are model-000, model-001, ... in the order of `theta`.
    """
    rng = np.random.default_rng(seed)
    m = len(theta)
    names = np.array([f"model-{i:03d}" for i in range(m)])
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    d = theta[a] - theta[b]
    denom = np.exp(d / 2) + np.exp(-d / 2) + nu
    p_a, p_tie = np.exp(d / 2) / denom, nu / denom
    u = rng.random(n)
    outcome = np.where(u < p_a, "a", np.where(u < p_a + p_tie, "tie", "b"))
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "outcome": outcome})
