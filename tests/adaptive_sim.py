"""Simulated vote collection with known strengths: adaptive vs uniform scheduling.

Shared by tests/test_adaptive_sim.py (small, fast) and benchmarks/bench_adaptive.py (the full
20-model, 50-seed comparison). Votes are drawn in rounds straight into the count tables (no
frames), the fit and its sandwich intervals are the app's own, and the target check is
core.adaptive's: exactly what a task or judge run would do between rounds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

from judge_app.core.adaptive import Target, estimate_more_votes, plan_votes, target_contrasts
from judge_app.core.bradley_terry import fit_bradley_terry
from judge_app.core.counts import PairCounts
from judge_app.core.intervals import rating_intervals
from judge_app.core.scale import RATING_SCALE


def realistic_thetas(m: int, seed: int, *, min_gap: float = 10.0,
                     mean_extra_gap: float = 20.0) -> np.ndarray:
    """Strengths (theta) of m models whose neighbouring gaps are min_gap + Exp(mean_extra_gap)
    rating points: a leaderboard where some neighbours are close and others far apart
    (LMArena's top 20 spans about 250-600 points with gaps from a few to 60 points)."""
    rng = np.random.default_rng([seed, 7])
    gaps = min_gap + rng.exponential(mean_extra_gap, m - 1)
    elo = np.concatenate([[0.0], np.cumsum(gaps)])
    rng.shuffle(elo)  # model order carries no information
    theta = elo / RATING_SCALE
    return np.asarray(theta - theta.mean())


@dataclass
class RunResult:
    votes_to_target: int | None  # None: not met within the budget
    correct: bool | None  # the settled answer matches the truth (None if never met)
    covered: list[float] = field(default_factory=list)  # per round: share of models covered
    covered_at_stop: float | None = None
    # per round: share of model differences theta_i - theta_j whose interval covers the truth
    covered_pairs: list[float] = field(default_factory=list)
    # (votes so far, estimated more votes) the first round past `estimate_at` votes
    estimate: tuple[int, int | None] | None = None


def _counts(wins: np.ndarray, names: tuple[str, ...]) -> PairCounts:
    zero = np.zeros_like(wins)
    return PairCounts(names, wins.astype(np.float64), zero.astype(np.float64),
                      wins.astype(np.float64), zero.astype(np.float64),
                      wins.astype(np.int64), zero.astype(np.int64))


def _truth_settles(theta: np.ndarray, target: Target, fit_theta: np.ndarray) -> bool:
    """Whether the answer the data settled on is the true one."""
    if target.kind == "ranking":
        return bool(np.array_equal(np.argsort(-fit_theta), np.argsort(-theta)))
    if target.kind == "top_k":
        return set(np.argsort(-fit_theta)[: target.k]) == set(np.argsort(-theta)[: target.k])
    return True


def simulate(
    theta: np.ndarray,
    scheduling: str,
    seed: int,
    *,
    target: Target | None = None,
    start_per_pair: int = 2,
    growth: float = 0.03,
    min_round: int = 20,
    max_votes: int = 2_000_000,
    run_on: bool = False,
    estimate_at: int | None = None,
) -> RunResult:
    """Collect votes in rounds until the target is met (or `max_votes`).

    Both schedules start alike (`start_per_pair` votes on every pair), then add rounds of
    max(min_round, growth x votes so far). Uniform keeps every pair's count level (the
    app's balanced design); adaptive asks core.adaptive.plan_votes. With `run_on` the run
    goes on to `max_votes` after the target is met, recording interval coverage each round.
    """
    target = target or Target()
    rng = np.random.default_rng([seed, 11])
    m = len(theta)
    names = tuple(f"m{i:02d}" for i in range(m))
    ia, ib = np.triu_indices(m, 1)
    pairs = [(int(a), int(b)) for a, b in zip(ia, ib, strict=True)]
    p_true = 1 / (1 + np.exp(-(theta[ia] - theta[ib])))
    wins = np.zeros((m, m))
    played = np.zeros(len(pairs), dtype=np.int64)
    z = NormalDist().inv_cdf(0.5 + target.level / 2)
    centred = theta - theta.mean()

    def vote(alloc: np.ndarray) -> None:
        won = rng.binomial(alloc, p_true)
        np.add.at(wins, (ia, ib), won)
        np.add.at(wins, (ib, ia), alloc - won)
        played[:] += alloc

    vote(np.full(len(pairs), start_per_pair))
    result = RunResult(None, None)
    while True:
        counts = _counts(wins, names)
        fit = fit_bradley_terry(counts)
        total = int(played.sum())
        if fit.rated.all():
            iv = rating_intervals(fit)
            cover = np.abs(fit.theta - centred) <= z * iv.se
            if result.votes_to_target is not None or run_on:
                result.covered.append(float(cover.mean()))
                c = iv.covariance
                se_d = np.sqrt(c[ia, ia] + c[ib, ib] - 2 * c[ia, ib])
                err = (fit.theta[ia] - fit.theta[ib]) - (theta[ia] - theta[ib])
                result.covered_pairs.append(float((np.abs(err) <= z * se_d).mean()))
            if (estimate_at is not None and result.estimate is None and total >= estimate_at
                    and result.votes_to_target is None):
                how = "adaptive" if scheduling == "adaptive" else "uniform"
                result.estimate = (total, estimate_more_votes(
                    fit, iv.covariance, target, scheduling=how, pairs=pairs))
            if result.votes_to_target is None and target_contrasts(
                    fit, iv.covariance, target).settled.all():
                result.votes_to_target = total
                result.correct = _truth_settles(theta, target, fit.theta)
                result.covered_at_stop = float(cover.mean())
                if not run_on:
                    return result
        if total >= max_votes:
            return result
        batch = max(min_round, math.ceil(growth * total))
        if scheduling == "uniform" or not fit.rated.all():
            alloc = np.zeros(len(pairs), dtype=np.int64)
            base, extra = divmod(batch, len(pairs))
            alloc += base
            order = np.argsort(played + alloc, kind="stable")
            alloc[order[:extra]] += 1
        else:
            alloc = plan_votes(fit, iv.covariance, target, pairs, batch)
        vote(alloc)
