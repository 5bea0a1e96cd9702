"""core.adaptive: targets, the stopping rule, the vote plan and the votes-needed estimate."""

from __future__ import annotations

import numpy as np
import pytest

from judge_app.core.adaptive import (
    EXPLORATION,
    Target,
    choose_category,
    estimate_more_votes,
    parse_target,
    plan_votes,
    round_votes,
    target_contrasts,
    target_status,
)
from judge_app.core.bradley_terry import RatingFit, fit_bradley_terry
from judge_app.core.counts import PairCounts
from judge_app.core.intervals import rating_intervals
from judge_app.errors import ValidationError


def _expected_counts(theta: list[float], per_pair: int | np.ndarray) -> PairCounts:
    """Counts exactly at their expectation: the fit recovers theta."""
    th = np.asarray(theta)
    m = len(th)
    n = np.full((m, m), per_pair, dtype=np.float64) if np.isscalar(per_pair) else \
        np.asarray(per_pair, dtype=np.float64)
    np.fill_diagonal(n, 0)
    p = 1 / (1 + np.exp(-(th[:, None] - th[None, :])))
    wins = n * p
    zero = np.zeros((m, m))
    names = tuple(f"m{i}" for i in range(m))
    return PairCounts(names, wins, zero, wins, zero, np.rint(wins).astype(np.int64),
                      zero.astype(np.int64))


def _fit(theta: list[float], per_pair: int | np.ndarray = 100) -> tuple[RatingFit, np.ndarray]:
    fit = fit_bradley_terry(_expected_counts(theta, per_pair))
    return fit, rating_intervals(fit).covariance


def _all_pairs(m: int) -> list[tuple[int, int]]:
    return [(a, b) for a in range(m) for b in range(a + 1, m)]


def test_parse_target_forms_and_errors() -> None:
    assert parse_target("ranking") == Target("ranking")
    assert parse_target("top_k:3", level=0.9) == Target("top_k", 0.9, k=3)
    assert parse_target("baseline:gpt-4") == Target("baseline", baseline="gpt-4")
    assert parse_target("width:40") == Target("width", width=40.0)
    assert parse_target("ranking|width:25") == Target("ranking", width=25.0)
    for bad in ("rank", "top_k:0", "top_k:x", "width:-3", "width:", "baseline:",
                "ranking|top_k:2", "width:nan"):
        with pytest.raises(ValidationError) as err:
            parse_target(bad, field="task.toml: target")
        assert err.value.field == "task.toml: target"
    with pytest.raises(ValidationError):
        parse_target("ranking", level=1.0)


def test_ranking_contrasts_are_neighbours_in_fitted_order() -> None:
    fit, cov = _fit([0.0, 1.0, 0.5, -1.0])
    con = target_contrasts(fit, cov, Target("ranking"))
    assert con.labels == [("m1", "m2"), ("m2", "m0"), ("m0", "m3")]
    assert np.allclose(con.gap, [0.5, 0.5, 1.0])
    assert (con.gap > 0).all()
    top = target_contrasts(fit, cov, Target("top_k", k=1))
    assert top.labels == [("m1", "m2"), ("m1", "m0"), ("m1", "m3")]
    base = target_contrasts(fit, cov, Target("baseline", baseline="m0"))
    assert {b for _, b in base.labels} == {"m0"} and len(base.labels) == 3
    with pytest.raises(ValidationError):
        target_contrasts(fit, cov, Target("baseline", baseline="nobody"))


def test_settled_follows_the_interval_of_the_difference() -> None:
    # 100 votes a pair: se of a neighbour gap about 0.2; a 1.0 gap settles, 0.05 does not.
    fit, cov = _fit([0.0, 1.0, 1.05, 2.5])
    con = target_contrasts(fit, cov, Target("ranking"))
    settled = dict(zip(con.labels, con.settled, strict=True))
    assert settled == {("m3", "m2"): True, ("m2", "m1"): False, ("m1", "m0"): True}
    se = np.sqrt(con.variance)
    assert ((np.abs(con.gap) > 1.96 * se) == con.settled).all()
    # A width target: every model's interval narrower than W points.
    wide = target_contrasts(fit, cov, Target("width", width=10.0))
    assert not wide.settled.any()
    assert target_contrasts(fit, cov, Target("width", width=500.0)).settled.all()
    # "or narrower than W" settles the near-tie once its interval is narrow enough.
    either = target_contrasts(fit, cov, Target("ranking", width=500.0))
    assert either.settled.all()


def test_plan_sends_votes_to_the_open_comparison() -> None:
    theta = [0.0, 1.0, 1.05, 2.5, -1.5]
    fit, cov = _fit(theta)
    pairs = _all_pairs(5)
    alloc = plan_votes(fit, cov, Target("ranking"), pairs, 1000)
    assert alloc.sum() == 1000
    close = pairs.index((1, 2))
    # The near-tie m1/m2 gets the greedy share, the rest is the uniform exploration share.
    assert alloc[close] >= (1 - EXPLORATION) * 1000 * 0.8
    others = np.delete(alloc, close)
    assert others.max() - others.min() <= 1 + (1 - EXPLORATION) * 1000 * 0.2
    # Capacity is respected: the close pair can take only 50 more.
    cap = np.full(len(pairs), 10_000)
    cap[close] = 50
    capped = plan_votes(fit, cov, Target("ranking"), pairs, 1000, capacity=cap)
    assert capped[close] == 50 and capped.sum() == 1000
    # Votes handed out but not back yet count: with the close pair's need covered, the
    # greedy part goes elsewhere.
    pending = np.zeros(len(pairs), dtype=np.int64)
    pending[close] = 1_000_000
    moved = plan_votes(fit, cov, Target("ranking"), pairs, 100, pending=pending)
    assert moved[close] == 0


def test_plan_is_uniform_when_target_met_or_models_unrated() -> None:
    fit, cov = _fit([0.0, 1.0, 2.0, 3.0], per_pair=200)
    pairs = _all_pairs(4)
    assert target_contrasts(fit, cov, Target("ranking")).settled.all()
    alloc = plan_votes(fit, cov, Target("ranking"), pairs, 60)
    assert alloc.tolist() == [10] * 6
    # A model that never lost is unrated: warm-up spreads the votes evenly.
    counts = _expected_counts([0.0, 1.0, 2.0], 30)
    wins = counts.wins.copy()
    wins[0, 2] += wins[2, 0]
    wins[0, 1] += wins[1, 0]
    wins[2, 0] = wins[1, 0] = 0
    zero = np.zeros((3, 3))
    unrated = fit_bradley_terry(PairCounts(counts.models, wins, zero, wins, zero,
                                           np.rint(wins).astype(np.int64),
                                           zero.astype(np.int64)))
    assert not unrated.rated.all()
    alloc = plan_votes(unrated, rating_intervals(unrated).covariance, Target("ranking"),
                       _all_pairs(3), 9)
    assert alloc.tolist() == [3, 3, 3]


def test_estimate_uniform_follows_variance_scaling() -> None:
    fit, cov = _fit([0.0, 0.3, 2.0], per_pair=100)
    target = Target("ranking")
    con = target_contrasts(fit, cov, target)
    open_ = ~con.settled
    factor = (1.959963984540054**2 * con.variance[open_] / con.gap[open_] ** 2).max()
    expected = 300 * (factor - 1)
    got = estimate_more_votes(fit, cov, target, scheduling="uniform")
    assert got is not None and abs(got - expected) <= 1
    # Uniform votes really do settle it at about that many: scale the counts and check.
    more = fit_bradley_terry(_expected_counts([0.0, 0.3, 2.0], 100 * (1 + got / 300) * 1.01))
    assert target_contrasts(more, rating_intervals(more).covariance, target).settled.all()
    less = fit_bradley_terry(_expected_counts([0.0, 0.3, 2.0], 100 * (1 + got / 300) * 0.95))
    assert not target_contrasts(less, rating_intervals(less).covariance, target).settled.all()
    adaptive = estimate_more_votes(fit, cov, target, scheduling="adaptive", pairs=_all_pairs(3))
    assert adaptive is not None and adaptive < got


def test_status_met_open_and_unreachable() -> None:
    fit, cov = _fit([0.0, 1.0, 2.0, 3.0], per_pair=200)
    met = target_status(fit, cov, Target("ranking"))
    assert met.met and met.more_votes == 0 and met.message.startswith("target met")
    fit, cov = _fit([0.0, 0.3, 2.0], per_pair=100)
    status = target_status(fit, cov, Target("ranking"))
    assert not status.met and status.open == [("m1", "m0")]
    assert status.more_votes is not None and status.more_votes > 0
    assert f"about {round_votes(status.more_votes):,} more votes" in status.message
    # Two equal models never separate: the estimate says so instead of a number.
    fit, cov = _fit([0.0, 0.0, 2.0], per_pair=100)
    tie = target_status(fit, cov, Target("ranking"))
    assert not tie.met and tie.more_votes is None and not tie.reachable
    assert "may never be met" in tie.message and "width" in tie.message
    # ... and a width target makes it reachable.
    fit_w = target_status(fit, cov, Target("ranking", width=60.0))
    assert fit_w.reachable and fit_w.more_votes is not None


def test_status_with_unrated_models_gives_no_estimate() -> None:
    counts = _expected_counts([0.0, 1.0], 10)
    wins = counts.wins.copy()
    wins[0, 1] = 0
    zero = np.zeros((2, 2))
    fit = fit_bradley_terry(PairCounts(counts.models, wins, zero, wins, zero,
                                       np.rint(wins).astype(np.int64), zero.astype(np.int64)))
    status = target_status(fit, rating_intervals(fit).covariance, Target("ranking"))
    assert not status.met and status.more_votes is None
    assert "no estimate yet" in status.message


def test_round_votes() -> None:
    assert [round_votes(n) for n in (7, 99, 1234, 1251, 98_765)] == [7, 99, 1200, 1300, 99_000]


def test_choose_category_keeps_the_prompt_mix() -> None:
    share = {"code": 0.5, "math": 0.25, "chat": 0.25}
    votes: dict[str, int] = {}
    for _ in range(400):
        c = choose_category(share, votes, {"code", "math", "chat"})
        assert c is not None
        votes[c] = votes.get(c, 0) + 1
    assert votes == {"code": 200, "math": 100, "chat": 100}
    # An exhausted category is skipped; unknown categories only when nothing else is left.
    assert choose_category(share, {"code": 0}, {"math"}) == "math"
    assert choose_category(share, {}, {"other"}) == "other"
    assert choose_category(share, {}, set()) is None
