"""Bradley-Terry strengths with a reliability and a position bias per rater.

Crowd-BT (Chen et al. 2013) and Dawid-Skene in one small model: rater r's vote on models i
(shown as a) and j follows the strengths with probability eta_r (their *reliability*) and is
a guess otherwise; a guess picks the side shown on the left with probability lambda_r (their
*position bias*; 0.5 = none):

    P(r votes for i) = eta_r * sigmoid(theta_i - theta_j) + (1 - eta_r) * q_r
    q_r = lambda_r if i was shown on the left, 1 - lambda_r if j was, 1/2 if unknown.

A rater who clicks at random has eta = 0; one who always clicks the left side has eta = 0 and
lambda = 1. Their votes then say nothing about theta and the fit learns to ignore them,
where plain Bradley-Terry counts every vote the same. People and judges are raters alike, so
a judge's reliability is learned from how its votes line up with everyone else's: that is
what weighs human and judge votes when both are rated together.

Count first, as for plain Bradley-Terry: verdicts become rows keyed by (rater, model_a,
model_b, shown order) with the votes for each side (a tie is half a vote for each, as the
default Bradley-Terry fit counts it), so a fit costs the same for any number of verdicts per
row. The fit is Fisher scoring on the penalised marginal likelihood, with the rater
parameters (two per rater, in logit space) eliminated by a Schur complement: each step
solves one models x models system.

Priors keep degenerate data honest: logit(eta) ~ N(logit 0.8, 1.5^2) and logit(lambda) ~
N(0, 1.5^2), so a rater with a handful of votes gets the prior's reliability with a wide
interval, not 0 or 1; a faint ridge on theta keeps the fit finite. Models get ratings only
where plain Bradley-Terry identifies them (bradley_terry.rated_models), so the identification
notes of the leaderboard apply unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from judge_app.core.bradley_terry import fit_bradley_terry, rated_models
from judge_app.core.counts import FloatArray, IntArray, PairCounts, counts_and_weights
from judge_app.core.leaderboard import LEADERBOARD_COLUMNS, NO_SPREAD, identification_notes
from judge_app.core.scale import RATING_SCALE, anchor_shift, interval_ranks, to_rating
from judge_app.core.threads import single_threaded_blas
from judge_app.errors import ValidationError

RELIABILITY_PRIOR_MEAN = 0.95  # a rater counts fully until their votes show otherwise
RELIABILITY_PRIOR_SD = 2.0  # in logit units: wide, so some 50 votes can overrule it
BIAS_PRIOR_SD = 1.5  # logit(lambda), centred on no bias
THETA_PRIOR = 0.01  # ridge precision on theta: a sd of 10 (about 1,700 rating points)
WARM_START_ROWS = 30_000  # beyond 3x this many rows, start from fits on shares of them
_EPS = 1e-12
_ORDER = {"a": 1, "b": -1}
_SHARE_A = {"a": 1.0, "b": 0.0, "tie": 0.5, "both_bad": 0.5}  # a tie is half a vote each way
_SLOT = {"a": 0, "b": 1, "tie": 2, "both_bad": 2}  # as in counts.count_battles
RATER_COLUMNS = ("rater_id", "source", "votes", "reliability", "reliability_lower",
                 "reliability_upper", "guess_left", "guess_left_lower", "guess_left_upper")


@dataclass(frozen=True, eq=False)
class RaterCounts:
    """Votes per (rater, model_a, model_b, shown order): everything the fit needs.

    `order` is +1 when model_a was shown on the left, -1 when model_b was, 0 when unknown
    (say, a judge verdict combined from both orders). `s` and `f` are the (weighted) votes
    for model_a and model_b, a tie counting half to each; `votes` the raw verdicts.
    """

    models: tuple[str, ...]
    raters: tuple[str, ...]
    sources: tuple[str, ...]  # per rater: human, judge, or "" when not given
    rater: IntArray
    model_a: IntArray
    model_b: IntArray
    order: IntArray
    s: FloatArray
    f: FloatArray
    votes: IntArray
    pairs: PairCounts  # the same verdicts as plain battle counts

    @property
    def rows(self) -> int:
        return len(self.rater)


def rater_counts(
    verdicts: pd.DataFrame, *, models: Sequence[str] | None = None,
    strong_weight: float = 1.0,
) -> RaterCounts:
    """Aggregate a verdict frame (one row per verdict, or grouped with a count `n`).

    Columns: rater_id, model_a, model_b, outcome; optional left_side ('a', 'b' or missing),
    source, strength, weight, n (as for counts.count_battles, whose tables `pairs` equals).
    Each string column is factorised once and everything after works on integer codes.
    """
    for column in ("rater_id", "model_a", "model_b", "outcome"):
        if column not in verdicts.columns:
            raise ValidationError(f"verdict frame lacks column {column!r}", field=column)
    if strong_weight <= 0:
        raise ValidationError("strong_weight must be positive", field="strong_weight")
    a_codes, a_names = pd.factorize(verdicts["model_a"])
    b_codes, b_names = pd.factorize(verdicts["model_b"])
    seen = pd.Index(a_names).astype(str).union(pd.Index(b_names).astype(str))
    if models is not None:
        if len(set(models)) != len(models):
            raise ValidationError("model list has duplicates", field="models")
        seen = pd.Index([str(x) for x in models])
    names = pd.Index(sorted(seen)) if models is None else seen
    ia = _through(a_codes, names.get_indexer(pd.Index(a_names).astype(str)))
    ib = _through(b_codes, names.get_indexer(pd.Index(b_names).astype(str)))
    if (ia < 0).any() or (ib < 0).any():
        raise ValidationError("verdict frame names models missing from the model list",
                              field="model")
    o_codes, o_names = pd.factorize(verdicts["outcome"])
    unknown = [v for v in o_names if v not in _SHARE_A]
    if unknown or (o_codes < 0).any():
        raise ValidationError(f"unknown outcome values {unknown or [None]}", field="outcome")
    share_a = np.array([_SHARE_A[v] for v in o_names])[o_codes]
    slot = np.array([_SLOT[v] for v in o_names], dtype=np.int64)[o_codes]
    r_codes, rater_names = pd.factorize(verdicts["rater_id"], sort=True)
    if (r_codes < 0).any():
        raise ValidationError("verdict frame has rows without a rater_id", field="rater_id")
    n_raters = len(rater_names)
    order: IntArray = np.zeros(len(verdicts), dtype=np.int64)
    if "left_side" in verdicts.columns:
        s_codes, s_names = pd.factorize(verdicts["left_side"])
        order = _through(s_codes, np.array([_ORDER.get(str(v), 0) for v in s_names],
                                           dtype=np.int64), missing=0)
    # A rater who always saw model_a (or always model_b) on the left was never randomised:
    # a taste for the left side is then a taste for one side of the stored order, which the
    # strengths can partly mimic. Their order counts as unknown; no position bias is fitted.
    left_a = np.bincount(r_codes[order == 1], minlength=n_raters)
    left_b = np.bincount(r_codes[order == -1], minlength=n_raters)
    order = np.where(((left_a == 0) | (left_b == 0))[r_codes], 0, order)
    n, weight = counts_and_weights(verdicts, strong_weight, "verdict")
    keep = ia != ib
    m = len(names)
    ia, ib, r_k, n, w = ia[keep], ib[keep], r_codes[keep], n[keep], (n * weight)[keep]
    key = ((r_k * m + ia) * m + ib) * 3 + (order[keep] + 1)
    uniq, inverse = np.unique(key, return_inverse=True)
    share = share_a[keep]
    s = np.bincount(inverse, w * share, len(uniq)).astype(np.float64)
    f = np.bincount(inverse, w * (1 - share), len(uniq)).astype(np.float64)
    votes = np.rint(np.bincount(inverse, n, len(uniq))).astype(np.int64)
    order_u = uniq % 3 - 1
    rest = uniq // 3
    b_u, rest = rest % m, rest // m
    a_u, r_u = rest % m, rest // m
    sources = [""] * n_raters
    if "source" in verdicts.columns:
        present, first = np.unique(r_codes, return_index=True)
        given = verdicts["source"].to_numpy()
        for code, row in zip(present, first, strict=True):
            sources[code] = "" if pd.isna(given[row]) else str(given[row])
    pairs = _pair_counts(tuple(str(x) for x in names), ia, ib, slot[keep], n, w)
    return RaterCounts(pairs.models, tuple(str(x) for x in rater_names), tuple(sources),
                       r_u.astype(np.int64), a_u.astype(np.int64), b_u.astype(np.int64),
                       order_u.astype(np.int64), s, f, votes, pairs)


def _through(codes: np.ndarray, table: np.ndarray, missing: int = -1) -> IntArray:
    """Per-row values from per-unique values (factorize codes; -1 = missing)."""
    return np.asarray(np.where(codes >= 0, table[codes], missing), dtype=np.int64)


def _pair_counts(models: tuple[str, ...], ia: IntArray, ib: IntArray, slot: IntArray,
                 n: FloatArray, w: FloatArray) -> PairCounts:
    """The tables count_battles makes from the same rows, from their codes."""
    m = len(models)
    cell = (ia * m + ib) * 3 + slot

    def table(values: FloatArray) -> FloatArray:
        return np.bincount(cell, values, m * m * 3).astype(np.float64).reshape(m, m, 3)

    weight = np.divide(w, n, out=np.zeros_like(w), where=n > 0)
    tw, tw_sq, raw = table(w), table(w * weight), table(n)
    wins, wins_sq, n_wins = (t[:, :, 0] + t[:, :, 1].T for t in (tw, tw_sq, raw))
    ties, ties_sq, n_ties = (t[:, :, 2] + t[:, :, 2].T for t in (tw, tw_sq, raw))
    return PairCounts(models, wins, ties, wins_sq, ties_sq,
                      np.rint(n_wins).astype(np.int64), np.rint(n_ties).astype(np.int64))


@dataclass(frozen=True, eq=False)
class ReliabilityFit:
    """Strengths (mean zero over the rated models, NaN for unrated) and per-rater figures.

    `covariance` is the inverse information of theta at the fit (observed; Fisher's where
    the observed one is not positive definite) with the rater parameters integrated out
    (models x models; NaN outside the rated models). Rater figures are in
    probability units; their `*_se` in logit units (for intervals that stay inside 0..1).
    """

    models: tuple[str, ...]
    theta: FloatArray
    rated: np.ndarray
    covariance: FloatArray
    raters: tuple[str, ...]
    sources: tuple[str, ...]
    reliability: FloatArray
    reliability_se: FloatArray
    guess_left: FloatArray
    guess_left_se: FloatArray
    rater_votes: IntArray
    sided: np.ndarray  # per rater: saw both sides on the left, so guess_left is estimated
    loglik: float
    iterations: int
    converged: bool

    @property
    def se(self) -> FloatArray:
        return np.sqrt(np.diag(self.covariance))

    def rater_table(self, level: float = 0.95) -> pd.DataFrame:
        """One row per rater: reliability and guess_left (share of guesses for the left
        side) with intervals at `level`; a rater with few votes shows the prior with a
        wide interval."""
        z = NormalDist().inv_cdf(0.5 + level / 2)
        out: dict[str, object] = {"rater_id": list(self.raters), "source": list(self.sources),
                                  "votes": self.rater_votes}
        unsided = np.where(self.sided, 1.0, np.nan)  # no randomised sides: no estimate
        for name, value, se, known in (
                ("reliability", self.reliability, self.reliability_se, 1.0),
                ("guess_left", self.guess_left, self.guess_left_se, unsided)):
            centre = logit(np.clip(value, _EPS, 1 - _EPS))
            out[name] = value * known
            out[f"{name}_lower"] = expit(centre - z * se) * known
            out[f"{name}_upper"] = expit(centre + z * se) * known
        return pd.DataFrame(out, columns=list(RATER_COLUMNS))

    def prob_a(self, rater: Sequence[str], model_a: Sequence[str], model_b: Sequence[str],
               left_side: Sequence[object]) -> FloatArray:
        """P(vote for model_a) for each given verdict; a rater the fit has not seen gets the
        prior (reliability RELIABILITY_PRIOR_MEAN, no bias). NaN where a model is unrated."""
        index = {m: i for i, m in enumerate(self.models)}
        who = {r: i for i, r in enumerate(self.raters)}
        ta = np.array([self.theta[index[m]] if m in index else np.nan for m in model_a])
        tb = np.array([self.theta[index[m]] if m in index else np.nan for m in model_b])
        r = np.array([who.get(x, -1) for x in rater])
        eta = np.where(r >= 0, self.reliability[r], RELIABILITY_PRIOR_MEAN)
        lam = np.where(r >= 0, self.guess_left[r], 0.5)
        o = np.array([_ORDER.get(str(x), 0) for x in left_side], dtype=np.float64)
        return np.asarray(eta * expit(ta - tb) + (1 - eta) * (0.5 + o * (lam - 0.5)))


class _Problem:
    """The rows among rated models, with indices into the fitted parameter vector.

    Everything that depends on theta alone is computed per pair and everything that depends
    on a rater alone per rater (or per rater and shown order), then gathered to the rows: a
    row costs a few multiplications and the sums below, whatever the number of models.
    """

    def __init__(self, k: int, n_raters: int, ia: IntArray, ib: IntArray, r: IntArray,
                 order: IntArray, s: FloatArray, f: FloatArray) -> None:
        self.k, self.n_raters = k, n_raters
        self.ia, self.ib, self.r, self.order = ia, ib, r, order
        self.ro = r * 3 + order + 1  # (rater, order) cell
        self.s, self.f = s, f
        self.n = s + f
        pairs, self.pair_of = np.unique(ia * k + ib, return_inverse=True)
        self.pa, self.pb = pairs // k, pairs % k
        self.n_pairs = len(pairs)
        self.ma = ia * n_raters + r  # (model, rater) cells for the cross block
        self.mb = ib * n_raters + r
        self.mu_a = float(logit(RELIABILITY_PRIOR_MEAN))
        self.sign = np.tile([-1.0, 0.0, 1.0], self.n_raters)  # order per (rater, order) cell
        # Rows come in rater order: per-rater sums are segment sums (faster than bincount).
        self.present, self.starts = np.unique(r, return_index=True)
        self._cache: tuple[FloatArray, tuple[FloatArray, ...]] | None = None

    def per_rater(self, values: FloatArray) -> FloatArray:
        out = np.zeros(self.n_raters)
        if len(values):
            out[self.present] = np.add.reduceat(values, self.starts)
        return out

    @classmethod
    def of(cls, counts: RaterCounts, rated: np.ndarray) -> _Problem:
        position = np.full(len(counts.models), -1)
        position[rated] = np.arange(int(rated.sum()))
        ia, ib = position[counts.model_a], position[counts.model_b]
        keep = (ia >= 0) & (ib >= 0) & (counts.s + counts.f > 0)
        return cls(int(rated.sum()), len(counts.raters), ia[keep], ib[keep],
                   counts.rater[keep], counts.order[keep], counts.s[keep], counts.f[keep])

    def every(self, step: int) -> _Problem:
        """Every step-th row (rows are in rater order, so every rater keeps its share)."""
        pick = slice(None, None, step)
        return _Problem(self.k, self.n_raters, self.ia[pick], self.ib[pick], self.r[pick],
                        self.order[pick], self.s[pick], self.f[pick])

    def rows(self, x: FloatArray) -> tuple[FloatArray, ...]:
        """Per-row P(vote for a), with the pair, rater and cell tables it came from (kept
        for the last x: the line search's accepted point is where the next step starts)."""
        if self._cache is not None and np.array_equal(self._cache[0], x):
            return self._cache[1]
        out = self._rows(x)
        self._cache = (x.copy(), out)
        return out

    def _rows(self, x: FloatArray) -> tuple[FloatArray, ...]:
        k, nr = self.k, self.n_raters
        theta = x[:k]
        eta_r, lam_r = expit(x[k:k + nr]), expit(x[k + nr:])
        p_pair = expit(theta[self.pa] - theta[self.pb])
        q_cell = 0.5 + self.sign * (np.repeat(lam_r, 3) - 0.5)
        p, eta, q = p_pair[self.pair_of], eta_r[self.r], q_cell[self.ro]
        p_minus_q = p - q
        big_p = np.clip(q + eta * p_minus_q, _EPS, 1 - _EPS)
        return big_p, p_minus_q, eta, p_pair, eta_r, lam_r

    def value(self, x: FloatArray) -> float:
        big_p = self.rows(x)[0]
        k, nr = self.k, self.n_raters
        theta, a, b = x[:k], x[k:k + nr], x[k + nr:]
        return (float(self.s @ np.log(big_p) + self.f @ np.log1p(-big_p))
                - THETA_PRIOR / 2 * float(theta @ theta)
                - float(((a - self.mu_a) ** 2).sum()) / (2 * RELIABILITY_PRIOR_SD**2)
                - float((b**2).sum()) / (2 * BIAS_PRIOR_SD**2))


@dataclass
class _State:
    grad: FloatArray
    a_block: FloatArray  # theta x theta information
    cross: FloatArray  # theta x (rater, 2)
    d_block: FloatArray  # rater x 2 x 2


def _information(pb: _Problem, x: FloatArray, observed: bool = False) -> _State:
    """Gradient and information of the penalised log-likelihood: the expected (Fisher)
    information, always positive definite, or the observed one (Newton's; converges in a
    few steps, where Fisher steps crawl along the ridge between theta's spread and the
    raters' reliabilities).

    Per row, with J the derivatives of P: dP/dd = eta p(1-p), dP/da = eta(1-eta)(p-q),
    dP/db = (1-eta) o lambda(1-lambda); the information is w J J^T (Fisher: w = n/(P(1-P));
    observed: s/P^2 + f/(1-P)^2) minus g times the second derivatives of P (observed only),
    g = s/P - f/(1-P) the score in P. Row factors that belong to a pair or a rater are
    multiplied in after the sums."""
    k, nr = pb.k, pb.n_raters
    theta, a, b = x[:k], x[k:k + nr], x[k + nr:]
    big_p, pmq, eta, p_pair, eta_r, lam_r = pb.rows(x)
    inv_p, inv_q = 1 / big_p, 1 / (1 - big_p)
    s_p, f_q = pb.s * inv_p, pb.f * inv_q
    g = s_p - f_q
    w = s_p * inv_p + f_q * inv_q if observed else pb.n * inv_p * inv_q
    dp_pair = p_pair * (1 - p_pair)
    dp = dp_pair[pb.pair_of]
    ea_r = eta_r * (1 - eta_r)  # d eta / d a
    # per (rater, order) cell: dP/db = (1 - eta) o lambda (1 - lambda)
    jb_cell = np.repeat((1 - eta_r) * lam_r * (1 - lam_r), 3) * pb.sign
    j_b = jb_cell[pb.ro]
    w_eta = w * eta
    g_eta_pair = np.bincount(pb.pair_of, g * eta, pb.n_pairs)
    grad = np.empty_like(x)
    gd_pair = dp_pair * g_eta_pair
    grad[:k] = np.bincount(pb.pa, gd_pair, k) - np.bincount(pb.pb, gd_pair, k) \
        - THETA_PRIOR * theta
    g_pmq = pb.per_rater(g * pmq)
    grad[k:k + nr] = ea_r * g_pmq - (a - pb.mu_a) / RELIABILITY_PRIOR_SD**2
    g_cell = np.bincount(pb.ro, g, 3 * nr)
    grad[k + nr:] = (g_cell * jb_cell).reshape(nr, 3).sum(1) - b / BIAS_PRIOR_SD**2
    per_pair = dp_pair**2 * np.bincount(pb.pair_of, w_eta * eta, pb.n_pairs)
    w_pmq = w * pmq
    da_row = w_eta * pmq  # times dp, then ea_r per rater
    if observed:
        per_pair -= dp_pair * (1 - 2 * p_pair) * g_eta_pair
        da_row -= g
    a_block = np.zeros((k, k))
    np.add.at(a_block, (pb.pa, pb.pb), -per_pair)
    a_block += a_block.T
    a_block[np.diag_indices(k)] = -a_block.sum(1) + THETA_PRIOR
    cross = np.empty((k, nr, 2))
    for slot, v in enumerate((dp * da_row, dp * w_eta * j_b)):
        cross[:, :, slot] = (np.bincount(pb.ma, v, k * nr)
                             - np.bincount(pb.mb, v, k * nr)).reshape(k, nr)
    cross[:, :, 0] *= ea_r
    aa = pb.per_rater(w_pmq * pmq) * ea_r**2
    ab = pb.per_rater(w_pmq * j_b) * ea_r
    bb = pb.per_rater(w * j_b * j_b)
    if observed:
        aa -= ea_r * (1 - 2 * eta_r) * g_pmq
        lam_d = (np.repeat(lam_r * (1 - lam_r), 3) * g_cell * pb.sign).reshape(nr, 3).sum(1)
        ab += ea_r * lam_d
        bb -= (1 - eta_r) * (1 - 2 * lam_r) * lam_d
    d_block = np.empty((nr, 2, 2))
    d_block[:, 0, 0] = aa + 1 / RELIABILITY_PRIOR_SD**2
    d_block[:, 1, 1] = bb + 1 / BIAS_PRIOR_SD**2
    d_block[:, 0, 1] = d_block[:, 1, 0] = ab
    return _State(grad, a_block, cross, d_block)


def _times_blocks(cross: FloatArray, blocks: FloatArray) -> FloatArray:
    """cross (k, r, 2) times each rater's 2 x 2 block."""
    out = np.empty_like(cross)
    out[:, :, 0] = cross[:, :, 0] * blocks[:, 0, 0] + cross[:, :, 1] * blocks[:, 1, 0]
    out[:, :, 1] = cross[:, :, 0] * blocks[:, 0, 1] + cross[:, :, 1] * blocks[:, 1, 1]
    return out


def _solve(pb: _State, k: int,
           pin: bool = False) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Newton step by the Schur complement; also the pinned inverse of the theta block and
    D^-1 B^T (for the rater variances)."""
    nr = pb.d_block.shape[0]
    d_inv = np.asarray(np.linalg.inv(pb.d_block), dtype=np.float64)
    bd = _times_blocks(pb.cross, d_inv)  # B D^-1
    flat_b, flat_bd = pb.cross.reshape(k, 2 * nr), bd.reshape(k, 2 * nr)
    schur = pb.a_block - flat_bd @ flat_b.T
    if pin:  # for the covariance: the free shift of theta pinned (mean-zero direction v v^T)
        schur += 1.0 / k
    g_t, g_r = pb.grad[:k], pb.grad[k:].reshape(2, nr).T  # rater grads as (r, 2)
    rhs = g_t - flat_bd @ g_r.reshape(-1)
    schur_inv = np.asarray(np.linalg.inv(schur), dtype=np.float64)
    step_t = schur_inv @ rhs
    rest = g_r - (step_t @ flat_b).reshape(nr, 2)
    step_r = (d_inv * rest[:, None, :]).sum(2)
    step = np.concatenate([step_t, step_r[:, 0], step_r[:, 1]]).astype(np.float64)
    return step, schur_inv, bd


def _positive_definite(state: _State, k: int) -> bool:
    """Whether the information is positive definite (so Newton's step goes uphill): every
    rater block, and the Schur complement of the theta block."""
    d = state.d_block
    if not ((d[:, 0, 0] > 0) & (d[:, 0, 0] * d[:, 1, 1] - d[:, 0, 1] ** 2 > 0)).all():
        return False
    bd = _times_blocks(state.cross, np.asarray(np.linalg.inv(d), dtype=np.float64))
    bd = bd.reshape(k, -1)
    schur = state.a_block - bd @ state.cross.reshape(k, -1).T
    try:
        np.linalg.cholesky(schur)
    except np.linalg.LinAlgError:
        return False
    return True


def _climb(pb: _Problem, x: FloatArray, *, tol: float,
           max_iter: int) -> tuple[FloatArray, float, int, bool, _State]:
    """Newton's steps where the observed information is positive definite, Fisher scoring
    elsewhere, each step halved until the penalised log-likelihood does not fall. Stops when
    the predicted gain of the next step (half the Newton decrement) is below `tol`
    log-likelihood units: the estimate is then within sqrt(2 tol) standard errors of the
    optimum."""
    value = pb.value(x)
    converged, iterations, try_newton = False, 0, True
    state: _State | None = None
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported
        newton = _information(pb, x, observed=True) if try_newton else None
        if newton is not None and _positive_definite(newton, pb.k):
            state = newton
        else:
            state = _information(pb, x)
            try_newton = False  # far from the optimum: Fisher until a step goes through whole
        step = _solve(state, pb.k)[0]
        if float(state.grad @ step) / 2 < tol:
            converged = True
            break
        scale = 1.0
        while True:
            trial = pb.value(x + scale * step)
            if trial >= value - 1e-12 * abs(value) or scale < 1e-6:
                break
            scale /= 2
        x, value = x + scale * step, trial
        try_newton = try_newton or scale == 1.0
    assert state is not None, "fit_reliability refuses max_iter < 1"
    return x, value, iterations, converged, state


@single_threaded_blas()
def fit_reliability(
    counts: RaterCounts, *, tol: float = 1e-3, max_iter: int = 100,
) -> ReliabilityFit:
    """Fit strengths, reliabilities and position biases jointly (see the module docstring)."""
    if max_iter < 1 or tol <= 0:
        raise ValidationError("max_iter must be at least 1 and tol positive", field="max_iter")
    m, nr = len(counts.models), len(counts.raters)
    rated = rated_models(counts.pairs)
    pb = _Problem.of(counts, rated)
    k = pb.k
    nan_models = np.full(m, np.nan)
    if k < 2 or nr == 0:
        return ReliabilityFit(
            counts.models, nan_models, np.zeros(m, dtype=bool), np.full((m, m), np.nan),
            counts.raters, counts.sources, np.full(nr, RELIABILITY_PRIOR_MEAN),
            np.full(nr, RELIABILITY_PRIOR_SD), np.full(nr, 0.5), np.full(nr, BIAS_PRIOR_SD),
            _rater_votes(counts), _sided(counts), float("nan"), 0, False)
    start = fit_bradley_terry(counts.pairs).theta[rated]
    x = np.concatenate([start, np.full(nr, pb.mu_a), np.zeros(nr)])
    # Warm starts on every 27th, 9th, 3rd row (as many as the rows allow): each share's fit
    # is a few Newton steps from the next one's, and a share costs only its rows.
    step = 3 ** int(np.log(max(len(pb.s) / WARM_START_ROWS, 1)) / np.log(3))
    while step > 1:
        x = _climb(pb.every(step), x, tol=1.0, max_iter=max_iter)[0]
        step //= 3
    x, value, iterations, converged, state = _climb(pb, x, tol=tol, max_iter=max_iter)
    if not converged:
        state = _information(pb, x)
    _, schur_inv, bd = _solve(state, k, pin=True)
    centre = np.eye(k) - 1.0 / k
    cov_t = centre @ schur_inv @ centre
    # Marginal variance of each rater parameter: D^-1 + D^-1 B^T S^-1 B D^-1 (diagonal).
    d_inv = np.linalg.inv(state.d_block)
    flat_bd = bd.reshape(k, 2 * nr)
    through = (flat_bd * (schur_inv @ flat_bd)).sum(0).reshape(nr, 2)
    var_r = np.stack([d_inv[:, 0, 0], d_inv[:, 1, 1]], axis=1) + through
    theta = nan_models.copy()
    theta[rated] = x[:k] - x[:k].mean()
    cov = np.full((m, m), np.nan)
    cov[np.ix_(rated, rated)] = cov_t
    return ReliabilityFit(
        counts.models, theta, rated, cov, counts.raters, counts.sources,
        expit(x[k:k + nr]), np.sqrt(var_r[:, 0]), expit(x[k + nr:]), np.sqrt(var_r[:, 1]),
        _rater_votes(counts), _sided(counts), value, iterations, converged)


def _sided(counts: RaterCounts) -> np.ndarray:
    return np.bincount(counts.rater, counts.order != 0, len(counts.raters)) > 0


def _rater_votes(counts: RaterCounts) -> IntArray:
    return np.bincount(counts.rater, counts.votes, len(counts.raters)).astype(np.int64)


def reliability_leaderboard(
    verdicts: pd.DataFrame, *, level: float = 0.95, anchor: tuple[str, float] | None = None,
    strong_weight: float = 1.0,
) -> tuple[pd.DataFrame, ReliabilityFit]:
    """The leaderboard table (the columns of core.leaderboard.leaderboard, best first) from
    the reliability model, and the fit (for its rater table).

    Intervals are model-based (inverse information with the rater parameters integrated
    out); models the battles do not identify carry the same notes as in the
    plain table."""
    if not 0 < level < 1:
        raise ValidationError("level must be between 0 and 1", field="level")
    counts = rater_counts(verdicts, strong_weight=strong_weight)
    fit = fit_reliability(counts)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    se = fit.se
    shift = anchor_shift(fit.models, fit.theta, anchor)
    lower, upper = to_rating(fit.theta - z * se, shift), to_rating(fit.theta + z * se, shift)
    pairs = counts.pairs
    wins, losses, ties = pairs.n_wins.sum(1), pairs.n_wins.sum(0), pairs.n_ties.sum(1)
    notes = identification_notes(pairs, fit.rated)
    with np.errstate(invalid="ignore"):
        flat = fit.rated & ~(upper - lower > 0)
    notes = [NO_SPREAD if f and not n else n for f, n in zip(flat, notes, strict=True)]
    table = pd.DataFrame({
        "model": list(fit.models), "rating": to_rating(fit.theta, shift), "lower": lower,
        "upper": upper, "se": RATING_SCALE * se, "rank": interval_ranks(lower, upper),
        "rated": fit.rated, "battles": wins + losses + ties, "wins": wins, "ties": ties,
        "losses": losses, "identified": [not n for n in notes], "note": notes,
    }, columns=list(LEADERBOARD_COLUMNS))
    table = table.sort_values(["rating", "model"], ascending=[False, True], na_position="last",
                              kind="stable").reset_index(drop=True)
    table.attrs.update({"ci": "model-based", "level": level, "ties": "half", "prior": 0.0,
                        "anchor": anchor, "rating_model": "reliability",
                        "converged": fit.converged})
    return table, fit


def predicted_win_rates(table: pd.DataFrame) -> pd.DataFrame:
    """P(row beats column) for a fully reliable rater, from a reliability leaderboard's
    ratings (the noise and position terms left out); NaN on the diagonal and for unrated
    models, in the table's order."""
    rating = table["rating"].to_numpy(dtype=np.float64)
    rate = expit((rating[:, None] - rating[None, :]) / RATING_SCALE)
    np.fill_diagonal(rate, np.nan)
    names = list(table["model"])
    return pd.DataFrame(rate, index=names, columns=names)
