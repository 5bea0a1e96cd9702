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
row. The fit maximises the penalised likelihood by Newton's method (Fisher scoring where the
observed information is not positive definite), with the rater parameters (two per rater,
in logit space) eliminated by a Schur complement: each step solves one models x models
system. Its cost is passes over the rows, so it takes few: each row counts as the votes for
its winner (one logarithm a row), the cross block of theta and the raters is one sparse
product, and the joint steps start near the optimum: on large inputs a fit on every 9th row
first, and before the joint steps each time the raters' own 2 x 2 Newton steps with theta
held (from a least-squares guess), which need per-rater sums only. On 1M verdicts that
leaves 4 joint steps on all rows (benchmarks/README.md, "Rater reliability");
tests/test_reliability_reference.py checks it reaches the optimum scipy finds.

Priors keep degenerate data honest: logit(eta) ~ N(logit 0.95, 2^2) and logit(lambda) ~
N(0, 1.5^2), so a rater with a handful of votes gets the prior's reliability with a wide
interval, not 0 or 1; a faint ridge on theta keeps the fit finite. Models get ratings only
where plain Bradley-Terry identifies them (bradley_terry.rated_models), so the identification
notes of the leaderboard apply unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from scipy.sparse import csc_matrix
from scipy.special import expit, logit

from judge_app.core.bradley_terry import fit_bradley_terry
from judge_app.core.counts import FloatArray, IntArray, PairCounts, counts_and_weights
from judge_app.core.leaderboard import LEADERBOARD_COLUMNS, NO_SPREAD, identification_notes
from judge_app.core.scale import RATING_SCALE, anchor_shift, interval_ranks, to_rating
from judge_app.core.threads import single_threaded_blas
from judge_app.errors import ValidationError

RELIABILITY_PRIOR_MEAN = 0.95  # a rater counts fully until their votes show otherwise
RELIABILITY_PRIOR_SD = 2.0  # in logit units: wide, so some 50 votes can overrule it
BIAS_PRIOR_SD = 1.5  # logit(lambda), centred on no bias
THETA_PRIOR = 0.01  # ridge precision on theta: a sd of 10 (about 1,700 rating points)
WARM_START_ROWS = 30_000  # from 9x this many rows, start from a fit on a share of them
RATER_TOL = 1.0  # the raters' own steps stop when the next would gain less (log-lik)
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
    """The rows among rated models as votes for their winner, with indices into the fitted
    parameter vector.

    A row (rater, model_a, model_b, shown order, s, f) becomes up to two rows: s votes won by
    model_a and f won by model_b. Each then has one probability, P = q + eta (p - q) with p
    = sigmoid(theta_winner - theta_loser) and q the chance a guess picks the winner's side,
    and the log-likelihood is sum c log P: one logarithm a row instead of two, and every
    derivative below a single term. Everything that depends on theta alone is computed on
    the dense models x models table of pairs and everything that depends on a rater alone
    per rater (or per rater and side), then gathered to the rows; per-rater sums are
    segment sums (the rows stay in rater order in each of the two halves), the others
    bincounts on indices made once here.
    """

    def __init__(self, k: int, n_raters: int, win: IntArray, lose: IntArray, r: IntArray,
                 side: IntArray, c: FloatArray) -> None:
        self.k, self.n_raters = k, n_raters
        self.win, self.lose, self.r, self.side, self.c = win, lose, r, side, c
        self.pair = win * k + lose  # into the dense k x k pair table
        self.cell = r * 3 + side + 1  # (rater, side of the winner): q's table
        self.o = side.astype(np.float64)  # +1 winner shown left, -1 right, 0 unknown
        self.oo = np.abs(self.o)
        # The cross block's (model, rater) cells: +1 for the winner's, -1 for the loser's.
        # (32-bit indices when they fit, as scipy would make them: then it takes them as
        # they are, without a checking copy)
        index = np.int32 if 2 * len(c) < 2**31 and k * n_raters < 2**31 else np.int64
        cells = np.empty((len(c), 2), dtype=index)
        np.multiply(win, n_raters, out=cells[:, 0], casting="unsafe")
        np.multiply(lose, n_raters, out=cells[:, 1], casting="unsafe")
        cells += r.astype(index)[:, None]
        self.to_cross = csc_matrix(
            (np.tile([1.0, -1.0], len(c)), cells.ravel(),
             np.arange(0, 2 * len(c) + 1, 2, dtype=index)), shape=(k * n_raters, len(c)))
        self.mu_a = float(logit(RELIABILITY_PRIOR_MEAN))
        self.sign = np.tile([-1.0, 0.0, 1.0], n_raters)  # side per (rater, side) cell
        self.starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]]) if len(r) else r
        self.segment_rater = r[self.starts]
        self._cache: tuple[FloatArray, tuple[FloatArray, ...]] | None = None

    def per_rater(self, values: FloatArray) -> FloatArray:
        if not len(values):
            return np.zeros(self.n_raters)
        return np.bincount(self.segment_rater, np.add.reduceat(values, self.starts),
                           self.n_raters).astype(np.float64)

    @classmethod
    def of(cls, counts: RaterCounts, rated: np.ndarray) -> _Problem:
        position = np.full(len(counts.models), -1)
        position[rated] = np.arange(int(rated.sum()))
        ia, ib = position[counts.model_a], position[counts.model_b]
        r, order, s, f = counts.rater, counts.order, counts.s, counts.f
        if not ((ia >= 0) & (ib >= 0)).all():
            keep = (ia >= 0) & (ib >= 0)
            ia, ib, r, order, s, f = ia[keep], ib[keep], r[keep], order[keep], s[keep], f[keep]
        # One row per counts row for the side with votes (model_a's when both have), then
        # the rows that have votes both ways again for model_b's.
        won_a = s > 0
        win, lose = np.where(won_a, ia, ib), np.where(won_a, ib, ia)
        side, c = np.where(won_a, order, -order), np.where(won_a, s, f)
        both = np.flatnonzero(won_a & (f > 0))
        if len(both):
            win, lose = np.concatenate([win, ib[both]]), np.concatenate([lose, ia[both]])
            r = np.concatenate([r, r[both]])
            side, c = np.concatenate([side, -order[both]]), np.concatenate([c, f[both]])
        return cls(int(rated.sum()), len(counts.raters), win, lose, r, side, c)

    def every(self, step: int) -> _Problem:
        """Every step-th row (rows are in rater order, so every rater keeps its share)."""
        pick = slice(None, None, step)
        return _Problem(self.k, self.n_raters, self.win[pick], self.lose[pick],
                        self.r[pick], self.side[pick], self.c[pick])

    def rows(self, x: FloatArray) -> tuple[FloatArray, ...]:
        """Per-row P(the vote as cast), with the tables it came from (kept for the last x:
        the line search's accepted point is where the next step starts)."""
        if self._cache is not None and np.array_equal(self._cache[0], x):
            return self._cache[1]
        out = self._rows(x)
        self._cache = (x.copy(), out)
        return out

    def _rows(self, x: FloatArray) -> tuple[FloatArray, ...]:
        k, nr = self.k, self.n_raters
        theta = x[:k]
        eta_r, lam_r = expit(x[k:k + nr]), expit(x[k + nr:])
        p_pair = expit(theta[:, None] - theta[None, :]).ravel()
        q_cell = 0.5 + self.sign * (np.repeat(lam_r, 3) - 0.5)
        p, eta, q = p_pair[self.pair], eta_r[self.r], q_cell[self.cell]
        p_minus_q = p - q
        big_p = np.multiply(eta, p_minus_q, out=p)
        big_p += q
        np.clip(big_p, _EPS, 1 - _EPS, out=big_p)
        return big_p, p_minus_q, eta, p_pair, eta_r, lam_r

    def value(self, x: FloatArray) -> float:
        big_p = self.rows(x)[0]
        k, nr = self.k, self.n_raters
        theta, a, b = x[:k], x[k:k + nr], x[k + nr:]
        return (float(self.c @ np.log(big_p))
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

    Per row, with J the derivatives of P: dP/dd = eta p(1-p) (d = theta_winner -
    theta_loser), dP/da = eta(1-eta)(p-q), dP/db = (1-eta) o lambda(1-lambda); the
    information is w J J^T (Fisher: w = c/(P(1-P)), which summed over a row's two halves is
    the binomial's n/(P(1-P)); observed: c/P^2) minus g times the second derivatives of P
    (observed only), g = c/P the score in P. Row factors that belong to a pair or a rater
    are multiplied in after the sums."""
    k, nr = pb.k, pb.n_raters
    theta, a, b = x[:k], x[k:k + nr], x[k + nr:]
    big_p, pmq, eta, p_pair, eta_r, lam_r = pb.rows(x)
    # (row arrays are reused in place: each new one costs its allocation and page faults)
    g = pb.c / big_p
    tmp = np.subtract(1, big_p) if not observed else np.empty_like(g)
    w = g / (big_p if observed else tmp)
    ea_r = eta_r * (1 - eta_r)  # d eta / d a
    ll_r = lam_r * (1 - lam_r)  # d lambda / d b
    jb_r = (1 - eta_r) * ll_r  # dP/db = jb_r * o
    dp_pair = p_pair * (1 - p_pair)
    g_eta = np.bincount(pb.pair, np.multiply(g, eta, out=tmp), k * k)
    w_eta = w * eta
    per_pair = dp_pair**2 * np.bincount(pb.pair, np.multiply(w_eta, eta, out=tmp), k * k)
    if observed:
        per_pair -= dp_pair * (1 - 2 * p_pair) * g_eta
    gd = (dp_pair * g_eta).reshape(k, k)
    grad = np.empty_like(x)
    grad[:k] = gd.sum(1) - gd.sum(0) - THETA_PRIOR * theta
    g_pmq = pb.per_rater(np.multiply(g, pmq, out=tmp))
    g_o = pb.per_rater(np.multiply(g, pb.o, out=tmp))
    grad[k:k + nr] = ea_r * g_pmq - (a - pb.mu_a) / RELIABILITY_PRIOR_SD**2
    grad[k + nr:] = jb_r * g_o - b / BIAS_PRIOR_SD**2
    pairs = per_pair.reshape(k, k)
    a_block = -(pairs + pairs.T)
    a_block[np.diag_indices(k)] = -a_block.sum(1) + THETA_PRIOR
    w_pmq = w * pmq
    aa = pb.per_rater(np.multiply(w_pmq, pmq, out=tmp)) * ea_r**2
    ab = pb.per_rater(np.multiply(w_pmq, pb.o, out=tmp)) * ea_r * jb_r
    bb = pb.per_rater(np.multiply(w, pb.oo, out=tmp)) * jb_r**2
    dp = np.take(dp_pair, pb.pair, out=tmp)
    da_row = np.multiply(w_eta, pmq, out=w_eta)  # times dp, then ea_r per rater
    if observed:
        da_row -= g
    da_row *= dp
    db_row = np.multiply(w, pb.o, out=w)
    db_row *= dp
    cross = np.empty((k, nr, 2))
    for slot, v in enumerate((da_row, db_row)):
        cross[:, :, slot] = (pb.to_cross @ v).reshape(k, nr)
    cross[:, :, 0] *= ea_r
    cross[:, :, 1] *= eta_r * jb_r
    if observed:
        aa -= ea_r * (1 - 2 * eta_r) * g_pmq
        ab += ea_r * ll_r * g_o
        bb -= jb_r * (1 - 2 * lam_r) * g_o
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


def _inverse_2x2(blocks: FloatArray) -> FloatArray:
    """Each rater's 2 x 2 block inverted (in closed form: a batched LAPACK call costs more)."""
    det = blocks[:, 0, 0] * blocks[:, 1, 1] - blocks[:, 0, 1] * blocks[:, 1, 0]
    out = np.empty_like(blocks)
    out[:, 0, 0], out[:, 1, 1] = blocks[:, 1, 1] / det, blocks[:, 0, 0] / det
    out[:, 0, 1], out[:, 1, 0] = -blocks[:, 0, 1] / det, -blocks[:, 1, 0] / det
    return out


class _Eliminated(NamedTuple):
    """The rater blocks eliminated: D^-1, B, B D^-1, the Schur complement S = A - B D^-1 B^T
    and the right-hand side of theta's system."""

    d_inv: FloatArray
    flat_b: FloatArray
    flat_bd: FloatArray
    schur: FloatArray
    rhs: FloatArray


def _eliminate(state: _State, k: int) -> _Eliminated:
    nr = state.d_block.shape[0]
    d_inv = _inverse_2x2(state.d_block)
    bd = _times_blocks(state.cross, d_inv)  # B D^-1
    flat_b, flat_bd = state.cross.reshape(k, 2 * nr), bd.reshape(k, 2 * nr)
    schur = state.a_block - flat_bd @ flat_b.T
    rhs = state.grad[:k] - flat_bd @ state.grad[k:].reshape(2, nr).T.reshape(-1)
    return _Eliminated(d_inv, flat_b, flat_bd, schur, rhs)


def _back(state: _State, parts: _Eliminated, step_t: FloatArray) -> FloatArray:
    """The whole step from theta's: each rater's 2 x 2 system given theta's step."""
    nr = state.d_block.shape[0]
    rest = state.grad[len(step_t):].reshape(2, nr).T - (step_t @ parts.flat_b).reshape(nr, 2)
    step_r = (parts.d_inv * rest[:, None, :]).sum(2)
    return np.concatenate([step_t, step_r[:, 0], step_r[:, 1]]).astype(np.float64)


def _solve(state: _State, k: int,
           pin: bool = False) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Newton step by the Schur complement; also the pinned inverse of the theta block and
    D^-1 B^T (for the rater variances)."""
    parts = _eliminate(state, k)
    schur = parts.schur
    if pin:  # for the covariance: the free shift of theta pinned (mean-zero direction v v^T)
        schur = schur + 1.0 / k
    schur_inv = np.asarray(np.linalg.inv(schur), dtype=np.float64)
    step = _back(state, parts, schur_inv @ parts.rhs)
    return step, schur_inv, parts.flat_bd.reshape(state.cross.shape)


def _newton_step(state: _State, k: int) -> FloatArray | None:
    """The step, or None where the information is not positive definite (so the step
    might not go uphill): some rater block, or the Schur complement of the theta block."""
    d = state.d_block
    if not ((d[:, 0, 0] > 0) & (d[:, 0, 0] * d[:, 1, 1] - d[:, 0, 1] ** 2 > 0)).all():
        return None
    parts = _eliminate(state, k)
    try:
        factor = cho_factor(parts.schur)
    except np.linalg.LinAlgError:
        return None
    return _back(state, parts, np.asarray(cho_solve(factor, parts.rhs), dtype=np.float64))


def _rater_values(pb: _Problem, x: FloatArray) -> FloatArray:
    """Each rater's share of the penalised log-likelihood (their votes and their priors)."""
    k, nr = pb.k, pb.n_raters
    a, b = x[k:k + nr], x[k + nr:]
    return (pb.per_rater(pb.c * np.log(pb.rows(x)[0]))
            - (a - pb.mu_a) ** 2 / (2 * RELIABILITY_PRIOR_SD**2) - b**2 / (2 * BIAS_PRIOR_SD**2))


def _rater_guess(pb: _Problem, x: FloatArray) -> FloatArray:
    """Each rater's reliability and position bias by least squares given theta, a start
    for their Newton steps: a vote for the winner is 1/2 + eta (p - 1/2) + beta o on
    average, linear in eta and beta = (1 - eta)(lambda - 1/2)."""
    k = pb.k
    p = pb.rows(x)[3][pb.pair] - 0.5
    cp = pb.c * p
    spp, spo, soo = pb.per_rater(cp * p), pb.per_rater(cp * pb.o), pb.per_rater(pb.c * pb.oo)
    yp, yo = pb.per_rater(cp) / 2, pb.per_rater(pb.c * pb.o) / 2
    det = spp * soo - spo**2
    sided = (soo > 0) & (det > 0)
    det = np.where(sided, det, 1.0)
    eta = np.where(sided, (yp * soo - yo * spo) / det, yp / np.maximum(spp, _EPS))
    beta = np.where(sided, (spp * yo - spo * yp) / det, 0.0)
    eta = np.clip(eta, 0.02, 0.98)
    lam = np.clip(0.5 + beta / (1 - eta), 0.02, 0.98)
    out = np.concatenate([x[:k], logit(eta), logit(lam)])
    nr = pb.n_raters
    out[k:k + nr] = np.where(spp > 0, out[k:k + nr], x[k:k + nr])  # no votes: as they were
    out[k + nr:] = np.where(sided, out[k + nr:], x[k + nr:])
    return out


def _rater_blocks(pb: _Problem, w: FloatArray, pmq: FloatArray, tmp: FloatArray,
                  ea_r: FloatArray, jb_r: FloatArray) -> FloatArray:
    """The raters' 2 x 2 information blocks from row weights w (the terms in w J J^T and
    the priors; `tmp` is scratch space of the rows' length)."""
    w_pmq = w * pmq
    out = np.empty((pb.n_raters, 2, 2))
    out[:, 0, 0] = (pb.per_rater(np.multiply(w_pmq, pmq, out=tmp)) * ea_r**2
                    + 1 / RELIABILITY_PRIOR_SD**2)
    out[:, 0, 1] = pb.per_rater(np.multiply(w_pmq, pb.o, out=tmp)) * ea_r * jb_r
    out[:, 1, 1] = pb.per_rater(np.multiply(w, pb.oo, out=tmp)) * jb_r**2 + 1 / BIAS_PRIOR_SD**2
    return out


def _rater_climb(pb: _Problem, x: FloatArray, *, tol: float, max_iter: int) -> FloatArray:
    """Every rater's two parameters towards their optimum given theta: 2 x 2 Newton steps
    per rater (Fisher's where the observed block is not positive definite), each rater's
    step shortened to at most one logit unit. Costs per-rater sums only (no pair or
    cross-block sums, no logarithms), so it is a cheap start for the joint steps, which
    check every step they take; this start is kept only if it raised the likelihood."""
    k, nr = pb.k, pb.n_raters
    for _ in range(max_iter):
        big_p, pmq, _, _, eta_r, lam_r = pb.rows(x)
        a, b = x[k:k + nr], x[k + nr:]
        ea_r, ll_r = eta_r * (1 - eta_r), lam_r * (1 - lam_r)
        jb_r = (1 - eta_r) * ll_r
        g = pb.c / big_p
        tmp = np.empty_like(g)
        g_pmq = pb.per_rater(np.multiply(g, pmq, out=tmp))
        g_o = pb.per_rater(np.multiply(g, pb.o, out=tmp))
        grad = np.stack([ea_r * g_pmq - (a - pb.mu_a) / RELIABILITY_PRIOR_SD**2,
                         jb_r * g_o - b / BIAS_PRIOR_SD**2], axis=1)

        d = _rater_blocks(pb, g / big_p, pmq, tmp, ea_r, jb_r)  # observed
        d[:, 0, 0] -= ea_r * (1 - 2 * eta_r) * g_pmq
        d[:, 0, 1] += ea_r * ll_r * g_o
        d[:, 1, 1] -= jb_r * (1 - 2 * lam_r) * g_o
        good = (d[:, 0, 0] > 0) & (d[:, 0, 0] * d[:, 1, 1] - d[:, 0, 1] ** 2 > 0)
        if not good.all():  # Fisher's for those raters
            fisher = _rater_blocks(pb, g / np.subtract(1, big_p), pmq, tmp, ea_r, jb_r)
            d = np.where(good[:, None, None], d, fisher)
        d[:, 1, 0] = d[:, 0, 1]
        step = (_inverse_2x2(d) * grad[:, None, :]).sum(2)
        if float((grad * step).sum()) / 2 < tol:
            break
        step /= np.maximum(np.abs(step).max(1), 1.0)[:, None]
        x = np.concatenate([x[:k], a + step[:, 0], b + step[:, 1]])
    return x


def _raters_given_theta(pb: _Problem, x: FloatArray) -> FloatArray:
    """The raters' parameters improved with theta held: from the least-squares guess, their
    own Newton steps; each rater keeps whichever of that and their values in x fits their
    votes better (given theta the raters' terms are separate, so the whole never falls)."""
    k = pb.k
    before = _rater_values(pb, x)
    after = _rater_climb(pb, _rater_guess(pb, x), tol=RATER_TOL, max_iter=10)
    better = np.tile(_rater_values(pb, after) > before, 2)
    return np.concatenate([x[:k], np.where(better, after[k:], x[k:])])


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
        step = None
        if try_newton:
            state = _information(pb, x, observed=True)
            step = _newton_step(state, pb.k)
        if step is None:
            state = _information(pb, x)
            step = _solve(state, pb.k)[0]
            try_newton = False  # far from the optimum: Fisher until a step goes through whole
        assert state is not None
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
    plain = fit_bradley_terry(counts.pairs)  # the start, and which models are rated
    rated = plain.rated
    pb = _Problem.of(counts, rated)
    k = pb.k
    nan_models = np.full(m, np.nan)
    if k < 2 or nr == 0:
        return ReliabilityFit(
            counts.models, nan_models, np.zeros(m, dtype=bool), np.full((m, m), np.nan),
            counts.raters, counts.sources, np.full(nr, RELIABILITY_PRIOR_MEAN),
            np.full(nr, RELIABILITY_PRIOR_SD), np.full(nr, 0.5), np.full(nr, BIAS_PRIOR_SD),
            _rater_votes(counts), _sided(counts), float("nan"), 0, False)
    start = plain.theta[rated]
    x = np.concatenate([start, np.full(nr, pb.mu_a), np.zeros(nr)])
    # Warm start on every 9th row (or the like; when there are many): the raters' Newton
    # steps alone, then the joint steps; then the raters' steps on all rows, where the joint
    # steps start a few steps from the optimum.
    share = 3 ** int(np.log(max(len(pb.c) / WARM_START_ROWS, 1)) / np.log(3) - 1)
    for part in ((pb.every(share), pb) if share > 1 else (pb,)):
        x = _raters_given_theta(part, x)
        if part is not pb:
            x = _climb(part, x, tol=1.0, max_iter=max_iter)[0]
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
