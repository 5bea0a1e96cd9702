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
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from judge_app.core.bradley_terry import (
    PairTable,
    RatingFit,
    expit,
    fit_bradley_terry,
    objective,
    pair_matrix,
    pair_scores,
    pair_table,
    scatter,
    solvable,
)
from judge_app.core.counts import FloatArray, PairCounts
from judge_app.core.threads import single_threaded_blas
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


@single_threaded_blas()
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
    lower, upper = _quantile(reps, tail), _quantile(reps, 1 - tail)
    # Every replicate alike (say, all battles tied) gives a zero-width percentile interval:
    # the sandwich's, with its floor for tie-only pairs, says what the finite data allow.
    flat = fit.rated & ~(upper - lower > 0)
    if flat.any():
        model = rating_intervals(fit, method="sandwich", level=level)
        lower, upper = np.where(flat, model.lower, lower), np.where(flat, model.upper, upper)
        se = np.where(flat, model.se, se)
    return Intervals(method, level, se, lower, upper, cov, reps)


@single_threaded_blas()
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


@single_threaded_blas()
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
    from concurrent.futures import ThreadPoolExecutor  # the bootstrap only (gate's start-up)

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        parts = list(pool.map(solver.run, seeds, sizes))
    out[:, fit.rated_index] = np.concatenate(parts)
    return out


# --- internals ---------------------------------------------------------------------------


def _params(fit: RatingFit, table: PairTable) -> tuple[FloatArray, bool]:
    theta = fit.theta[fit.rated_index]
    if fit.log_nu is None or not np.isfinite(fit.log_nu):
        return theta, False
    return np.append(theta, fit.log_nu), True


def _meat(table: PairTable, params: FloatArray, davidson: bool) -> FloatArray:
    """Sum over battles of weight^2 * score score^T, grouped by (pair, outcome)."""
    k = table.k
    d = params[table.ia] - params[table.ib]
    zero, one = np.zeros_like(d), np.ones_like(d)
    log_nu = float(params[k]) if davidson else None
    # Score of one battle of each outcome: a won, b won, tie.
    outcomes = ((one, zero, zero), (zero, one, zero), (zero, zero, one))  # a won, b won, tie
    scores = [pair_scores(d, log_nu, *outcome) for outcome in outcomes]
    sq = (table.sq_ab, table.sq_ba, table.sq_t)
    meat = np.zeros((len(params), len(params)))
    dd = np.asarray(sum(w * g_d**2 for w, (g_d, _) in zip(sq, scores, strict=True)))
    # A pair whose battles were all ties shows no variation, so its sample variance is zero
    # by construction (at equal ratings every score residual is 0) and the sandwich would
    # read that as certainty. Such a pair gets the variance the fitted model expects instead.
    only_ties = (table.w_ab == 0) & (table.w_ba == 0) & (table.t > 0)
    if only_ties.any():
        expected = _expected_square_score(d, log_nu, scores)
        dd = np.where(only_ties, np.maximum(dd, table.sq_t * expected), dd)
    meat[:k, :k] = pair_matrix(k, table.ia, table.ib, dd)
    if davidson:
        eta = [(w, g_d, g_eta) for w, (g_d, g_eta) in zip(sq, scores, strict=True)
               if g_eta is not None]
        cross = sum(w * g_d * g_eta for w, g_d, g_eta in eta)
        meat[:k, k] = meat[k, :k] = scatter(k, table.ia, table.ib, np.asarray(cross))
        meat[k, k] = sum(float((w * g_eta**2).sum()) for w, _, g_eta in eta)
    return meat


def _expected_square_score(
    d: FloatArray, log_nu: float | None, scores: list[tuple[FloatArray, FloatArray | None]],
) -> FloatArray:
    """E[g_d^2] of one battle under the fitted model: p(1 - p) with ties as half a win."""
    if log_nu is None:
        p = expit(d)
        return np.asarray(p * (1 - p))
    nu = np.exp(log_nu)
    e = np.exp(-np.abs(d) / 2)  # probabilities of (a won, b won, tie), overflow-free
    won, lost = np.where(d >= 0, 1.0, e * e), np.where(d >= 0, e * e, 1.0)
    z = won + lost + nu * e
    probs = (won / z, lost / z, nu * e / z)
    return np.asarray(sum(pr * g_d**2 for pr, (g_d, _) in zip(probs, scores, strict=True)))


def _quantile(reps: FloatArray, q: float) -> FloatArray:
    clipped = np.clip(reps, -10 * _INFINITE, 10 * _INFINITE)  # keeps NaN
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the all-NaN columns of unrated models
        out = np.nanquantile(clipped, q, axis=0)
    return np.where(out > _INFINITE, np.inf, np.where(out < -_INFINITE, -np.inf, out))


def multinomial(
    rng: np.random.Generator, total: int, prob: FloatArray, size: int,
) -> NDArray[np.int64]:
    """`size` exact Multinomial(total, prob) draws, about twice as fast as numpy's own.

    Independent Poisson counts with a mean a little below total * prob are, given their sum
    s, Multinomial(s, prob); rows with s > total are redrawn (rare), and total - s more
    categorical draws complete each row to Multinomial(total, prob).
    """
    slack = min(1.0, 4 / np.sqrt(total))
    out = rng.poisson(total * (1 - slack) * prob, size=(size, len(prob)))
    while (over := np.flatnonzero(out.sum(1) > total)).size:
        out[over] = rng.poisson(total * (1 - slack) * prob, size=(len(over), len(prob)))
    missing = total - out.sum(1)
    row = np.repeat(np.arange(size), missing)
    cell = np.searchsorted(np.cumsum(prob), rng.random(len(row)) * prob.sum(), side="right")
    cell = np.minimum(cell, len(prob) - 1)
    out += np.bincount(row * len(prob) + cell, minlength=size * len(prob)).reshape(size, -1)
    return out


class _BatchSolver:
    """Draws and fits a chunk of replicates; numpy releases the GIL, so chunks run in threads.

    Arrays are pairs x replicates and parameters x replicates, so that gathering a pair's
    two ratings and summing pairs into models (a sparse product) read contiguous rows.
    """

    def __init__(self, fit: RatingFit, table: PairTable) -> None:
        self.fit, self.table = fit, table
        self.params, self.davidson = _params(fit, table)
        _, _, info = objective(table, self.params, self.davidson, fit.prior)
        self.inverse = np.linalg.inv(solvable(info, table.k, fit.prior))
        p = len(table.ia)
        cols = np.arange(p)
        shape = (table.k, p)
        from scipy.sparse import csr_matrix  # the bootstrap only: `gate` starts without scipy

        self.from_a = csr_matrix((np.ones(p), (table.ia, cols)), shape=shape)
        self.from_b = csr_matrix((np.ones(p), (table.ib, cols)), shape=shape)
        self.incidence = (self.from_a - self.from_b).tocsr()
        raw = np.concatenate([table.n_ab, table.n_ba, table.n_t]).astype(np.float64)
        weight = np.concatenate([table.w_ab, table.w_ba, table.t])
        self.cells = np.flatnonzero(raw > 0)
        self.total = int(raw.sum())
        self.prob = raw[self.cells] / raw.sum()
        self.mean_weight = weight[self.cells] / raw[self.cells]

    def run(self, seed: np.random.SeedSequence, size: int) -> FloatArray:
        """Theta of `size` replicates (replicates x rated models)."""
        table, k = self.table, self.table.k
        draws = multinomial(np.random.default_rng(seed), self.total, self.prob, size)
        resampled = np.zeros((3 * len(table.ia), size))
        resampled[self.cells] = (draws * self.mean_weight).T
        w_ab, w_ba, t = np.split(resampled, 3)
        # A model that won (or lost) nothing in a replicate has no finite rating there.
        won = self.from_a @ (w_ab + t) + self.from_b @ (w_ba + t)
        lost = self.from_a @ (w_ba + t) + self.from_b @ (w_ab + t)
        degenerate = ((won <= 0).any(0) | (lost <= 0).any(0)) & (self.fit.prior == 0)
        params = np.repeat(self.params[:, None], size, axis=1)
        data = (w_ab, w_ba, t) if self.davidson else (w_ab + t / 2, w_ab + w_ba + t)
        active = np.flatnonzero(~degenerate)
        previous = np.full(size, np.inf)
        for _ in range(100):
            if len(active) == 0:
                break
            cols = slice(None) if len(active) == size else active
            step = self._step(params[:, cols], *(x[:, cols] for x in data))
            params[:, cols] += step
            change = np.abs(step).max(0)
            # Diverging replicates (far from the full-data fit) go to the exact fallback.
            bad = ~np.isfinite(change) | (change > 2 * previous[active])
            degenerate[active[bad]] = True
            previous[active] = change
            active = active[~bad & (change >= 1e-9)]
        degenerate[active] = True  # not converged within the iteration budget
        for r in np.flatnonzero(degenerate):
            params[:k, r] = self._fallback(w_ab[:, r], w_ba[:, r], t[:, r], won[:, r], lost[:, r])
        return params[:k].T

    def _step(self, params: FloatArray, *data: FloatArray) -> FloatArray:
        """One Newton step per replicate with the full-data information matrix."""
        k, table = self.table.k, self.table
        theta = params[:k]
        d = theta[table.ia] - theta[table.ib]
        grad = np.empty_like(params)
        if self.davidson:
            g_d, g_eta = pair_scores(d, params[k:], *data)
            grad[k] = g_eta.sum(0)  # type: ignore[union-attr]
        else:
            score, n = data
            g_d = score - n * expit(d)
        grad[:k] = self.incidence @ g_d - self.fit.prior * theta
        return np.asarray(self.inverse @ grad)

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
