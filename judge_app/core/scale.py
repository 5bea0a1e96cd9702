"""The rating scale people read: 400 * theta / ln(10) + 1000, optionally anchored, and ranks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from judge_app.core.counts import FloatArray
from judge_app.errors import ValidationError

RATING_SCALE = 400 / math.log(10)  # a 400-point gap means 10:1 odds, as in Elo
BASE_RATING = 1000.0


def to_rating(theta: FloatArray, shift: float = 0.0) -> FloatArray:
    return BASE_RATING + RATING_SCALE * np.asarray(theta, dtype=np.float64) + shift


def anchor_shift(
    models: Sequence[str], theta: FloatArray, anchor: tuple[str, float] | None,
) -> float:
    """The constant that puts the anchor model at its given rating (0 without an anchor).

    Only the whole scale moves: intervals keep their widths, and the anchor model keeps its
    own uncertainty (the usual mean-zero convention, then a shift).
    """
    if anchor is None:
        return 0.0
    name, value = anchor
    if name not in models:
        raise ValidationError(f"anchor model {name!r} has no battles", field="anchor")
    own = theta[list(models).index(name)]
    if not np.isfinite(own):
        raise ValidationError(f"anchor model {name!r} is unrated", field="anchor")
    return float(value - to_rating(own))


def parse_anchor(text: str) -> tuple[str, float]:
    """`MODEL=RATING` (the model name may itself contain '=')."""
    name, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = math.nan
    if not sep or not name or not math.isfinite(rating):
        raise ValidationError(f"anchor must look like MODEL=RATING, not {text!r}", field="anchor")
    return name, rating


def interval_ranks(lower: FloatArray, upper: FloatArray) -> pd.Series:
    """1 + the number of models whose lower bound exceeds this model's upper bound.

    Models whose intervals overlap share a rank; NaN bounds (unrated) give no rank.
    """
    lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    valid = ~(np.isnan(lower) | np.isnan(upper))
    above = (lower[None, valid] > upper[:, None]).sum(1)
    ranks = pd.Series(pd.array([pd.NA] * len(lower), dtype="Int64"))
    ranks[valid] = 1 + above[valid]
    return ranks
