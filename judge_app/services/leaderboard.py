"""Ratings, win rates, agreement and the release gate, read from the verdicts of a task."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from judge_app.core.vocabulary import TieModel
from judge_app.errors import NotFoundError, NoVerdicts, ValidationError
from judge_app.services.lookup import suggestion, task_not_found
from judge_app.storage import analytics, catalog
from judge_app.storage.db import Database
from judge_app.storage.plain import plain_values

if TYPE_CHECKING:  # the math is imported by the use-case that needs it: `gate` stays light
    import pandas as pd

    from judge_app.core.agreement_report import AgreementReport
    from judge_app.core.gate import GateResult


@dataclass(frozen=True)
class LeaderboardQuery:
    task_id: str
    source: str = "all"
    ci: str = "sandwich"
    rounds: int = 1000
    seed: int = 0
    ties: TieModel = "half"
    anchor: tuple[str, float] | None = None
    baseline: str | None = None
    style_control: bool = False
    strong_weight: float = 1.0
    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    by_version: bool = False
    extra: dict[str, object] = field(default_factory=dict)
    rating_model: str = "bradley-terry"  # or "reliability" (services/reliability.py)
    include_self_identified: bool = False  # arena votes whose answer named its model

    def slice(self) -> analytics.Slice:
        return analytics.Slice(self.task_id, self.source, self.category, self.since,
                               self.until, self.by_version,
                               include_self_identified=self.include_self_identified)


@dataclass(frozen=True)
class SelfIdentified:
    """Arena votes of a slice on battles where an answer named its own model or vendor:
    left out of the ratings by default (as Chatbot Arena does), or counted."""

    votes: int
    battles: int
    counted: bool

    def sentence(self) -> str:
        """One line for the Leaderboard page, the CLI table and the report."""
        what = (f"{self.votes} arena vote{'s' if self.votes != 1 else ''} on "
                f"{self.battles} battle{'s' if self.battles != 1 else ''} where an answer "
                "named its own model or vendor")
        if self.counted:
            return f"{what} {'are' if self.votes != 1 else 'is'} counted."
        return (f"{what} {'are' if self.votes != 1 else 'is'} left out of these figures, as "
                "Chatbot Arena does.")


def self_identified(db: Database, q: LeaderboardQuery) -> SelfIdentified:
    """How many votes of the query's slice include_self_identified decides on."""
    with db.cursor() as cur:
        votes, battles = analytics.self_identified_votes(cur, q.slice())
    return SelfIdentified(votes, battles, q.include_self_identified)


@dataclass(frozen=True)
class SliceOptions:
    """The choices that make sense for one task's filters."""

    sources: list[str]  # "all", then "human" and "judge:NAME" for those present
    categories: list[str]
    first: datetime | None
    last: datetime | None
    has_versions: bool


def task_ids(db: Database) -> list[str]:
    with db.cursor() as cur:
        return [str(t["task_id"]) for t in catalog.list_tasks(cur)]


def slice_options(db: Database, task_id: str) -> SliceOptions:
    _check_task(db, task_id)
    with db.cursor() as cur:
        found = analytics.slice_options(cur, task_id)
    sources = ["all"] + (["human"] if found["has_humans"] else [])
    sources += [f"judge:{name}" for name in found["judges"]]
    return SliceOptions(sources, found["categories"], found["first"], found["last"],
                        found["has_versions"])


def quality_vs_cost(db: Database, task_id: str, table: pd.DataFrame) -> pd.DataFrame:
    """Rated models with their mean cost and latency per output, and whether each lies on the
    Pareto frontier of rating against cost (cost_front) and against latency (latency_front);
    with the median and p95 latency and the median time to first token beside them.
    Models whose outputs carry no cost (or latency) have NaN there and are on no frontier."""
    import pandas as pd

    from judge_app.core.pareto import pareto_front

    with db.cursor() as cur:
        costs = analytics.output_costs(cur, task_id)
    rated = table.loc[table["rated"], ["model", "rating", "lower", "upper"]]
    frame = rated.merge(costs, on="model", how="left").reset_index(drop=True)
    for col in ("cost_usd", "latency_ms", "output_tokens"):
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    frame["cost_front"] = pareto_front(frame["cost_usd"], frame["rating"])
    frame["latency_front"] = pareto_front(frame["latency_ms"], frame["rating"])
    speed = output_speed(db, task_id)
    for col in ("latency_p50_ms", "latency_p95_ms", "ttft_p50_ms"):
        frame[col] = [float("nan") if (s := speed.get(m)) is None or getattr(s, col) is None
                      else getattr(s, col) for m in frame["model"]]
    return frame


@dataclass(frozen=True)
class ModelSpeed:
    """Latency and cost per answer of one model, from the outputs that carry them (generated
    ones always do; imported ones when their file gives latency_ms / cost_usd)."""

    model: str
    outputs: int
    with_latency: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    ttft_p50_ms: float | None
    with_cost: int
    cost_per_answer_usd: float | None

    def figures(self) -> dict[str, float | None]:
        """The figures the JSON leaderboard gives each model."""
        return {"latency_p50_ms": self.latency_p50_ms, "latency_p95_ms": self.latency_p95_ms,
                "ttft_p50_ms": self.ttft_p50_ms, "cost_per_answer_usd": self.cost_per_answer_usd}


def output_speed(db: Database, task_id: str) -> dict[str, ModelSpeed]:
    """model -> its latency and cost figures (None where no output carries one)."""
    _check_task(db, task_id)
    with db.cursor() as cur:
        rows = analytics.output_speed(cur, task_id)

    def num(value: Any) -> float | None:
        return None if value is None else float(value)

    return {str(r["model"]): ModelSpeed(
        model=str(r["model"]), outputs=int(r["outputs"]), with_latency=int(r["with_latency"]),
        latency_p50_ms=num(r["latency_p50_ms"]), latency_p95_ms=num(r["latency_p95_ms"]),
        ttft_p50_ms=num(r["ttft_p50_ms"]), with_cost=int(r["with_cost"]),
        cost_per_answer_usd=num(r["cost_mean_usd"])) for r in rows}


def _check_task(db: Database, task_id: str) -> None:
    with db.cursor() as cur:
        if catalog.get_task(cur, task_id) is None:
            raise task_not_found(cur, task_id)


def _battles(db: Database, q: LeaderboardQuery, per_verdict: bool) -> pd.DataFrame:
    _check_task(db, q.task_id)
    with db.cursor() as cur:
        frame = (analytics.battles(cur, q.slice()) if per_verdict
                 else analytics.battle_counts(cur, q.slice()))
    if frame.empty:
        raise NoVerdicts(f"task '{q.task_id}' has no verdicts from source '{q.source}'",
                         field="source")
    return frame


def compute_leaderboard(db: Database, task_id: str, **options: object) -> pd.DataFrame:
    """The leaderboard table (see core.leaderboard); options are LeaderboardQuery fields."""
    return run_leaderboard(db, LeaderboardQuery(task_id, **options))  # type: ignore[arg-type]


def run_leaderboard(db: Database, q: LeaderboardQuery) -> pd.DataFrame:
    # Counts from one GROUP BY suffice unless a figure needs each verdict (style, judge
    # probabilities for the baseline win rate).
    from judge_app.core.leaderboard import leaderboard
    from judge_app.core.style import add_style_features

    if q.rating_model != "bradley-terry":
        from judge_app.services.reliability import RATING_MODELS, reliability_leaderboard

        if q.rating_model not in RATING_MODELS:
            raise ValidationError(f"unknown rating model '{q.rating_model}' "
                                  f"({' or '.join(RATING_MODELS)})", field="rating_model")
        return reliability_leaderboard(db, q)
    per_verdict = q.style_control or q.baseline is not None
    battles = _battles(db, q, per_verdict)
    if q.style_control:
        battles = add_style_features(battles)
    return leaderboard(
        battles, ci=q.ci, rounds=q.rounds, seed=q.seed, ties=q.ties,  # type: ignore[arg-type]
        anchor=q.anchor, baseline=q.baseline, style_control=q.style_control,
        strong_weight=q.strong_weight,
    )


def win_rate_matrices(db: Database, q: LeaderboardQuery) -> dict[str, pd.DataFrame]:
    """Observed win rates with counts, and the win rates the fitted model predicts."""
    from judge_app.core.bradley_terry import fit_bradley_terry
    from judge_app.core.counts import count_battles
    from judge_app.core.winrates import observed_win_rates, predicted_win_rates

    counts = count_battles(_battles(db, q, per_verdict=False), strong_weight=q.strong_weight)
    observed, n = observed_win_rates(counts)
    if q.rating_model == "reliability":  # what a fully reliable rater would vote
        from judge_app.core.reliability import predicted_win_rates as reliable_rates

        return {"observed": observed, "battles": n,
                "predicted": reliable_rates(run_leaderboard(db, replace(q, baseline=None)))}
    predicted = predicted_win_rates(fit_bradley_terry(counts))
    return {"observed": observed, "battles": n, "predicted": predicted}


def elo_history(db: Database, q: LeaderboardQuery) -> pd.Series:
    """Online Elo (K = 4, in time order), for comparison with older leaderboards."""
    from judge_app.core.elo import online_elo

    return online_elo(_battles(db, q, per_verdict=True))


def agreement(db: Database, task_id: str, source: str | None = "human") -> AgreementReport:
    """Agreement figures among raters of `source` (None = everyone); see agreement_report."""
    from judge_app.core.agreement_report import agreement_report

    if source is not None and source not in ("human", "judge") \
            and not (source.startswith("judge:") and len(source) > 6):
        raise ValidationError(f"unknown source '{source}' (all, human, judge or judge:NAME)",
                              field="source")
    q = LeaderboardQuery(task_id)
    _check_task(db, task_id)
    with db.cursor() as cur:
        frame = analytics.battles(cur, q.slice())
    return agreement_report(frame, source=source)


def release_gate(
    db: Database, task_id: str, candidate: str, baseline: str, *,
    min_win_rate: float = 0.5, confidence: float = 0.95, source: str = "all",
    margin: float = 0.0, min_battles: int = 0,
) -> GateResult:
    """The non-inferiority gate (see core.gate) on the Bradley-Terry fit of the slice."""
    # Plain rows and numpy: no pandas, scipy or pyarrow, so a CI gate starts fast.
    from judge_app.core.bradley_terry import fit_bradley_terry
    from judge_app.core.counts import count_rows
    from judge_app.core.gate import gate
    from judge_app.core.intervals import rating_intervals

    for name, value, ok in (("--min-win-rate", min_win_rate, 0.0 < min_win_rate < 1.0),
                            ("--confidence", confidence, 0.5 <= confidence < 1.0),
                            ("--margin", margin, 0.0 <= margin < min_win_rate),
                            ("--min-battles", min_battles, min_battles >= 0)):
        if not ok:
            raise ValidationError(f"{name} {value} is out of range", field=name)
    q = LeaderboardQuery(task_id, source=source)
    with plain_values():
        _check_task(db, task_id)
        with db.cursor() as cur:
            rows = analytics.battle_count_rows(cur, q.slice())
    if not rows:  # as _battles says it
        raise ValidationError(f"task '{task_id}' has no verdicts from source '{source}'",
                              field="source")
    counts = count_rows(rows)
    for model in (candidate, baseline):
        if model not in counts.models:
            raise NotFoundError(f"model '{model}' has no verdicts in task '{task_id}'"
                                + suggestion(model, counts.models))
    fit = fit_bradley_terry(counts)
    return gate(fit, rating_intervals(fit), candidate, baseline, min_win_rate, confidence,
                margin=margin, min_battles=min_battles)
