"""Bradley-Terry by Newton's method on pair counts.

theta is the log-strength: P(i beats j) = sigmoid(theta_i - theta_j). Ties count as half a
win by default (as Chatbot Arena and LMArena do); `ties="davidson"` fits Davidson's tie
model instead, with one extra parameter nu: P(tie) = nu / (2 cosh(d / 2) + nu) for
d = theta_i - theta_j, so that among decisive battles the win odds stay exp(d).

The maximum-likelihood theta does not exist unless the "beat or tied" graph is strongly
connected. With `prior=0` (default, the plain MLE that LMArena reports) we rate the largest
strongly connected group of models (none if two groups tie for largest) and mark every other
model unrated (theta NaN) rather than print a rating that is only an artefact of the
optimiser. Davidson's fit can fail even then (say, one model never lost a decisive battle
but tied some: nu and its lead grow together without end); then nobody is rated. A positive
`prior` adds a ridge penalty prior/2 * sum(theta^2), which rates every model that has played.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from judge_app.core.counts import FloatArray, IntArray, PairCounts
from judge_app.core.threads import single_threaded_blas
from judge_app.core.vocabulary import TieModel as TieModel  # defined with the glossary
from judge_app.errors import ValidationError

BoolArray = NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class RatingFit:
    """A fitted Bradley-Terry model; `theta` has mean zero over the rated models."""

    models: tuple[str, ...]
    theta: FloatArray  # NaN for unrated models
    rated: BoolArray
    ties: TieModel
    log_nu: float | None  # Davidson's log tie parameter (-inf: no ties seen); None for "half"
    prior: float
    iterations: int
    counts: PairCounts

    @property
    def rated_index(self) -> IntArray:
        return np.flatnonzero(self.rated)


class PairTable(NamedTuple):
    """The non-empty pairs among the rated models, indexed 0..k-1 in rated order."""

    k: int
    ia: IntArray
    ib: IntArray
    w_ab: FloatArray  # weight of battles ia won
    w_ba: FloatArray
    t: FloatArray  # weight of ties
    sq_ab: FloatArray  # squared-weight sums, for the sandwich
    sq_ba: FloatArray
    sq_t: FloatArray
    n_ab: IntArray  # raw counts, for the bootstrap
    n_ba: IntArray
    n_t: IntArray


def expit(x: FloatArray | float) -> FloatArray:
    """The logistic function 1 / (1 + e^-x): scipy.special.expit's values to 1e-15 relative
    (tests/test_cli_startup.py), without importing scipy, which alone would
    double the start-up of `judge-app gate`."""
    with np.errstate(over="ignore"):  # e^-x overflows to inf for x < -709: the answer is 0
        return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))))


def strong_components(edges: BoolArray) -> IntArray:
    """Labels of the strongly connected components of the directed graph `edges[i, j]`
    (i -> j), by Tarjan's algorithm without recursion. Labels group nodes; their numbering
    carries no meaning."""
    n = len(edges)
    succ = [np.flatnonzero(edges[i]).tolist() for i in range(n)]
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    labels = np.full(n, -1, dtype=np.int64)
    stack: list[int] = []
    counter = components = 0
    for root in range(n):
        if index[root] >= 0:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack[node] = True
            if i < len(succ[node]):
                work.append((node, i + 1))
                nxt = succ[node][i]
                if index[nxt] < 0:
                    work.append((nxt, 0))
                elif on_stack[nxt]:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:  # finished: hand the low link to the parent
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                while True:
                    member = stack.pop()
                    on_stack[member] = False
                    labels[member] = components
                    if member == node:
                        break
                components += 1
    return labels


def pair_table(counts: PairCounts, rated: BoolArray) -> PairTable:
    idx = np.flatnonzero(rated)
    k = len(idx)
    ia, ib = np.triu_indices(k, 1)
    gi, gj = idx[ia], idx[ib]
    total = counts.wins[gi, gj] + counts.wins[gj, gi] + counts.ties[gi, gj]
    keep = total > 0
    ia, ib, gi, gj = ia[keep], ib[keep], gi[keep], gj[keep]
    return PairTable(
        k, ia.astype(np.int64), ib.astype(np.int64),
        counts.wins[gi, gj], counts.wins[gj, gi], counts.ties[gi, gj],
        counts.wins_sq[gi, gj], counts.wins_sq[gj, gi], counts.ties_sq[gi, gj],
        counts.n_wins[gi, gj], counts.n_wins[gj, gi], counts.n_ties[gi, gj],
    )


@single_threaded_blas()
def fit_bradley_terry(
    counts: PairCounts,
    *,
    ties: TieModel = "half",
    prior: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> RatingFit:
    """Maximum-likelihood (or ridge, with `prior` > 0) Bradley-Terry ratings."""
    if ties not in ("half", "davidson"):
        raise ValidationError(f"unknown tie model {ties!r}", field="ties")
    if prior < 0:
        raise ValidationError("prior must be non-negative", field="prior")
    rated = rated_models(counts, prior, ties)
    table = pair_table(counts, rated)
    log_nu: float | None = None
    davidson = ties == "davidson"
    if davidson:
        n_ties, n_total = table.t.sum(), (table.w_ab + table.w_ba + table.t).sum()
        if n_ties == 0 or n_ties == n_total:
            # nu's MLE is 0 (then Davidson is plain Bradley-Terry) or infinite (all equal).
            davidson = False
            log_nu = -np.inf if n_ties == 0 else np.inf
        else:
            share = n_ties / n_total
            log_nu = float(np.log(2 * share / (1 - share)))
    params = np.zeros(table.k + davidson)
    if davidson:
        params[-1] = log_nu
    if log_nu == np.inf:  # only ties: every rated model is equal
        iterations = 0
    else:
        params, iterations = _newton(table, params, davidson, prior, tol, max_iter)
    if davidson:
        log_nu = float(params[-1])
    theta = np.full(len(counts.models), np.nan)
    theta[rated] = params[: table.k] - (params[: table.k].mean() if prior == 0 and table.k else 0)
    return RatingFit(counts.models, theta, rated, ties, log_nu, prior, iterations, counts)


def rated_models(counts: PairCounts, prior: float = 0.0, ties: TieModel = "half") -> BoolArray:
    """Which models get a finite rating: see the module docstring."""
    played = (counts.wins.sum(0) + counts.wins.sum(1) + counts.ties.sum(1)) > 0
    if prior > 0:
        return played
    rated = _largest_connected_group(counts, played)
    if ties == "davidson" and _davidson_diverges(counts, rated):
        rated[:] = False
    return rated


def _largest_connected_group(counts: PairCounts, played: BoolArray) -> BoolArray:
    credit = (counts.wins + counts.ties) > 0  # i -> j: i beat or tied j
    labels = strong_components(credit)
    labels = np.where(played, labels, -1)
    groups, sizes = np.unique(labels[played], return_counts=True)
    weight = counts.wins.sum(1) + counts.wins.sum(0) + counts.ties.sum(1)
    keys = sorted(((int(size), float(weight[labels == g].sum())), g)
                  for g, size in zip(groups, sizes, strict=True))
    # The one largest group (by models, then battles); a tie for largest has no honest winner.
    if not keys or keys[-1][0][0] < 2 or (len(keys) > 1 and keys[-1][0] == keys[-2][0]):
        return np.zeros(len(counts.models), dtype=bool)
    return np.asarray(labels == keys[-1][1])


def _davidson_diverges(counts: PairCounts, rated: BoolArray) -> bool:
    """Whether Davidson's likelihood keeps rising as nu and the rating gaps grow together.

    That happens when (scaling so that 2 log nu grows by 1) every decisive win can widen
    its gap by at least 1 while every tie keeps its gap within 1: a system of difference
    constraints, infeasible exactly when Bellman-Ford finds a negative cycle (any cycle of
    decisive wins is one). With no ties, or no decisive battles, nu sits on a boundary
    that fit_bradley_terry handles itself.
    """
    idx = np.flatnonzero(rated)
    wins, ties = counts.wins[np.ix_(idx, idx)], counts.ties[np.ix_(idx, idx)]
    if len(idx) < 2 or ties.sum() == 0 or wins.sum() == 0:
        return False
    # Edge u -> v of weight w stands for x_v - x_u <= w.
    weight = np.full((len(idx), len(idx)), np.inf)
    weight[ties > 0] = 1.0
    weight[wins > 0] = -1.0  # i beat j: x_j <= x_i - 1
    dist = np.zeros(len(idx))
    for _ in range(len(idx)):
        relaxed = np.minimum(dist, (dist[:, None] + weight).min(0))
        if np.array_equal(relaxed, dist):
            return True  # feasible: a direction of unbounded likelihood exists
        dist = relaxed
    return False


def expected_score(fit: RatingFit) -> FloatArray:
    """P(row beats column) + P(tie) / 2 under the fitted model (NaN for unrated models)."""
    d = fit.theta[:, None] - fit.theta[None, :]
    if fit.log_nu is None or fit.log_nu == -np.inf:
        return np.asarray(expit(d))
    nu = np.exp(fit.log_nu)
    if nu == np.inf:
        return d * 0 + 0.5
    return np.asarray((np.exp(d / 2) + nu / 2) / (2 * np.cosh(d / 2) + nu))


# --- derivatives shared by the fit, the sandwich and the bootstrap -----------------------


class Terms(NamedTuple):
    """Per-pair log-likelihood, score and negative second derivatives (d = theta_a - theta_b)."""

    loglik: FloatArray
    g_d: FloatArray
    g_eta: FloatArray | None
    h_dd: FloatArray
    h_deta: FloatArray | None
    h_etaeta: FloatArray | None


def pair_scores(
    d: FloatArray, log_nu: FloatArray | float | None, w_ab: FloatArray, w_ba: FloatArray,
    t: FloatArray,
) -> tuple[FloatArray, FloatArray | None]:
    """Scores only (what the bootstrap iterates on); broadcasts over leading axes."""
    if log_nu is None:
        return (w_ab + t / 2) - (w_ab + w_ba + t) * expit(d), None
    n = w_ab + w_ba + t
    nu = np.exp(log_nu)
    e = np.exp(-np.abs(d) / 2)
    z = 1 + e * e + nu * e
    g_d = (w_ab - w_ba) / 2 - n * np.sign(d) * (1 - e * e) / (2 * z)
    return g_d, t - n * nu * e / z


def pair_terms(
    d: FloatArray, log_nu: float | None, w_ab: FloatArray, w_ba: FloatArray, t: FloatArray,
) -> Terms:
    g_d, g_eta = pair_scores(d, log_nu, w_ab, w_ba, t)
    n = w_ab + w_ba + t
    if log_nu is None:
        s, p = w_ab + t / 2, expit(d)
        loglik = -s * np.logaddexp(0, -d) - (n - s) * np.logaddexp(0, d)
        return Terms(loglik, g_d, None, n * p * (1 - p), None, None)
    # Written with e = exp(-|d|/2) so that no cosh overflows: z = e * (2 cosh(d/2) + nu).
    nu = float(np.exp(log_nu))
    e = np.exp(-np.abs(d) / 2)
    e2 = e * e
    z = 1 + e2 + nu * e
    loglik = (w_ab - w_ba) * d / 2 + t * log_nu - n * (np.abs(d) / 2 + np.log(z))
    h_dd = n * (e2 + nu * e * (1 + e2) / 4) / z**2
    h_deta = -n * np.sign(d) * nu * e * (1 - e2) / (2 * z**2)
    h_etaeta = n * nu * e * (1 + e2) / z**2
    return Terms(loglik, g_d, g_eta, h_dd, h_deta, h_etaeta)


def scatter(k: int, ia: IntArray, ib: IntArray, values: FloatArray) -> FloatArray:
    """Sum per-pair values into per-model totals: +value for a, -value for b."""
    return np.asarray(np.bincount(ia, values, k) - np.bincount(ib, values, k), dtype=np.float64)


def pair_matrix(k: int, ia: IntArray, ib: IntArray, values: FloatArray) -> FloatArray:
    """The Laplacian-shaped matrix sum over pairs of value * (e_a - e_b)(e_a - e_b)^T."""
    out = np.zeros((k, k))
    out[ia, ib] = -values
    out[ib, ia] = -values
    out[np.arange(k), np.arange(k)] = np.bincount(ia, values, k) + np.bincount(ib, values, k)
    return out


def objective(
    table: PairTable, params: FloatArray, davidson: bool, prior: float,
) -> tuple[float, FloatArray, FloatArray]:
    """Penalised log-likelihood, its gradient, and its negative Hessian (information)."""
    k = table.k
    theta = params[:k]
    d = theta[table.ia] - theta[table.ib]
    terms = pair_terms(d, float(params[k]) if davidson else None, table.w_ab, table.w_ba, table.t)
    value = float(terms.loglik.sum()) - prior / 2 * float(theta @ theta)
    grad = np.zeros_like(params)
    grad[:k] = scatter(k, table.ia, table.ib, terms.g_d) - prior * theta
    info = np.zeros((len(params), len(params)))
    info[:k, :k] = pair_matrix(k, table.ia, table.ib, terms.h_dd) + prior * np.eye(k)
    if davidson:
        assert terms.g_eta is not None and terms.h_deta is not None
        assert terms.h_etaeta is not None
        grad[k] = terms.g_eta.sum()
        info[:k, k] = info[k, :k] = scatter(k, table.ia, table.ib, terms.h_deta)
        info[k, k] = terms.h_etaeta.sum()
    return value, grad, info


def solvable(info: FloatArray, k: int, prior: float) -> FloatArray:
    """Information made invertible by pinning the free shift of theta when unpenalised.

    Adding v v^T (v = mean-zero direction) changes nothing on the other directions, so the
    inverse equals the pseudo-inverse there: the mean-zero convention.
    """
    if prior > 0 or k == 0:
        return info
    v = np.zeros(len(info))
    v[:k] = 1 / np.sqrt(k)
    return info + np.outer(v, v)


def _newton(
    table: PairTable, params: FloatArray, davidson: bool, prior: float, tol: float,
    max_iter: int,
) -> tuple[FloatArray, int]:
    if table.k == 0:
        return params, 0
    value, grad, info = objective(table, params, davidson, prior)
    for iteration in range(1, max_iter + 1):
        step = np.linalg.solve(solvable(info, table.k, prior), grad)
        scale = 1.0
        while True:  # halve until the log-likelihood does not fall (it is concave)
            trial = params + scale * step
            trial_value, trial_grad, trial_info = objective(table, trial, davidson, prior)
            if trial_value >= value - 1e-12 * abs(value) or scale < 1e-8:
                break
            scale /= 2
        params, value, grad, info = trial, trial_value, trial_grad, trial_info
        if np.max(np.abs(scale * step)) < tol:
            return params, iteration
    return params, max_iter
