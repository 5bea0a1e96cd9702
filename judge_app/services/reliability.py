"""The rater-reliability model as use-cases: its leaderboard, each rater's reliability and
position bias, and the agreement report with them beside the agreement figures."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from judge_app.errors import ValidationError
from judge_app.services.leaderboard import LeaderboardQuery, _check_task, agreement
from judge_app.storage import analytics
from judge_app.storage.db import Database
from judge_app.storage.reliability import rater_vote_counts

if TYPE_CHECKING:
    import pandas as pd

    from judge_app.core.agreement_report import AgreementReport

RATING_MODELS = ("bradley-terry", "reliability")
# Rater-table columns added to the agreement report's rater quality table.
RATER_FIGURES = ("reliability", "reliability_lower", "reliability_upper", "guess_left")


def _rater_votes(db: Database, q: LeaderboardQuery) -> pd.DataFrame:
    _check_task(db, q.task_id)
    with db.cursor() as cur:
        frame = rater_vote_counts(cur, q.slice())
    if frame.empty:
        raise ValidationError(f"task '{q.task_id}' has no verdicts from source '{q.source}'",
                              field="source")
    return frame


def reliability_leaderboard(db: Database, q: LeaderboardQuery) -> pd.DataFrame:
    """The leaderboard from the reliability model; `attrs["raters"]` lists each rater's
    reliability and position bias (records of core.reliability.RATER_COLUMNS)."""
    from judge_app.core.reliability import reliability_leaderboard as table_of
    from judge_app.core.winrates import baseline_win_rates

    for flag, value, plain in (("--ci", q.ci, "sandwich"), ("--ties", q.ties, "half"),
                               ("--style-control", q.style_control, False)):
        if value != plain:
            raise ValidationError(
                f"the reliability model has model-based intervals and half-win ties only: "
                f"drop {flag}", field="rating_model")
    table, fit = table_of(_rater_votes(db, q), anchor=q.anchor,
                          strong_weight=q.strong_weight)
    if q.baseline is not None:
        if q.baseline not in fit.models:
            raise ValidationError(f"baseline model {q.baseline!r} has no battles",
                                  field="baseline")
        with db.cursor() as cur:
            rates = baseline_win_rates(analytics.battles(cur, q.slice()), q.baseline)
        table["win_rate"] = table["model"].map(rates["win_rate"]).astype(float)
        table["win_rate_se"] = table["model"].map(rates["win_rate_se"]).astype(float)
    table.attrs["raters"] = fit.rater_table().to_dict(orient="records")
    return table


def rater_reliability(db: Database, task_id: str) -> pd.DataFrame:
    """Every rater's reliability and position bias, fitted on all of the task's verdicts
    (people and judges together: a judge's reliability comes from how its votes line up
    with everyone's). One row per rater, sorted by rater_id."""
    from judge_app.core.reliability import fit_reliability, rater_counts

    fit = fit_reliability(rater_counts(_rater_votes(db, LeaderboardQuery(task_id))))
    return fit.rater_table().sort_values("rater_id", ignore_index=True)


def agreement_with_reliability(db: Database, task_id: str,
                               source: str | None = "human") -> AgreementReport:
    """The agreement report (services.leaderboard.agreement) with each rater's estimated
    reliability and position bias (guess_left) added to its rater quality table."""
    import numpy as np

    report = agreement(db, task_id, source)
    quality = report.rater_quality.copy()
    if quality.empty:
        for column in RATER_FIGURES:
            quality[column] = np.array([], dtype=float)
        return replace(report, rater_quality=quality)
    figures = rater_reliability(db, task_id).set_index("rater_id")
    for column in RATER_FIGURES:
        quality[column] = quality["rater_id"].map(figures[column]).astype(float)
    return replace(report, rater_quality=quality)
