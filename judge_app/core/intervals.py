"""Confidence intervals for Bradley-Terry ratings (all in theta units; see scale.py).

Sandwich (default): cov = I^-1 M I^-1 with I the information at the fit and M the sum of
per-battle score outer products; robust to ties and weights, and a thousand times cheaper
than a bootstrap. Bootstrap: multinomial resampling of the (pair, outcome) counts, every
replicate fitted at once by Newton iterations that reuse the full-data information matrix
(each replicate still converges to its own exact maximum-likelihood fit).
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
from scipy.sparse import csr_matrix
from scipy.special import expit

from judge_app.core.bradley_terry import (
    PairTable,
    RatingFit,
    fit_bradley_terry,
    objective,
    pair_matrix,
    pair_scores,
    pair_table,
    scatter,
    solvable,
)
from judge_app.core.counts import FloatArray, PairCounts
from judge_app.errors import ValidationError

IntervalMethod = Literal["sandwich", "bootstrap"]
_CHUNK = 50  # replicates drawn and fitted together; fixed so results do not depend on cores
_INFINITE = 1e6  # |theta| beyond this in a bootstrap quantile means "no finite bound"


@dataclass(frozen=True, eq=False)
class Intervals:
    """Per-model standard error and interval of theta (NaN for unrated models).

    For the bootstrap, `se` is the replicates' standard deviation; a bound is -inf/+inf when
    enough replicates had the model losing or winning every battle.
    """

    method: IntervalMethod
    level: float
    se: FloatArray
    lower: FloatArray
    upper: FloatArray
    covariance: FloatArray  # models x models, theta units
    replicates: FloatArray | None = None  # rounds x models, bootstrap only


def rating_intervals(
    fit: RatingFit,
    *,
    method: IntervalMethod = "sandwich",
    level: float = 0.95,
    rounds: int = 1000,
    seed: int = 0,
) -> Intervals:
    if not 0 < level < 1:
        raise ValidationError("level must be between 0 and 1", field="level")
    if method == "sandwich":
        cov = sandwich_covariance(fit)
        se = np.sqrt(np.diag(cov))
        z = NormalDist().inv_cdf(0.5 + level / 2)
        return Intervals(method, level, se, fit.theta - z * se, fit.theta + z * se, cov)
    if method != "bootstrap":
        raise ValidationError(f"unknown interval method {method!r}", field="ci")
    reps = bootstrap_thetas(fit, rounds=rounds, seed=seed)
    rated = fit.rated_index
    cov = np.full((len(fit.models), len(fit.models)), np.nan)
    finite = np.isfinite(reps[:, rated]).all(1)
    if finite.sum() > 1:
        cov[np.ix_(rated, rated)] = np.cov(reps[np.ix_(finite, rated)], rowvar=False)
    se = np.where(np.isinf(reps).any(0), np.inf, np.sqrt(np.diag(cov)))
    tail = (1 - level) / 2
    return Intervals(method, level, se, _quantile(reps, tail), _quantile(reps, 1 - tail), cov, reps)


def sandwich_covariance(fit: RatingFit) -> FloatArray:
    """Robust covariance of theta (models x models; NaN rows for unrated models)."""
    table = pair_table(fit.counts, fit.rated)
    params, davidson = _params(fit, table)
    _, _, info = objective(table, params, davidson, fit.prior)
    meat = _meat(table, params, davidson)
    inv = np.linalg.inv(solvable(info, table.k, fit.prior))
    cov_rated = (inv @ meat @ inv)[: table.k, : table.k]
    cov = np.full((len(fit.models), len(fit.models)), np.nan)
    cov[np.ix_(fit.rated_index, fit.rated_index)] = cov_rated
    return cov


def difference_se(intervals: Intervals, i: int, j: int) -> float:
    """Standard error of theta_i - theta_j (the covariance matters: they share battles)."""
    c = intervals.covariance
    return float(np.sqrt(c[i, i] + c[j, j] - 2 * c[i, j]))


def bootstrap_thetas(
    fit: RatingFit, *, rounds: int = 1000, seed: int = 0, workers: int | None = None,
) -> FloatArray:
    """Theta of each bootstrap replicate (rounds x models), seeded and reproducible."""
    if rounds < 1:
        raise ValidationError("rounds must be at least 1", field="rounds")
    table = pair_table(fit.counts, fit.rated)
    out = np.full((rounds, len(fit.models)), np.nan)
    if table.k == 0:
        return out
    solver = _BatchSolver(fit, table)
    seeds = np.random.SeedSequence(seed).spawn((rounds + _CHUNK - 1) // _CHUNK)
    sizes = [min(_CHUNK, rounds - i * _CHUNK) for i in range(len(seeds))]
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        parts = list(pool.map(solver.run, seeds, sizes))
    out[:, fit.rated_index] = np.concatenate(parts)
    return out


# --- internals ---------------------------------------------------------------------------


def _params(fit: RatingFit, table: PairTable) -> tuple[FloatArray, bool]:
    davidson = fit.log_nu is not None and bool(np.isfinite(fit.log_nu))
    theta = fit.theta[fit.rated_index]
    return (np.append(theta, fit.log_nu) if davidson else theta), davidson


def _meat(table: PairTable, params: FloatArray, davidson: bool) -> FloatArray:
    """Sum over battles of weight^2 * score score^T, grouped by (pair, outcome)."""
    k = table.k
    d = params[table.ia] - params[table.ib]
    zero, one = np.zeros_like(d), np.ones_like(d)
    log_nu = float(params[k]) if davidson else None
    # Score of one battle of each outcome: a won, b won, tie.
    scores = [pair_scores(d, log_nu, *outcome) for outcome in
              ((one, zero, zero), (zero, one, zero), (zero, zero, one))]
    sq = (table.sq_ab, table.sq_ba, table.sq_t)
    meat = np.zeros((len(params), len(params)))
    meat[:k, :k] = pair_matrix(k, table.ia, table.ib, sum(w * s[0] ** 2 for w, s in zip(sq, scores)))
    if davidson:
        cross = sum(w * s[0] * s[1] for w, s in zip(sq, scores))
        meat[:k, k] = meat[k, :k] = scatter(k, table.ia, table.ib, cross)
        meat[k, k] = sum((w * s[1] ** 2).sum() for w, s in zip(sq, scores))
    return meat


def _quantile(reps: FloatArray, q: float) -> FloatArray:
    clipped = np.clip(reps, -10 * _INFINITE, 10 * _INFINITE)  # keeps NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN columns of unrated models
        out = np.nanquantile(clipped, q, axis=0)
    return np.where(out > _INFINITE, np.inf, np.where(out < -_INFINITE, -np.inf, out))


class _BatchSolver:
    """Draws and fits a chunk of replicates; numpy releases the GIL, so chunks run in threads."""

    def __init__(self, fit: RatingFit, table: PairTable) -> None:
        self.fit, self.table = fit, table
        self.params, self.davidson = _params(fit, table)
        _, _, info = objective(table, self.params, self.davidson, fit.prior)
        self.inverse = np.linalg.inv(solvable(info, table.k, fit.prior))
        p = len(table.ia)
        rows = np.arange(p)
        shape = (p, table.k)
        self.to_a = csr_matrix((np.ones(p), (rows, table.ia)), shape=shape)
        self.to_b = csr_matrix((np.ones(p), (rows, table.ib)), shape=shape)
        self.incidence = (self.to_a - self.to_b).tocsr()
        raw = np.concatenate([table.n_ab, table.n_ba, table.n_t]).astype(np.float64)
        weight = np.concatenate([table.w_ab, table.w_ba, table.t])
        self.cells = np.flatnonzero(raw > 0)
        self.total = int(raw.sum())
        self.prob = raw[self.cells] / raw.sum()
        self.mean_weight = weight[self.cells] / raw[self.cells]

    def run(self, seed: np.random.SeedSequence, size: int) -> FloatArray:
        table, k = self.table, self.table.k
        draws = np.random.default_rng(seed).multinomial(self.total, self.prob, size=size)
        resampled = np.zeros((size, 3 * len(table.ia)))
        resampled[:, self.cells] = draws * self.mean_weight
        w_ab, w_ba, t = np.split(resampled, 3, axis=1)
        # A model that won (or lost) nothing in a replicate has no finite rating there.
        won = (w_ab + t) @ self.to_a + (w_ba + t) @ self.to_b
        lost = (w_ba + t) @ self.to_a + (w_ab + t) @ self.to_b
        degenerate = ((won <= 0).any(1) | (lost <= 0).any(1)) & (self.fit.prior == 0)
        params = np.tile(self.params, (size, 1))
        data = (w_ab + t / 2, w_ab + w_ba + t) if not self.davidson else (w_ab, w_ba, t)
        active = np.flatnonzero(~degenerate)
        previous = np.full(size, np.inf)
        for _ in range(100):
            if len(active) == 0:
                break
            step = self._step(params[active], *(x[active] for x in data))
            params[active] += step
            change = np.abs(step).max(1)
            # Diverging replicates (far from the full-data fit) go to the exact fallback.
            bad = ~np.isfinite(change) | (change > 2 * previous[active])
            degenerate[active[bad]] = True
            previous[active] = change
            active = active[~bad & (change >= 1e-9)]
        degenerate[active] = True  # not converged within the iteration budget
        for r in np.flatnonzero(degenerate):
            params[r, :k] = self._fallback(w_ab[r], w_ba[r], t[r], won[r], lost[r])
        return params[:, :k]

    def _step(self, params: FloatArray, *data: FloatArray) -> FloatArray:
        """One Newton step per replicate with the full-data information matrix."""
        k, table = self.table.k, self.table
        theta = params[:, :k]
        d = theta[:, table.ia] - theta[:, table.ib]
        grad = np.empty_like(params)
        if self.davidson:
            g_d, g_eta = pair_scores(d, params[:, k:], *data)
            grad[:, k] = g_eta.sum(1)  # type: ignore[union-attr]
        else:
            score, n = data
            g_d = score - n * expit(d)
        grad[:, :k] = np.asarray(g_d @ self.incidence) - self.fit.prior * theta
        return grad @ self.inverse

    def _fallback(self, w_ab: FloatArray, w_ba: FloatArray, t: FloatArray, won: FloatArray,
                  lost: FloatArray) -> FloatArray:
        """Fit one awkward replicate exactly; unrated models get +-inf (or NaN if unordered)."""
        table, k = self.table, self.table.k
        wins, ties = np.zeros((k, k)), np.zeros((k, k))
        wins[table.ia, table.ib], wins[table.ib, table.ia] = w_ab, w_ba
        ties[table.ia, table.ib] = ties[table.ib, table.ia] = t
        zero = np.zeros((k, k), dtype=np.int64)
        names = tuple(str(i) for i in range(k))
        counts = PairCounts(names, wins, ties, wins, ties, zero, zero)
        refit = fit_bradley_terry(counts, ties=self.fit.ties, prior=self.fit.prior)
        theta = refit.theta.copy()
        theta[~refit.rated & (lost <= 0)] = np.inf
        theta[~refit.rated & (won <= 0)] = -np.inf
        return theta
