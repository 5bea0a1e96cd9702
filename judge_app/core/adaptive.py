"""Adaptive scheduling: send the next votes where they settle the question being asked.

A *target* names the question: the whole ranking (is each model above the next one?), each
model against a baseline, the top-k set, or every rating to within W points. Each target is
a set of *contrasts* c (theta_i - theta_j, or theta_i against the mean), and it is met when
every contrast is settled: its 95 % interval excludes 0 (or, with a width, is narrower than
W rating points).

The rule (docs/analysis.md, "Adaptive scheduling"): Chatbot Arena samples a pair with weight
proportional to how much one more vote shrinks that pair's confidence interval (Chiang et
al. 2024, section 5). We keep that idea (votes go where they shrink intervals) but measure
the shrinkage on the contrasts that are still unsettled, through the fitted covariance: a
vote on (i, j) adds h = p(1 - p) times x x^T (x = e_i - e_j) to the Fisher information, so
by Sherman-Morrison each contrast's variance falls by h (c' C x)^2 / (1 + h x' C x). A vote
can settle a contrast it does not touch (through shared opponents), which a per-pair rule
misses. Each contrast's share is weighted by 1 / gap^2, the votes it still needs per unit of
variance (z^2 var / gap^2 is how far it is from settling), as sequential-testing and
LUCB-style dueling-bandit rules do: close calls get the votes, settled ones get none. Votes
are planned greedily, updating the covariance after each chunk, so one plan spreads over
several contrasts. A fixed share of votes (exploration) stays uniform, which keeps every
pair observed and the model checkable.

The same forward plan, run until the target would be met with today's gaps, gives the
estimate of the votes still needed.

Pure: numpy and scipy only; models by index into the fit's model list.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from judge_app.core.bradley_terry import RatingFit, expit, objective, pair_table, solvable
from judge_app.core.counts import FloatArray, IntArray
from judge_app.core.scale import RATING_SCALE
from judge_app.errors import ValidationError

TargetKind = Literal["ranking", "baseline", "top_k", "width"]
Scheduling = Literal["uniform", "adaptive"]
SCHEDULINGS: tuple[str, ...] = ("uniform", "adaptive")

EXPLORATION = 0.1  # share of votes kept uniform over the available pairs
WARMUP_BATTLES = 10  # every model plays this many battles before the rule takes over
ESTIMATE_CAP = 100  # estimates beyond this many times the votes so far read "not reachable"
_PLAN_STEPS = 200  # greedy chunks per plan: bounds the cost for any number of votes


@dataclass(frozen=True)
class Target:
    """What adaptive scheduling settles, and when a task (or judge run) may stop."""

    kind: TargetKind = "ranking"
    level: float = 0.95
    baseline: str | None = None  # kind "baseline"
    k: int = 3  # kind "top_k"
    width: float | None = None  # rating points: "width", or "separated or this narrow"

    def describe(self) -> str:
        pct = f"{100 * self.level:g}%"
        if self.kind == "width":
            return f"every {pct} interval narrower than {self.width or 0:g} points"
        text = {
            "ranking": f"ranking settled at {pct}",
            "baseline": f"every model separated from {self.baseline} at {pct}",
            "top_k": f"top {self.k} settled at {pct}",
        }[self.kind]
        if self.width is not None and self.kind != "width":
            text += f" (or narrower than {self.width:g} points)"
        return text


def parse_target(text: str, *, level: float = 0.95, field: str = "target") -> Target:
    """`ranking`, `top_k:K`, `baseline:MODEL`, `width:W`; `ranking|width:W` adds a width."""
    if not 0.5 <= level < 1:
        raise ValidationError(f"target level {level} must be in [0.5, 1)", field=field)
    main, _, extra = text.strip().partition("|")
    width = None
    if extra:
        w = re.fullmatch(r"width:(\S+)", extra.strip())
        if not w:
            raise ValidationError(f"after '|' the target takes 'width:W', not {extra!r}",
                                  field=field)
        width = _positive_float(w.group(1), field)
    kind, _, arg = main.strip().partition(":")
    if kind == "ranking" and not arg:
        return Target("ranking", level, width=width)
    if kind == "top_k" and arg.isdigit() and int(arg) >= 1:
        return Target("top_k", level, k=int(arg), width=width)
    if kind == "baseline" and arg:
        return Target("baseline", level, baseline=arg, width=width)
    if kind == "width" and arg and not extra:
        return Target("width", level, width=_positive_float(arg, field))
    raise ValidationError(f"unknown target {text!r}: use ranking, top_k:K, baseline:MODEL or "
                          "width:W (rating points), optionally ranking|width:W", field=field)


def _positive_float(text: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or not math.isfinite(value):
        raise ValidationError(f"width {text!r} must be a positive number of rating points",
                              field=field)
    return value


@dataclass(frozen=True)
class Contrasts:
    """The target's contrasts in rated-model space (rows of `matrix`, k rated columns)."""

    rated: IntArray  # model indices of the k rated models, in fit order
    matrix: FloatArray  # contrasts x k
    labels: list[tuple[str, str]]  # (model, other model or "mean")
    gap: FloatArray  # c' theta
    variance: FloatArray  # c' Sigma c from the reported (sandwich) covariance
    settled: np.ndarray  # bool per contrast


@dataclass(frozen=True)
class TargetStatus:
    """Where a task stands against its target; `more_votes` is None when met or unknown."""

    target: Target
    met: bool
    votes: int
    open: list[tuple[str, str]]
    contrasts: int
    more_votes: int | None
    reachable: bool
    message: str


@functools.lru_cache(maxsize=16)
def _z(level: float) -> float:
    return NormalDist().inv_cdf(0.5 + level / 2)


def target_contrasts(fit: RatingFit, covariance: FloatArray, target: Target) -> Contrasts:
    """The contrasts `target` asks about, with their current gaps, variances and status."""
    rated = fit.rated_index
    k = len(rated)
    theta = fit.theta[rated]
    names = [fit.models[i] for i in rated]
    order = np.argsort(-theta, kind="stable")
    rows: list[tuple[int, int]] = []  # (i, j) in rated space; j = -1 means the mean
    if target.kind == "ranking":
        rows = [(int(order[r]), int(order[r + 1])) for r in range(k - 1)]
    elif target.kind == "top_k":
        if target.k < k:
            top, rest = order[: target.k], order[target.k:]
            rows = [(int(i), int(j)) for i in top for j in rest]
    elif target.kind == "baseline":
        if target.baseline not in names:
            raise ValidationError(f"baseline {target.baseline!r} is not a rated model",
                                  field="target")
        b = names.index(target.baseline)
        rows = [(int(i), b) for i in order if i != b]
    else:
        rows = [(i, -1) for i in range(k)]
    matrix = np.zeros((len(rows), k))
    for r, (i, j) in enumerate(rows):
        matrix[r, i] = 1.0
        if j >= 0:
            matrix[r, j] -= 1.0
        else:
            matrix[r] -= 1.0 / k
    labels = [(names[i], names[j] if j >= 0 else "mean") for i, j in rows]
    cov = covariance[np.ix_(rated, rated)]
    gap = matrix @ theta
    variance = np.einsum("ck,kl,cl->c", matrix, cov, matrix)
    settled = _settled(gap, variance, target)
    return Contrasts(rated, matrix, labels, gap, variance, settled)


def _settled(gap: FloatArray, variance: FloatArray, target: Target) -> np.ndarray:
    z = _z(target.level)
    se = np.sqrt(np.maximum(variance, 0.0))
    ok = np.isfinite(se) & (se > 0)
    narrow = np.zeros(len(gap), dtype=bool)
    if target.width is not None:
        narrow = 2 * z * se * RATING_SCALE < target.width
    if target.kind == "width":
        return ok & narrow
    return ok & ((np.abs(gap) > z * se) | narrow)


def model_covariance(fit: RatingFit) -> FloatArray:
    """Inverse Fisher information of the rated models (k x k, mean-zero pseudo-inverse).

    The planner updates this one vote at a time (Sherman-Morrison is exact for it); the
    reported intervals use the sandwich, whose ratio to this scales each contrast.
    """
    table = pair_table(fit.counts, fit.rated)
    theta = fit.theta[fit.rated_index]
    _, _, info = objective(table, theta, False, fit.prior)
    return np.asarray(np.linalg.inv(solvable(info, table.k, fit.prior)))


@dataclass
class _Planner:
    """Greedy forward plan over candidate pairs (indices in rated space)."""

    cov: FloatArray  # k x k model covariance, updated as votes are planned
    theta: FloatArray
    matrix: FloatArray  # contrasts x k
    gap: FloatArray
    inflation: FloatArray  # sandwich / model variance per contrast
    target: Target
    ia: IntArray
    ib: IntArray

    def __post_init__(self) -> None:
        p = expit(self.theta[self.ia] - self.theta[self.ib])
        self.h = p * (1 - p)  # information of one vote on each candidate pair
        self.z = _z(self.target.level)
        self.model_var = np.einsum("ck,kl,cl->c", self.matrix, self.cov, self.matrix)
        self.open = ~_settled(self.gap, self.variance(), self.target)

    def variance(self) -> FloatArray:
        return np.asarray(self.inflation * self.model_var)

    def gains(self, chunk: float) -> FloatArray:
        """Weighted variance reduction of the open contrasts from `chunk` votes on each pair."""
        rows = self.matrix[self.open]
        if len(rows) == 0:
            return np.zeros(len(self.ia))
        kc = rows @ self.cov
        u = kc[:, self.ia] - kc[:, self.ib]
        c = self.cov
        s = c[self.ia, self.ia] + c[self.ib, self.ib] - 2 * c[self.ia, self.ib]
        h = chunk * self.h
        drop = h * u**2 / (1 + h * s)
        weight = self.inflation[self.open] / self._need()[self.open]
        return np.asarray(weight @ drop)

    def _need(self) -> FloatArray:
        """The variance each contrast needs to settle (its weight is one over it).

        Separation: gap^2 / z^2; with a width, at most what the width needs; floored at a
        sixteenth of today's variance so a contrast near 0 does not take every vote at once.
        """
        var = self.variance()
        need = self.gap**2 / self.z**2
        if self.target.width is not None:
            want = (self.target.width / (2 * self.z * RATING_SCALE)) ** 2
            need = np.full(len(var), want) if self.target.kind == "width" else np.maximum(
                need, want)
        return np.asarray(np.maximum(np.maximum(need, var / 16), 1e-12))

    def add(self, pair: int, votes: float) -> None:
        """Plan `votes` more votes on a pair: a rank-one update of the covariance."""
        a, b = self.ia[pair], self.ib[pair]
        cx = self.cov[:, a] - self.cov[:, b]
        h = votes * self.h[pair]
        factor = h / (1 + h * float(cx[a] - cx[b]))
        kc = self.matrix @ cx
        self.model_var = self.model_var - factor * kc**2
        self.cov = self.cov - factor * np.outer(cx, cx)
        self.open &= ~_settled(self.gap, self.variance(), self.target)


def _planner(fit: RatingFit, covariance: FloatArray, target: Target,
             pairs: list[tuple[int, int]]) -> tuple[_Planner, IntArray] | None:
    """A planner over the candidate pairs between rated models (None if none or no fit)."""
    rated = fit.rated_index
    if len(rated) < 2:
        return None
    where = np.full(len(fit.models), -1)
    where[rated] = np.arange(len(rated))
    keep = [n for n, (a, b) in enumerate(pairs) if where[a] >= 0 and where[b] >= 0 and a != b]
    if not keep:
        return None
    ia = np.array([where[pairs[n][0]] for n in keep], dtype=np.int64)
    ib = np.array([where[pairs[n][1]] for n in keep], dtype=np.int64)
    con = target_contrasts(fit, covariance, target)
    model_cov = model_covariance(fit)
    model_var = np.einsum("ck,kl,cl->c", con.matrix, model_cov, con.matrix)
    with np.errstate(divide="ignore", invalid="ignore"):
        inflation = np.where(model_var > 0, con.variance / model_var, 1.0)
    inflation = np.where(np.isfinite(inflation) & (inflation > 0), inflation, 1.0)
    planner = _Planner(model_cov, fit.theta[rated], con.matrix, con.gap, inflation, target,
                       ia, ib)
    return planner, np.array(keep, dtype=np.int64)


def needs_warmup(fit: RatingFit, pairs: list[tuple[int, int]]) -> bool:
    """Whether some model of the candidate pairs is unrated or has played too little."""
    models = {m for pair in pairs for m in pair}
    battles = fit.counts.n_battles
    return any(not fit.rated[m] or battles[m] < WARMUP_BATTLES for m in models)


def plan_votes(
    fit: RatingFit,
    covariance: FloatArray,
    target: Target,
    pairs: list[tuple[int, int]],
    votes: int,
    *,
    capacity: IntArray | None = None,
    pending: IntArray | None = None,
    exploration: float = EXPLORATION,
) -> IntArray:
    """How many of the next `votes` to give each candidate pair (model indices of the fit).

    `capacity`: most votes each pair can still take (None: unlimited); `pending`: votes
    already handed out but not back yet, counted as if given. Warm-up (some model unrated or
    with few battles) and the exploration share fill the least-voted pairs; once the target
    is met in the plan, the rest is uniform too. Deterministic.
    """
    n = len(pairs)
    alloc = np.zeros(n, dtype=np.int64)
    cap = np.full(n, np.iinfo(np.int64).max // 4) if capacity is None else capacity.astype(
        np.int64).copy()
    if votes <= 0 or n == 0:
        return alloc
    played = fit.counts.n_pair
    seen = np.array([played[a, b] for a, b in pairs], dtype=np.float64)
    if pending is not None:
        seen = seen + pending
    plan = None if needs_warmup(fit, pairs) else _planner(fit, covariance, target, pairs)
    greedy = 0 if plan is None else int(round(votes * (1 - exploration)))
    if plan is not None and greedy:
        planner, keep = plan
        if pending is not None:
            for local, n_pend in enumerate(pending[keep]):
                if n_pend > 0:
                    planner.add(local, float(n_pend))
        chunk = max(1, math.ceil(greedy / _PLAN_STEPS))
        given = 0
        while given < greedy and planner.open.any():
            room = cap[keep] - alloc[keep]
            gain = np.where(room > 0, planner.gains(chunk), -np.inf)
            best = int(np.argmax(gain))
            if not gain[best] > 0:
                break
            step = int(min(chunk, greedy - given, room[best]))
            alloc[keep[best]] += step
            planner.add(best, float(step))
            given += step
    _fill_uniform(alloc, seen, cap, votes - int(alloc.sum()))
    return alloc


def _fill_uniform(alloc: IntArray, seen: FloatArray, cap: IntArray, votes: int) -> None:
    """Give `votes` to the pairs with the fewest votes (seen plus planned), level by level."""
    total = seen + alloc
    while votes > 0:
        room = cap - alloc
        open_ = np.flatnonzero(room > 0)
        if len(open_) == 0:
            return
        low = open_[total[open_] <= total[open_].min()]  # stable: lowest index first
        take = low[:votes]
        alloc[take] += 1
        total[take] += 1
        votes -= len(take)


def estimate_more_votes(
    fit: RatingFit,
    covariance: FloatArray,
    target: Target,
    *,
    scheduling: Scheduling = "adaptive",
    pairs: list[tuple[int, int]] | None = None,
    exploration: float = EXPLORATION,
) -> int | None:
    """Votes still needed to meet the target if today's gaps held; None if not in reach.

    Variance falls like 1 / votes. Uniform: every contrast's variance shrinks in proportion,
    so the slowest contrast says how many. Adaptive: the greedy plan runs forward until
    every contrast would be settled. Beyond ESTIMATE_CAP times the votes so far (two models
    that look equally strong) the answer is None: the target may never be met.
    """
    con = target_contrasts(fit, covariance, target)
    if con.settled.all():
        return 0
    total = max(int(fit.counts.n_pair.sum() // 2), 1)
    cap = ESTIMATE_CAP * total
    z = _z(target.level)
    if scheduling == "uniform" or pairs is None:
        need = np.zeros(len(con.gap))
        var, gap = con.variance, np.abs(con.gap)
        if target.width is not None:
            want = (target.width / (2 * z * RATING_SCALE)) ** 2
            need = np.maximum(need, var / want)
        if target.kind != "width":
            with np.errstate(divide="ignore"):
                sep = np.where(gap > 0, z**2 * var / gap**2, np.inf)
            need = sep if target.width is None else np.minimum(sep, need)
        factor = float(np.max(np.where(con.settled, 0.0, need)))
        more = total * (factor - 1)
        return None if not np.isfinite(more) or more > cap else max(1, math.ceil(more))
    built = _planner(fit, covariance, target, pairs)
    if built is None:
        return None
    planner, _ = built
    given = 0.0
    while planner.open.any():
        if given > cap:
            return None
        chunk = max(1.0, 0.02 * (total + given))
        best = int(np.argmax(planner.gains(chunk)))
        planner.add(best, chunk)
        given += chunk
    return max(1, math.ceil(given / (1 - exploration)))


def target_status(
    fit: RatingFit,
    covariance: FloatArray,
    target: Target,
    *,
    scheduling: Scheduling = "adaptive",
    pairs: list[tuple[int, int]] | None = None,
) -> TargetStatus:
    """Met or not, which contrasts are open, and about how many more votes are needed."""
    votes = int(fit.counts.n_pair.sum() // 2)
    unrated = [m for m, r in zip(fit.models, fit.rated, strict=True) if not r]
    if len(fit.rated_index) < 2 or (unrated and target.kind != "baseline"):
        why = ("fewer than two rated models" if len(fit.rated_index) < 2
               else f"{len(unrated)} model(s) not rated yet ({', '.join(unrated[:3])}"
               + (", ..." if len(unrated) > 3 else "") + ")")
        return TargetStatus(target, False, votes, [], 0, None, True,
                            f"{target.describe()}: not met, {why}; no estimate yet")
    con = target_contrasts(fit, covariance, target)
    open_ = [lab for lab, s in zip(con.labels, con.settled, strict=True) if not s]
    if not open_:
        return TargetStatus(target, True, votes, [], len(con.labels), 0, True,
                            f"target met: {target.describe()} ({votes:,} votes)")
    if pairs is None:
        pairs = [(int(a), int(b)) for a in fit.rated_index for b in fit.rated_index if a < b]
    more = estimate_more_votes(fit, covariance, target, scheduling=scheduling, pairs=pairs)
    head = (f"{target.describe()}: not met, {len(open_)} of {len(con.labels)} "
            f"comparisons open")
    if more is None:
        a, b = open_[0]
        return TargetStatus(target, False, votes, open_, len(con.labels), None, False,
                            f"{head}; may never be met at this rate ({a} and {b} look "
                            "almost equal: a width target settles such ties)")
    return TargetStatus(target, False, votes, open_, len(con.labels), more, True,
                        f"{head}; about {round_votes(more):,} more votes")


def round_votes(n: int) -> int:
    """Two significant figures: an estimate, not a promise."""
    if n < 100:
        return n
    digits = int(math.floor(math.log10(n))) - 1
    return int(round(n, -digits))


def choose_category(
    prompt_share: dict[str, float], votes_by_category: dict[str, int], available: set[str],
) -> str | None:
    """The available category furthest below its share of the task's prompts.

    Applied per model pair, so every pair is compared on the task's own prompt mix: the
    schedule decides which models meet, never which kind of prompt they meet on.
    """
    choices = sorted(c for c in available if c in prompt_share)
    if not choices:
        return min(available) if available else None
    total = sum(votes_by_category.get(c, 0) for c in prompt_share) + 1
    return min(choices, key=lambda c: (votes_by_category.get(c, 0) / total - prompt_share[c], c))
