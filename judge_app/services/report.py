"""The HTML report of a task, the use-case: gather the figures from the ratings and agreement
services into one `ReportData`, then let export/report.py render it."""

from __future__ import annotations

from pathlib import Path

from judge_app.core.clock import utc_now
from judge_app.errors import NoVerdicts
from judge_app.export.report import Ratings, ReportData, render_report
from judge_app.services.leaderboard import (
    LeaderboardQuery,
    agreement,
    quality_vs_cost,
    run_leaderboard,
    self_identified,
    win_rate_matrices,
)
from judge_app.storage.db import Database


def gather_report(db: Database, q: LeaderboardQuery, agreement_source: str | None = "human",
                  title: str | None = None) -> ReportData:
    """Every figure the report shows. A source with no verdicts yet gives a report that says
    so (ratings None), not an error."""
    report = agreement(db, q.task_id, agreement_source)
    # judges against people, and every rater's and judge's bias, whoever alpha is among
    everyone = report if agreement_source is None else agreement(db, q.task_id, None)
    if q.rating_model == "reliability":  # each rater's reliability beside their quality
        from judge_app.services.reliability import agreement_with_reliability

        everyone = agreement_with_reliability(db, q.task_id, None)
    flagged = self_identified(db, q)
    ratings: Ratings | None
    try:
        table = run_leaderboard(db, q)
    except NoVerdicts:
        ratings = None
    else:
        matrices = win_rate_matrices(db, q)
        ratings = Ratings(table, matrices["observed"], matrices["battles"],
                          quality_vs_cost(db, q.task_id, table))
    return ReportData(task_id=q.task_id, title=title or q.task_id, source=q.source, ci=q.ci,
                      agreement_source=agreement_source, ratings=ratings, agreement=report,
                      everyone=everyone, generated_at=utc_now(),
                      rating_model=q.rating_model,
                      self_identified=flagged.sentence() if flagged.votes else "")


def build_report(db: Database, q: LeaderboardQuery, agreement_source: str | None = "human",
                 title: str | None = None) -> str:
    """The whole report as one HTML string."""
    return render_report(gather_report(db, q, agreement_source, title))


def write_report(db: Database, q: LeaderboardQuery, out: Path,
                 agreement_source: str | None = "human") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(db, q, agreement_source), encoding="utf-8")
    return out
