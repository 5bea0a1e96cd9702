"""The leaderboard table: one call from a battle frame to ratings, intervals, ranks and counts."""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from judge_app.core.bradley_terry import TieModel, fit_bradley_terry
from judge_app.core.counts import FloatArray, PairCounts, count_battles
from judge_app.core.intervals import IntervalMethod, rating_intervals
from judge_app.core.scale import RATING_SCALE, anchor_shift, interval_ranks, to_rating
from judge_app.core.style import STYLE_FEATURES, fit_style_controlled
from judge_app.core.threads import single_threaded_blas
from judge_app.core.winrates import baseline_win_rates
from judge_app.errors import ValidationError

LEADERBOARD_COLUMNS = (
    "model", "rating", "lower", "upper", "se", "rank", "rated",
    "battles", "wins", "ties", "losses", "identified", "note",
)
# Why a model has no rating, in the words the table, the JSON and the report show.
NO_BATTLES = "no battles"
UNBOUNDED_ABOVE = "not identified: never lost a battle, so its rating is unbounded above"
UNBOUNDED_BELOW = "not identified: never won or tied a battle, so its rating is unbounded below"
DISCONNECTED = ("not identified: its battles do not link it both ways to the rated models "
                "(the comparison graph is disconnected)")
NO_LARGEST_GROUP = ("not identified: the comparison graph splits into groups of equal size, "
                    "none of which can be rated against the others")
NO_SPREAD = "not identified: these battles give its rating no measurable uncertainty"
DAVIDSON_DIVERGES = "not identified: the Davidson tie model has no finite fit on these battles"


@single_threaded_blas()
def leaderboard(
    battles: pd.DataFrame,
    *,
    ci: IntervalMethod = "sandwich",
    level: float = 0.95,
    rounds: int = 1000,
    seed: int = 0,
    ties: TieModel = "half",
    prior: float = 0.0,
    strong_weight: float = 1.0,
    anchor: tuple[str, float] | None = None,
    baseline: str | None = None,
    style_control: bool = False,
    style_features: Sequence[str] = STYLE_FEATURES,
    models: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Ratings with intervals and ranks, best first; unrated models last with NaN ratings.

    `battles`: one row per battle, or grouped rows with a count column `n` (see counts.py).
    Columns: model, rating, lower, upper, se (rating points), rank (1 + the number of models
    whose lower bound beats this one's upper bound), rated, battles, wins, ties, losses (raw
    counts; both_bad counts as a tie); with `style_control` also raw_rating (the rating
    before control); with `baseline` also win_rate and win_rate_se (percent, AlpacaEval's
    rule; NaN for the baseline itself). `attrs` records the settings, Davidson's log_nu and
    the style coefficients.
    """
    counts = count_battles(battles, models=models, strong_weight=strong_weight)
    extra: dict[str, FloatArray] = {}
    attrs: dict[str, object] = {"ci": ci, "level": level, "ties": ties, "prior": prior,
                                "anchor": anchor}
    if style_control:
        if ci != "sandwich" or ties != "half":
            raise ValidationError("style control supports sandwich intervals and half-win ties",
                                  field="style_control")
        style = fit_style_controlled(battles, features=style_features, prior=prior,
                                     strong_weight=strong_weight, models=counts.models)
        theta, rated = style.theta, style.rated
        se = np.sqrt(np.diag(style.covariance))
        z = NormalDist().inv_cdf(0.5 + level / 2)
        lower, upper = theta - z * se, theta + z * se
        shift = anchor_shift(counts.models, theta, anchor)
        extra["raw_rating"] = to_rating(style.raw.theta,
                                        anchor_shift(counts.models, style.raw.theta, anchor))
        attrs["style_coefficients"] = style.coefficients.to_dict()
        attrs["style_coefficient_se"] = style.coefficient_se.to_dict()
    else:
        fit = fit_bradley_terry(counts, ties=ties, prior=prior)
        intervals = rating_intervals(fit, method=ci, level=level, rounds=rounds, seed=seed)
        theta, rated, se = fit.theta, fit.rated, intervals.se
        lower, upper = intervals.lower, intervals.upper
        shift = anchor_shift(counts.models, theta, anchor)
        attrs["log_nu"] = fit.log_nu
    table = _table(counts, to_rating(theta, shift), to_rating(lower, shift),
                   to_rating(upper, shift), RATING_SCALE * se, rated)
    notes = identification_notes(counts, np.asarray(rated, dtype=bool), prior, ties)
    with np.errstate(invalid="ignore"):
        flat = np.asarray(rated, dtype=bool) & ~(np.asarray(upper - lower) > 0)
    notes = [NO_SPREAD if f and not n else n for f, n in zip(flat, notes, strict=True)]
    table["identified"] = np.array([not n for n in notes], dtype=bool)
    table["note"] = notes
    for name, values in extra.items():
        table[name] = values
    if baseline is not None:
        if baseline not in counts.models:
            raise ValidationError(f"baseline model {baseline!r} has no battles", field="baseline")
        rates = baseline_win_rates(battles, baseline)
        table["win_rate"] = table["model"].map(rates["win_rate"]).astype(np.float64)
        table["win_rate_se"] = table["model"].map(rates["win_rate_se"]).astype(np.float64)
    table = table.sort_values(["rating", "model"], ascending=[False, True], na_position="last",
                              kind="stable").reset_index(drop=True)
    table.attrs.update(attrs)
    return table


def identification_notes(counts: PairCounts, rated: np.ndarray, prior: float = 0.0,
                         ties: TieModel = "half") -> list[str]:
    """Why each model's rating is not identified ("" when it is).

    With no prior, Bradley-Terry identifies ratings only inside one group of models that are
    linked both ways by wins or ties (see bradley_terry.rated_models); every other model is
    named here with the reason, so that no table shows a missing or infinite rating without
    saying why.
    """
    won, lost = counts.n_wins.sum(1), counts.n_wins.sum(0)
    tied = counts.n_ties.sum(1)
    notes = []
    for i in range(len(counts.models)):
        if won[i] + lost[i] + tied[i] == 0:
            notes.append(NO_BATTLES)
        elif rated[i]:
            notes.append("")
        elif lost[i] == 0 and tied[i] == 0:
            notes.append(UNBOUNDED_ABOVE)
        elif won[i] == 0 and tied[i] == 0:
            notes.append(UNBOUNDED_BELOW)
        elif ties == "davidson" and prior == 0 and not rated.any():
            notes.append(DAVIDSON_DIVERGES)
        elif not rated.any():
            notes.append(NO_LARGEST_GROUP)
        else:
            notes.append(DISCONNECTED)
    return notes


def _table(counts: PairCounts, rating: FloatArray, lower: FloatArray, upper: FloatArray,
           se: FloatArray, rated: np.ndarray) -> pd.DataFrame:
    wins, losses = counts.n_wins.sum(1), counts.n_wins.sum(0)
    ties = counts.n_ties.sum(1)
    return pd.DataFrame({
        "model": list(counts.models), "rating": rating, "lower": lower, "upper": upper,
        "se": se, "rank": interval_ranks(lower, upper), "rated": rated,
        "battles": wins + losses + ties, "wins": wins, "ties": ties, "losses": losses,
    })
