"""Win rates: observed and predicted head-to-head matrices, and win rate against a baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from judge_app.core.bradley_terry import RatingFit, expected_score
from judge_app.core.counts import PairCounts
from judge_app.errors import ValidationError

_MODEL_A_SCORE = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}


def observed_win_rates(counts: PairCounts) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(share of battles the row model won against the column model, ties as half; battles).

    Raw battle counts, unweighted: what happened. NaN where two models never met.
    """
    battles = counts.n_pair
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (counts.n_wins + counts.n_ties / 2) / battles
    rate[battles == 0] = np.nan
    names = list(counts.models)
    return (pd.DataFrame(rate, index=names, columns=names),
            pd.DataFrame(battles, index=names, columns=names))


def predicted_win_rates(fit: RatingFit) -> pd.DataFrame:
    """P(row beats column) + P(tie) / 2 under the fitted model; NaN on the diagonal."""
    rate = expected_score(fit)
    np.fill_diagonal(rate, np.nan)
    names = list(fit.models)
    return pd.DataFrame(rate, index=names, columns=names)


def baseline_win_rates(battles: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Each model's win rate against `baseline`, in percent, by AlpacaEval's rule.

    A battle's value is P(model better): 1 for a win, 0 for a loss, 1/2 for a tie or
    both_bad, or, where a `probability` column (P(model_a better), e.g. from a judge's
    log-probabilities) is set, that probability. win_rate is 100 * the mean value and
    win_rate_se 100 * its standard error of the mean (as pandas' .sem()); wins, draws and
    losses count values above, at and below 1/2, and discrete_win_rate counts draws as half.
    Rows may stand for `n` identical battles.
    """
    a, b = battles["model_a"].astype(str), battles["model_b"].astype(str)
    as_a, as_b = (a == baseline) & (b != baseline), (b == baseline) & (a != baseline)
    involved = as_a | as_b
    rows = battles[involved]
    score_a = rows["outcome"].map(_MODEL_A_SCORE).to_numpy(dtype=np.float64)
    if np.isnan(score_a).any():
        raise ValidationError("unknown outcome values", field="outcome")
    if "probability" in rows.columns:
        prob = rows["probability"].to_numpy(dtype=np.float64, na_value=np.nan)
        if ((prob < 0) | (prob > 1)).any():
            raise ValidationError("probabilities must lie in [0, 1]", field="probability")
        score_a = np.where(np.isnan(prob), score_a, prob)
    baseline_is_a = as_a[involved].to_numpy()
    value = np.where(baseline_is_a, 1 - score_a, score_a)
    n = (rows["n"].to_numpy(dtype=np.float64, na_value=1.0) if "n" in rows.columns
         else np.ones(len(rows)))
    frame = pd.DataFrame({
        "model": np.where(baseline_is_a, b[involved], a[involved]),
        "n": n, "nx": n * value, "win": n * (value > 0.5), "draw": n * (value == 0.5),
        "loss": n * (value < 0.5),
    })
    sums = frame.groupby("model", sort=True).sum()
    mean = sums["nx"] / sums["n"]
    frame["dev"] = frame["n"] * (value - mean.reindex(frame["model"]).to_numpy()) ** 2
    dev = frame.groupby("model", sort=True)["dev"].sum()
    total = sums["n"]
    with np.errstate(invalid="ignore", divide="ignore"):
        se = (dev / (total - 1) / total).pow(0.5).where(total > 1)
    out = pd.DataFrame({
        "win_rate": 100 * mean,
        "win_rate_se": 100 * se,
        "n_wins": sums["win"].astype(np.int64),
        "n_draws": sums["draw"].astype(np.int64),
        "n_losses": sums["loss"].astype(np.int64),
        "n_total": total.astype(np.int64),
        "discrete_win_rate": 100 * (sums["win"] + sums["draw"] / 2) / total,
    })
    out.index.name = "model"
    return out
