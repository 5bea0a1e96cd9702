"""Online Elo, for comparison with older leaderboards.

Each battle moves both ratings by K * (score - expected) in time order, so the result depends
on the order and forgets early battles: a worse estimator than Bradley-Terry for models that
do not change, kept because people know it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from judge_app.core.counts import count_battles
from judge_app.errors import ValidationError

_SCORE = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}


def online_elo(
    battles: pd.DataFrame,
    *,
    k: float = 4.0,
    initial: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
) -> pd.Series:
    """Elo ratings after every battle, replayed in `created_at` order (stable; else row order).

    Needs one row per battle: grouped rows (a count column `n`) have no order to replay.
    Weights and strength are ignored: Elo has no place for them.
    """
    if "n" in battles.columns and (battles["n"].fillna(1) != 1).any():
        raise ValidationError("online Elo needs one row per battle, not grouped counts", field="n")
    counts = count_battles(battles)  # validates columns and outcomes, fixes the model order
    if "created_at" in battles.columns:
        battles = battles.sort_values("created_at", kind="stable")
    index = pd.Index(counts.models)
    ia = index.get_indexer(pd.Index(battles["model_a"].astype(str))).tolist()
    ib = index.get_indexer(pd.Index(battles["model_b"].astype(str))).tolist()
    score = battles["outcome"].map(_SCORE).tolist()
    rating = [initial] * len(index)
    for a, b, s in zip(ia, ib, score, strict=True):
        if a == b:
            continue
        expected = 1 / (1 + base ** ((rating[b] - rating[a]) / scale))
        delta = k * (s - expected)
        rating[a] += delta
        rating[b] -= delta
    return pd.Series(np.array(rating), index=index, name="elo")
