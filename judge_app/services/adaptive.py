"""Adaptive scheduling as use-cases: where a task stands against its target, which pair a
rater gets next, and judge runs in rounds until the target or the budget is met.

The rule itself is core.adaptive; this module reads the counts, keeps the prompt mix
honest (each model pair is compared on the task's mix of categories) and leaves gold pairs,
swapped re-tests and left/right order to the queue as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from judge_app.core.adaptive import (
    EXPLORATION,
    Target,
    TargetStatus,
    choose_category,
    parse_target,
    plan_votes,
    target_status,
)
from judge_app.core.types import TaskConfig
from judge_app.errors import ValidationError
from judge_app.services.lookup import task_not_found
from judge_app.storage import adaptive as store
from judge_app.storage import analytics, catalog
from judge_app.storage.db import Database

if TYPE_CHECKING:
    from judge_app.core.bradley_terry import RatingFit
    from judge_app.judges.client import JudgeClient
    from judge_app.judges.config import JudgeConfig
    from judge_app.judges.plan import Plan
    from judge_app.services.judge_runs import RunSummary

# The queue refits once the task's assignments grew by this share; votes handed out in
# between count as pending, so raters working at once still spread over open comparisons.
REFIT_SHARE = 0.02
MAX_ROUNDS = 1000


def task_target(config: TaskConfig, override: str | None = None,
                level: float | None = None) -> Target:
    """The task's target (task.toml [scheduling]), or `override` in the same syntax."""
    return parse_target(override or config.target,
                        level=config.target_level if level is None else level)


@dataclass(frozen=True)
class _Fit:
    fit: RatingFit
    covariance: np.ndarray
    status: TargetStatus
    votes: dict[tuple[str, str, str], int] = field(default_factory=dict)  # by category


def _fit(cur: Any, task_id: str, source: str, target: Target,
         scheduling: str) -> _Fit:
    """Bradley-Terry on the slice's counts over every model of the task."""
    from judge_app.core.bradley_terry import fit_bradley_terry
    from judge_app.core.counts import count_battles
    from judge_app.core.intervals import rating_intervals

    frame = analytics.battle_counts(cur, analytics.Slice(task_id, source))
    models = sorted(set(store.task_models(cur, task_id)) | set(frame["model_a"])
                    | set(frame["model_b"]))
    counts = count_battles(frame, models=models)
    fit = fit_bradley_terry(counts)
    cov = rating_intervals(fit).covariance
    how = "adaptive" if scheduling == "adaptive" else "uniform"
    if target.kind == "baseline" and target.baseline not in fit.models:
        raise ValidationError(f"baseline model {target.baseline!r} is not in task "
                              f"'{task_id}'", field="target")
    if target.kind == "baseline" and not fit.rated[fit.models.index(str(target.baseline))]:
        status = TargetStatus(target, False, int(counts.n_pair.sum() // 2), [], 0, None, True,
                              f"{target.describe()}: not met, the baseline is not rated yet; "
                              "no estimate yet")
    else:
        status = target_status(fit, cov, target, scheduling=how)  # type: ignore[arg-type]
    return _Fit(fit, cov, status)


def progress(db: Database, task_id: str, *, source: str | None = None,
             target: str | None = None, level: float | None = None) -> TargetStatus:
    """Where the task stands against its target, with the estimate of votes still needed.

    `source`: whose verdicts count (default: people for a task people rate; `all`,
    `human`, `judge:NAME` as on the leaderboard)."""
    with db.cursor() as cur:
        task = catalog.get_task(cur, task_id)
        if task is None:
            raise task_not_found(cur, task_id)
        from judge_app.core.types import task_config_from_dict

        config = task_config_from_dict(task["config"])
        goal = task_target(config, target, level)
        return _fit(cur, task_id, source or "all", goal, config.scheduling).status


def adaptive_line(db: Database, task_id: str, source: str = "all") -> str | None:
    """The target line for a task with adaptive scheduling (None for a uniform task)."""
    with db.cursor() as cur:
        task = catalog.get_task(cur, task_id)
    if task is None or task["config"].get("scheduling") != "adaptive":
        return None
    return f"adaptive scheduling: {progress(db, task_id, source=source).message}"


# ---------------------------------------------------------------- the rater queue

_cache: dict[tuple[str, str], tuple[int, _Fit]] = {}
_cache_lock = threading.Lock()


def _cached_fit(cur: Any, key: tuple[str, str], task_id: str,
                target: Target) -> _Fit:
    """The fit on people's verdicts, redone once assignments grew by REFIT_SHARE (at least
    one): counted, not timed, so the same votes give the same queue on any machine."""
    stamp = store.count_assignments(cur, task_id)
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and hit[1].status.target == target \
            and hit[0] <= stamp < hit[0] + max(1, math.ceil(REFIT_SHARE * hit[0])):
        return hit[1]
    fitted = dataclasses.replace(
        _fit(cur, task_id, "human", target, "adaptive"),
        votes=store.votes_by_category(cur, analytics.Slice(task_id, "human")))
    with _cache_lock:
        _cache[key] = (stamp, fitted)
    return fitted


def target_met_in(cur: Any, db_key: str, task_id: str, config: TaskConfig) -> bool:
    """Whether an adaptive task's target is met on people's verdicts (the fit is cached per
    database ``db_key`` and task until assignments grow), read on the caller's cursor."""
    return _cached_fit(cur, (db_key, task_id), task_id, task_target(config)).status.met


def forget(task_id: str) -> None:
    """Drop the cached fit of a task (tests; a re-import)."""
    with _cache_lock:
        for key in [k for k in _cache if k[1] == task_id]:
            _cache.pop(key, None)


def _roll(*parts: object) -> float:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Choice:
    pair_id: str | None
    met: bool  # the target is met: the queue stops asking for votes


def next_pair(cur: Any, db_key: str, config: TaskConfig, task_id: str,
              rater_id: str, done: int) -> Choice:
    """The regular pair a rater gets next under adaptive scheduling (people's verdicts).

    Which two models meet comes from core.adaptive.plan_votes (one vote, with the votes
    handed out but not back yet counted as given); EXPLORATION of the assignments, drawn
    reproducibly per rater, go to the least-voted model pair instead. The prompt is then
    chosen so the pair's votes follow the task's category mix.
    """
    target = task_target(config)
    fitted = _cached_fit(cur, (db_key, task_id), task_id, target)
    if fitted.status.met:
        return Choice(None, True)
    open_rows = store.open_matchups(cur, task_id, rater_id, config.overlap)
    if not open_rows:
        return Choice(None, False)
    fit = fitted.fit
    matchups: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
    for row in open_rows:
        key = (str(row["model_a"]), str(row["model_b"]))
        matchups.setdefault(key, {})[str(row["category"])] = (int(row["open"]),  # type: ignore[call-overload]
                                                              str(row["pair_id"]))
    names = list(matchups)
    index = {m: i for i, m in enumerate(fit.models)}
    pairs = [(index[a], index[b]) for a, b in names]
    capacity = np.array([sum(n for n, _ in matchups[m].values()) for m in names],
                        dtype=np.int64)
    waiting = store.pending_by_matchup(cur, task_id)
    pending = np.array([waiting.get(m, 0) for m in names], dtype=np.int64)
    explore = 1.0 if _roll(config.seed, rater_id, done, "explore") < EXPLORATION else 0.0
    alloc = plan_votes(fit, fitted.covariance, target, pairs, 1, capacity=capacity,
                       pending=pending, exploration=explore)
    chosen = names[int(np.argmax(alloc))]
    share = _shares(store.prompt_categories(cur, task_id))
    mine = {c: n for (a, b, c), n in fitted.votes.items() if (a, b) == chosen}
    category = choose_category(share, mine, set(matchups[chosen]))
    assert category is not None
    with _cache_lock:  # handed out now: counted until the next refit brings its verdict
        given = (chosen[0], chosen[1], category)
        fitted.votes[given] = fitted.votes.get(given, 0) + 1
    return Choice(matchups[chosen][category][1], False)


def _shares(prompts: Mapping[str, int]) -> dict[str, float]:
    total = sum(prompts.values()) or 1
    return {c: n / total for c, n in prompts.items()}


# ---------------------------------------------------------------- judge runs in rounds

@dataclass
class AdaptiveRun:
    """What `judge --adaptive` did: its rounds, why it stopped, and the target's status."""

    target: Target
    rounds: list[RunSummary] = field(default_factory=list)
    status: TargetStatus | None = None
    stop: str = ""  # target met | every pair judged | the round's own stop reason
    ok: bool = True  # False when a round stopped on the budget or on errors

    @property
    def cost_usd(self) -> float:
        return sum(r.cost_usd for r in self.rounds)


def _sub_plan(plan: Plan, chosen: list[int]) -> Plan:
    from judge_app.judges.plan import PlannedCall

    where = {old: new for new, old in enumerate(chosen)}
    calls = [PlannedCall(c.key, where[c.pair], c.left_side) for c in plan.calls
             if c.pair in where]
    keys = {c.key for c in calls}
    return dataclasses.replace(plan, pairs=[plan.pairs[i] for i in chosen], calls=calls,
                               cached={k: v for k, v in plan.cached.items() if k in keys},
                               skipped_no_reference=0)


def run_adaptive(
    db: Database, task_id: str, config: JudgeConfig, *, target: str | None = None,
    models: list[str] | None = None, max_cost: float | None = None,
    round_size: int = 50, concurrency: int | None = None, progress_bar: bool = False,
    environ: Mapping[str, str] | None = None,
    client_factory: Callable[[], JudgeClient] | None = None,
    on_round: Callable[[int, RunSummary, TargetStatus], None] | None = None,
) -> AdaptiveRun:
    """Judge in rounds: each round picks the pairs whose verdicts settle the target most
    (core.adaptive.plan_votes over the model pairs, prompts by the task's category mix),
    runs them as an ordinary judge run (cache, budget, crash safety as always), refits on
    this judge's verdicts and stops once the target is met, the budget is spent or every
    pair is judged. Pairs already answered (cached) cost nothing and are taken first."""
    from judge_app.services.judge_runs import plan_run, run_plan
    from judge_app.storage import judges as judge_store

    if round_size < 1:
        raise ValidationError("must be positive", field="--round-size")
    with db.cursor() as cur:
        task = catalog.get_task(cur, task_id)
        if task is None:
            raise task_not_found(cur, task_id)
    from judge_app.core.types import task_config_from_dict

    task_config = task_config_from_dict(task["config"])
    goal = task_target(task_config, target)
    plan = plan_run(db, task_id, config, models=models, environ=environ)
    source = f"judge:{config.name}"
    with db.cursor() as cur:
        categories = store.pair_categories(cur, task_id)  # regular pairs only
        share = _shares(store.prompt_categories(cur, task_id))
    regular = [i for i, p in enumerate(plan.pairs) if p["pair_id"] in categories]
    result = AdaptiveRun(goal)
    spent = 0.0
    for round_no in range(1, MAX_ROUNDS + 1):
        with db.cursor() as cur:
            answered = judge_store.cached_calls(cur, [c.key for c in plan.calls])
            fitted = _fit(cur, task_id, source, goal, "adaptive")
            votes = store.votes_by_category(cur, analytics.Slice(task_id, source))
        result.status = fitted.status
        if fitted.status.met:
            result.stop = "target met"
            return result
        calls_of: dict[int, list[str]] = {}
        for c in plan.calls:
            calls_of.setdefault(c.pair, []).append(c.key)
        left = [i for i in regular if not all(k in answered for k in calls_of.get(i, []))]
        unanswered = set(left)
        done_cached = [i for i in regular if i not in unanswered]
        if round_no == 1 and done_cached:
            chosen = done_cached  # answered before: their verdicts cost nothing
        else:
            if not left:
                result.stop = "every pair judged"
                return result
            size = max(round_size, math.ceil(0.1 * fitted.status.votes))
            chosen = _choose_pairs(plan, left, fitted, goal, size, categories, share, votes)
        if max_cost is not None and max_cost - spent <= 0:
            result.stop, result.ok = f"budget ${max_cost:g} spent", False
            return result
        sub = _sub_plan(plan, chosen)
        sub = dataclasses.replace(sub, cached={**sub.cached, **{
            k: v for k, v in answered.items() if k in {c.key for c in sub.calls}}})
        summary = run_plan(db, sub, max_cost=None if max_cost is None else max_cost - spent,
                           concurrency=concurrency, progress=progress_bar, environ=environ,
                           client_factory=client_factory)
        spent += summary.cost_usd
        result.rounds.append(summary)
        if on_round is not None:
            on_round(round_no, summary, fitted.status)
        if summary.status != "done":
            result.stop, result.ok = summary.message or summary.status, False
            with db.cursor() as cur:
                result.status = _fit(cur, task_id, source, goal, "adaptive").status
            return result
    result.stop, result.ok = f"stopped after {MAX_ROUNDS} rounds", False
    return result


def _choose_pairs(plan: Plan, left: list[int], fitted: _Fit, goal: Target, size: int,
                  categories: Mapping[str, str], share: Mapping[str, float],
                  votes: Mapping[tuple[str, str, str], int]) -> list[int]:
    """`size` of the unjudged pairs: model pairs by the plan, prompts by the category mix."""
    fit = fitted.fit
    index = {m: i for i, m in enumerate(fit.models)}
    pool: dict[tuple[str, str], dict[str, list[int]]] = {}
    for i in left:
        p = plan.pairs[i]
        key = (str(p["model_a"]), str(p["model_b"]))
        pool.setdefault(key, {}).setdefault(categories.get(p["pair_id"], ""), []).append(i)
    names = sorted(pool)
    pairs = [(index[a], index[b]) for a, b in names]
    capacity = np.array([sum(len(v) for v in pool[m].values()) for m in names], dtype=np.int64)
    alloc = plan_votes(fit, fitted.covariance, goal, pairs, min(size, int(capacity.sum())),
                       capacity=capacity)
    chosen: list[int] = []
    for m, n in zip(names, alloc, strict=True):
        mine = {c: k for (a, b, c), k in votes.items() if (a, b) == m}
        for _ in range(int(n)):
            category = choose_category(dict(share), mine,
                                       {c for c, v in pool[m].items() if v})
            if category is None:
                break
            chosen.append(pool[m][category].pop(0))
            mine[category] = mine.get(category, 0) + 1
    return sorted(chosen)


def status_fields(status: TargetStatus) -> dict[str, Any]:
    return {"target": status.target.describe(), "met": status.met, "votes": status.votes,
            "open": [list(p) for p in status.open], "more_votes": status.more_votes,
            "reachable": status.reachable, "message": status.message}
