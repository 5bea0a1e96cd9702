"""Count first: battles become models x models tables, so a fit costs the same for any volume.

Input frames have one row per battle (`model_a`, `model_b`, `outcome`, optional `strength`,
`weight`) or one row per group of identical battles with a count column `n` (what a SQL
GROUP BY gives). `both_bad` counts as a tie for ratings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from judge_app.errors import ValidationError

if TYPE_CHECKING:  # pandas only for frames: `gate` counts plain rows and starts without it
    import pandas as pd

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

# Column of the (a won, b won, tie) triple that each outcome lands in.
_OUTCOME_COLUMN = {"a": 0, "b": 1, "tie": 2, "both_bad": 2}


@dataclass(frozen=True, eq=False)
class PairCounts:
    """Battle counts between every two models, in the order of `models`.

    `wins[i, j]` is the total weight of battles model i won against model j; `ties` is
    symmetric. The `*_sq` tables hold sums of squared weights (the sandwich variance needs
    them; they equal the plain tables when every weight is 1). `n_wins` and `n_ties` are raw
    battle counts, for display and for resampling.
    """

    models: tuple[str, ...]
    wins: FloatArray
    ties: FloatArray
    wins_sq: FloatArray
    ties_sq: FloatArray
    n_wins: IntArray
    n_ties: IntArray

    def index(self, model: str) -> int:
        try:
            return self.models.index(model)
        except ValueError:
            raise ValidationError(f"unknown model {model!r}", field="model") from None

    @property
    def n_battles(self) -> IntArray:
        """Raw number of battles each model took part in."""
        return (self.n_wins.sum(1) + self.n_wins.sum(0) + self.n_ties.sum(1)).astype(np.int64)

    @property
    def n_pair(self) -> IntArray:
        """Raw number of battles between each two models (symmetric)."""
        return (self.n_wins + self.n_wins.T + self.n_ties).astype(np.int64)


def count_battles(
    battles: pd.DataFrame,
    *,
    models: Sequence[str] | None = None,
    strong_weight: float = 1.0,
) -> PairCounts:
    """Aggregate a battle frame (per battle, or grouped with a count column `n`).

    Each row stands for `n` battles (default 1) of weight `weight` (default 1), multiplied by
    `strong_weight` when `strength == 2` ("much better"). `models` fixes the order and may list
    models without battles; by default the sorted names seen. Rows pitting a model against
    itself carry no information and are dropped.
    """
    for column in ("model_a", "model_b", "outcome"):
        if column not in battles.columns:
            raise ValidationError(f"battle frame lacks column {column!r}", field=column)
    if strong_weight <= 0:
        raise ValidationError("strong_weight must be positive", field="strong_weight")

    import pandas as pd

    outcome_codes, outcome_values = pd.factorize(battles["outcome"])
    unknown = [v for v in outcome_values if v not in _OUTCOME_COLUMN]
    if unknown or (outcome_codes < 0).any():
        raise ValidationError(f"unknown outcome values {unknown or [None]}", field="outcome")
    slot = np.array([_OUTCOME_COLUMN[v] for v in outcome_values], dtype=np.int64)[outcome_codes]

    names = _model_order(battles, models)
    ia, ib = _model_codes(battles["model_a"], names), _model_codes(battles["model_b"], names)
    if (ia < 0).any() or (ib < 0).any():
        raise ValidationError("battle frame names models missing from the model list",
                              field="model")

    n, weight = counts_and_weights(battles, strong_weight, "battle")

    return _tables(names, ia, ib, slot, n, weight)


def count_rows(rows: Iterable[tuple[str, str, str, int | None, int]]) -> PairCounts:
    """`count_battles` of grouped rows (model_a, model_b, outcome, strength, n), as a SQL
    GROUP BY returns them as tuples, with every weight 1: the same tables, bit for bit, for
    rows in the same order, without pandas (so `judge-app gate` starts fast)."""
    grouped = list(rows)
    for row in grouped:
        if row[2] not in _OUTCOME_COLUMN:
            raise ValidationError(f"unknown outcome values {[row[2]]}", field="outcome")
    names = sorted({str(r[0]) for r in grouped} | {str(r[1]) for r in grouped})
    code = {name: i for i, name in enumerate(names)}
    ia = np.array([code[str(r[0])] for r in grouped], dtype=np.int64)
    ib = np.array([code[str(r[1])] for r in grouped], dtype=np.int64)
    slot = np.array([_OUTCOME_COLUMN[r[2]] for r in grouped], dtype=np.int64)
    n = np.array([r[4] for r in grouped], dtype=np.float64)
    if (n < 0).any():
        raise ValidationError("battle counts must be non-negative integers", field="n")
    return _tables(names, ia, ib, slot, n, np.full(len(grouped), 1.0))


def _tables(names: list[str], ia: IntArray, ib: IntArray, slot: IntArray, n: FloatArray,
            weight: FloatArray) -> PairCounts:
    keep = ia != ib
    m = len(names)
    cell = (ia[keep] * m + ib[keep]) * 3 + slot[keep]
    size = m * m * 3
    n, weight = n[keep], weight[keep]

    def table(values: FloatArray) -> FloatArray:
        return np.bincount(cell, weights=values, minlength=size).astype(np.float64).reshape(m, m, 3)

    w, w_sq, raw = table(n * weight), table(n * weight**2), table(n)
    wins, wins_sq, n_wins = (t[:, :, 0] + t[:, :, 1].T for t in (w, w_sq, raw))
    ties, ties_sq, n_ties = (t[:, :, 2] + t[:, :, 2].T for t in (w, w_sq, raw))
    return PairCounts(
        models=tuple(names), wins=wins, ties=ties, wins_sq=wins_sq, ties_sq=ties_sq,
        n_wins=np.rint(n_wins).astype(np.int64), n_ties=np.rint(n_ties).astype(np.int64),
    )


def _model_order(battles: pd.DataFrame, models: Sequence[str] | None) -> list[str]:
    import pandas as pd

    if models is not None:
        names = [str(m) for m in models]
        if len(set(names)) != len(names):
            raise ValidationError("model list has duplicates", field="models")
        return names
    seen = pd.unique(pd.concat([_as_series(battles["model_a"]), _as_series(battles["model_b"])],
                               ignore_index=True))
    return sorted(str(m) for m in seen)


def _as_series(column: pd.Series) -> pd.Series:
    import pandas as pd

    # Categorical columns (DuckDB/Arrow dictionaries) are decoded through their small category list.
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        return pd.Series(column.cat.categories.take(np.unique(codes[codes >= 0])))
    return column


def _model_codes(column: pd.Series, names: list[str]) -> IntArray:
    import pandas as pd

    lookup = pd.Index(names)
    if isinstance(column.dtype, pd.CategoricalDtype):
        per_category = lookup.get_indexer(column.cat.categories.astype(str))
        codes = column.cat.codes.to_numpy()
        return np.where(codes >= 0, per_category[codes], -1).astype(np.int64)
    codes, uniques = pd.factorize(column)
    per_unique = lookup.get_indexer(pd.Index(uniques).astype(str))
    return np.where(codes >= 0, per_unique[codes], -1).astype(np.int64)


def counts_and_weights(frame: pd.DataFrame, strong_weight: float,
                       noun: str) -> tuple[FloatArray, FloatArray]:
    """The frame's `n` and `weight` columns (1 where absent), checked, with `strength` 2 rows
    weighed `strong_weight` times: one rule for battle and verdict frames."""
    n = _column(frame, "n", 1.0)
    if (n < 0).any() or not np.array_equal(n, np.round(n)):
        raise ValidationError(f"{noun} counts must be non-negative integers", field="n")
    weight = _column(frame, "weight", 1.0)
    if (weight < 0).any():
        raise ValidationError("weights must be non-negative", field="weight")
    if "strength" in frame.columns and strong_weight != 1.0:
        weight = np.where(frame["strength"].to_numpy(dtype=np.float64, na_value=np.nan) == 2,
                          weight * strong_weight, weight)
    return n, weight


def _column(battles: pd.DataFrame, name: str, default: float) -> FloatArray:
    if name not in battles.columns:
        return np.full(len(battles), default)
    values = battles[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(values), default, values)
