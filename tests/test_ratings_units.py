"""Unit tests of the rating math: counting, unrated models, anchoring, ranks, Elo, Davidson."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from judge_app.core.bradley_terry import expected_score, fit_bradley_terry, pair_table
from judge_app.core.counts import count_battles
from judge_app.core.elo import online_elo
from judge_app.core.intervals import (
    _BatchSolver,
    bootstrap_thetas,
    difference_se,
    multinomial,
    rating_intervals,
)
from judge_app.core.leaderboard import LEADERBOARD_COLUMNS, leaderboard
from judge_app.core.scale import RATING_SCALE, interval_ranks, parse_anchor, to_rating
from judge_app.core.style import add_style_features, fit_style_controlled, style_counts
from judge_app.core.winrates import observed_win_rates, predicted_win_rates
from judge_app.errors import ValidationError
from tests.ratings_sim import simulate_battles


def frame(rows: list[tuple[str, str, str]], **columns: list[object]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["model_a", "model_b", "outcome"])
    for name, values in columns.items():
        df[name] = values
    return df


# --- counting ------------------------------------------------------------------------------


def test_counts_tables_and_both_bad_as_tie() -> None:
    c = count_battles(frame([("x", "y", "a"), ("y", "x", "a"), ("x", "y", "tie"),
                             ("y", "x", "both_bad"), ("x", "x", "a")]))
    assert c.models == ("x", "y")
    assert c.n_wins.tolist() == [[0, 1], [1, 0]]
    assert c.n_ties.tolist() == [[0, 2], [2, 0]]
    assert c.n_battles.tolist() == [4, 4]  # the self-battle is dropped


def test_grouped_frame_counts_like_battle_rows() -> None:
    battles = simulate_battles(np.array([0.0, 0.5, -0.3, 1.0]), 500, seed=4, nu=0.5)
    battles["strength"] = np.where(np.arange(500) % 3 == 0, 2.0, np.nan)
    keys = ["model_a", "model_b", "outcome", "strength"]
    grouped = battles.fillna({"strength": 0}).groupby(keys).size().rename("n").reset_index()
    per_row, per_group = (count_battles(f, strong_weight=2.0) for f in (battles, grouped))
    for name in ("wins", "ties", "wins_sq", "ties_sq", "n_wins", "n_ties"):
        np.testing.assert_allclose(getattr(per_row, name), getattr(per_group, name))
    assert per_row.wins.sum() > per_row.n_wins.sum()  # strong verdicts weigh double


def test_categorical_columns_and_explicit_model_list() -> None:
    df = frame([("x", "y", "a"), ("y", "z", "b")])
    cat = df.astype({"model_a": "category", "model_b": "category"})
    c = count_battles(cat, models=["z", "y", "x", "w"])
    assert c.models == ("z", "y", "x", "w")
    assert c.n_wins[2, 1] == 1 and c.n_wins[0, 1] == 1 and c.n_battles[3] == 0


@pytest.mark.parametrize("bad", [
    frame([("x", "y", "win")]),
    frame([("x", "y", "a")]).drop(columns="outcome"),
    frame([("x", "y", "a")], n=[1.5]),
    frame([("x", "y", "a")], weight=[-1.0]),
])
def test_bad_battle_frames_are_validation_errors(bad: pd.DataFrame) -> None:
    with pytest.raises(ValidationError):
        count_battles(bad)


def test_model_missing_from_list_is_an_error() -> None:
    with pytest.raises(ValidationError):
        count_battles(frame([("x", "y", "a")]), models=["x"])


# --- Bradley-Terry -------------------------------------------------------------------------


def test_two_models_closed_form() -> None:
    # 3 wins, 1 loss, 2 ties: x scores 4 of 6, so P = 2/3 and theta_x - theta_y = ln 2.
    rows = [("x", "y", "a")] * 3 + [("x", "y", "b")] + [("y", "x", "tie")] * 2
    fit = fit_bradley_terry(count_battles(frame(rows)))
    assert fit.theta[0] - fit.theta[1] == pytest.approx(math.log(2), abs=1e-12)
    assert fit.theta.sum() == pytest.approx(0, abs=1e-12)


def test_recovers_known_ratings() -> None:
    truth = np.linspace(-1.5, 1.5, 8)
    fit = fit_bradley_terry(count_battles(simulate_battles(truth, 40_000, seed=1)))
    np.testing.assert_allclose(fit.theta, truth - truth.mean(), atol=0.06)


def test_undefeated_and_winless_models_are_unrated() -> None:
    rows = [("top", m, "a") for m in ("p", "q")] + [("p", "q", "a"), ("q", "p", "a"),
                                                    ("p", "q", "tie"), ("low", "p", "b")]
    lb = leaderboard(frame(rows))
    unrated = lb[~lb["rated"]]
    assert set(unrated["model"]) == {"top", "low"}
    assert unrated["rating"].isna().all() and unrated["rank"].isna().all()
    assert list(lb["model"][-2:]) == ["low", "top"]  # unrated last
    assert lb["rated"].head(2).all() and np.isfinite(lb["rating"].head(2)).all()
    # a light ridge rates everyone, finitely and in the right order
    ridge = leaderboard(frame(rows), prior=0.1).set_index("model")["rating"]
    assert np.isfinite(ridge).all()
    assert ridge["top"] > max(ridge["p"], ridge["q"]) > min(ridge["p"], ridge["q"]) > ridge["low"]


def test_no_rated_models_when_nothing_is_comparable() -> None:
    fit = fit_bradley_terry(count_battles(frame([("x", "y", "a")] * 5)))
    assert not fit.rated.any() and np.isnan(fit.theta).all()
    # two equally large groups never compared fairly: neither is chosen
    rows = [("a", "b", "a"), ("a", "b", "b"), ("c", "d", "a"), ("c", "d", "b"), ("a", "c", "a")]
    assert not fit_bradley_terry(count_battles(frame(rows))).rated.any()


def test_only_ties_model_is_rated() -> None:
    rows = [("x", "y", "a"), ("y", "x", "a"), ("z", "x", "tie"), ("z", "y", "tie")]
    fit = fit_bradley_terry(count_battles(frame(rows)))
    assert fit.rated.all()
    assert fit.theta[2] == pytest.approx(0.0, abs=1e-9)


def test_davidson_equals_half_win_without_ties() -> None:
    battles = simulate_battles(np.array([0.0, 0.4, -0.7, 1.1, 0.2]), 3000, seed=2)
    counts = count_battles(battles)
    half, davidson = (fit_bradley_terry(counts, ties=t) for t in ("half", "davidson"))
    assert davidson.log_nu == -np.inf
    np.testing.assert_allclose(davidson.theta, half.theta, atol=1e-12)
    np.testing.assert_allclose(rating_intervals(davidson).se, rating_intervals(half).se)


def test_davidson_recovers_tie_parameter_and_ratings() -> None:
    truth = np.array([0.0, 0.6, -0.8, 1.2, 0.3, -0.4])
    counts = count_battles(simulate_battles(truth, 60_000, seed=3, nu=0.8))
    fit = fit_bradley_terry(counts, ties="davidson")
    assert fit.log_nu is not None and math.exp(fit.log_nu) == pytest.approx(0.8, rel=0.05)
    np.testing.assert_allclose(fit.theta, truth - truth.mean(), atol=0.05)
    # the half-win model reads ties as pulling everyone together: smaller spread
    assert np.ptp(fit_bradley_terry(counts).theta) < np.ptp(fit.theta)


def test_predicted_and_observed_win_rates() -> None:
    rows = [("x", "y", "a")] * 3 + [("x", "y", "b")] + [("y", "x", "tie")] * 2
    counts = count_battles(frame(rows + [("y", "z", "a"), ("z", "y", "a")]))
    rates, battles = observed_win_rates(counts)
    assert rates.loc["x", "y"] == pytest.approx(4 / 6) and battles.loc["x", "y"] == 6
    assert np.isnan(rates.loc["x", "z"]) and battles.loc["x", "z"] == 0
    fit = fit_bradley_terry(counts)
    predicted = predicted_win_rates(fit)
    assert predicted.loc["x", "y"] == pytest.approx(2 / 3)  # two models: the MLE fits exactly
    np.testing.assert_allclose(predicted + predicted.T, np.where(np.eye(3), np.nan, 1.0))
    davidson = fit_bradley_terry(counts, ties="davidson")
    score = expected_score(davidson)
    np.testing.assert_allclose(score + score.T, 1.0)


# --- intervals, scale, ranks ---------------------------------------------------------------


def test_sandwich_matches_binomial_variance_for_two_models() -> None:
    # two models, no ties: var(theta_x - theta_y) = 1 / (n p (1 - p))
    rows = [("x", "y", "a")] * 30 + [("x", "y", "b")] * 10
    fit = fit_bradley_terry(count_battles(frame(rows)))
    iv = rating_intervals(fit)
    assert difference_se(iv, 0, 1) == pytest.approx(1 / math.sqrt(40 * 0.75 * 0.25))
    assert iv.se[0] == pytest.approx(difference_se(iv, 0, 1) / 2)


@pytest.mark.parametrize("total", [1, 7, 400])
def test_multinomial_sampler_is_exact(total: int) -> None:
    prob = np.array([0.5, 0.3, 0.15, 0.05])
    draws = multinomial(np.random.default_rng(total), total, prob, 100_000)
    assert (draws.sum(1) == total).all() and (draws >= 0).all()
    # each cell is Binomial(total, p): compare the whole distribution, not just the mean
    for cell, p in enumerate(prob):
        k = np.arange(total + 1)
        log_pmf = ([math.lgamma(total + 1) - math.lgamma(i + 1) - math.lgamma(total - i + 1)
                    for i in k] + k * math.log(p) + (total - k) * math.log1p(-p))
        seen = np.bincount(draws[:, cell], minlength=total + 1) / len(draws)
        assert 0.5 * np.abs(seen - np.exp(log_pmf)).sum() < 0.01
    np.testing.assert_allclose(np.cov(draws.T), total * (np.diag(prob) - np.outer(prob, prob)),
                               atol=0.02 * total)


def test_bootstrap_is_seeded_and_close_to_sandwich() -> None:
    battles = simulate_battles(np.linspace(-1, 1, 6), 20_000, seed=5, nu=0.4)
    fit = fit_bradley_terry(count_battles(battles))
    one = bootstrap_thetas(fit, rounds=120, seed=7)
    assert np.array_equal(one, bootstrap_thetas(fit, rounds=120, seed=7, workers=1))
    assert not np.array_equal(one, bootstrap_thetas(fit, rounds=120, seed=8))
    boot = rating_intervals(fit, method="bootstrap", rounds=400)
    np.testing.assert_allclose(boot.se, rating_intervals(fit).se, rtol=0.15)


def test_bootstrap_replicates_are_exact_fits() -> None:
    battles = simulate_battles(np.linspace(-1, 1, 5), 3000, seed=6, nu=0.3)
    for ties in ("half", "davidson"):
        fit = fit_bradley_terry(count_battles(battles), ties=ties)  # type: ignore[arg-type]
        reps = bootstrap_thetas(fit, rounds=3, seed=1)
        # redraw the same multinomial counts and fit each replicate on its own
        solver = _BatchSolver(fit, pair_table(fit.counts, fit.rated))
        rng = np.random.default_rng(np.random.SeedSequence(1).spawn(1)[0])
        draws = multinomial(rng, solver.total, solver.prob, 3)
        for r in range(3):
            cells = np.zeros(3 * len(solver.table.ia))
            cells[solver.cells] = draws[r]
            w_ab, w_ba, t = np.split(cells, 3)
            own = solver._fallback(w_ab, w_ba, t, np.ones(5), np.ones(5))
            np.testing.assert_allclose(reps[r], own, atol=1e-8)


def test_bootstrap_with_degenerate_replicates_gives_open_bounds() -> None:
    # "weak" won 1 of 12: many replicates see it win nothing, so no finite lower bound.
    rows = ([("weak", "p", "b")] * 6 + [("weak", "q", "b")] * 5 + [("weak", "q", "a")]
            + [("p", "q", "a")] * 5 + [("p", "q", "b")] * 5)
    fit = fit_bradley_terry(count_battles(frame(rows)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        iv = rating_intervals(fit, method="bootstrap", rounds=300, seed=1)
    weak = fit.models.index("weak")
    assert iv.lower[weak] == -np.inf and np.isfinite(iv.upper[weak])
    assert np.isinf(iv.se[weak])
    assert np.isfinite(iv.lower[fit.models.index("p")])
    lb = leaderboard(frame(rows), ci="bootstrap", rounds=300, seed=1)
    assert lb.set_index("model").loc["weak", "lower"] == -np.inf


def test_rating_scale_and_anchor() -> None:
    assert to_rating(np.array([0.0]))[0] == 1000
    assert to_rating(np.array([math.log(10)]))[0] == pytest.approx(1400)
    battles = simulate_battles(np.array([0.0, 0.5, 1.0]), 2000, seed=8)
    plain = leaderboard(battles).set_index("model")
    anchored = leaderboard(battles, anchor=("model-001", 1500.0)).set_index("model")
    assert anchored.loc["model-001", "rating"] == pytest.approx(1500)
    shift = 1500 - plain.loc["model-001", "rating"]
    for column in ("rating", "lower", "upper"):
        np.testing.assert_allclose(anchored[column], plain[column] + shift)
    np.testing.assert_allclose(anchored["se"], plain["se"])
    assert plain["rating"].mean() == pytest.approx(1000)
    with pytest.raises(ValidationError):
        leaderboard(battles, anchor=("nobody", 1000.0))


def test_parse_anchor() -> None:
    assert parse_anchor("gpt-4=1200") == ("gpt-4", 1200.0)
    assert parse_anchor("a=b=950.5") == ("a=b", 950.5)
    for bad in ("gpt-4", "=1200", "gpt-4=high", "m=nan"):
        with pytest.raises(ValidationError):
            parse_anchor(bad)


def test_rank_rule() -> None:
    lower = np.array([10.0, 8.0, 4.0, 1.0, np.nan])
    upper = np.array([14.0, 12.0, 9.0, 3.0, np.nan])
    # model 2's upper 9 is beaten by model 0's lower 10 only; model 3 by models 0, 1 and 2.
    assert interval_ranks(lower, upper).tolist() == [1, 1, 2, 4, pd.NA]


def test_leaderboard_columns_counts_and_baseline() -> None:
    battles = simulate_battles(np.array([0.0, 0.8, -0.5, 0.3]), 4000, seed=9, nu=0.5)
    lb = leaderboard(battles, baseline="model-000")
    assert tuple(lb.columns) == LEADERBOARD_COLUMNS + ("win_rate", "win_rate_se")
    assert lb["rating"].is_monotonic_decreasing
    row = lb.set_index("model").loc["model-001"]
    assert row["battles"] == row["wins"] + row["ties"] + row["losses"]
    assert lb["battles"].sum() == 2 * len(battles)
    assert np.isnan(lb.set_index("model").loc["model-000", "win_rate"])
    np.testing.assert_allclose(lb["upper"] - lb["lower"], 2 * 1.959963984540054 * lb["se"])
    assert lb.attrs["ci"] == "sandwich"


# --- Elo -----------------------------------------------------------------------------------


def test_online_elo_hand_computed() -> None:
    # K = 4, start 1000, replayed by created_at (rows given out of order):
    # 1) x beats y: expected 0.5, x 1002, y 998
    # 2) y beats x: E_x = 1 / (1 + 10^(-4/400)) = 0.5057562, x -= 4 * 0.5057562
    # 3) y ties z: E_y = 1 / (1 + 10^(-0.0230250/400)) = 0.5000331, y += 4 * (0.5 - E_y)
    df = frame([("y", "z", "tie"), ("x", "y", "a"), ("y", "x", "a")], created_at=[3, 1, 2])
    elo = online_elo(df)
    assert elo["x"] == pytest.approx(999.9769750, abs=1e-6)
    assert elo["y"] == pytest.approx(1000.0228926, abs=1e-6)
    assert elo["z"] == pytest.approx(1000.0001325, abs=1e-6)
    assert elo.sum() == pytest.approx(3000)


def test_online_elo_refuses_grouped_rows() -> None:
    with pytest.raises(ValidationError):
        online_elo(frame([("x", "y", "a")], n=[3]))


# --- style control -------------------------------------------------------------------------


def test_style_counts_ignore_code_blocks() -> None:
    text = "# Title\n\nSome **bold** and __bold__ text\n- a\n* b\n2. c\n```\n# no\n- no\n```\n#no"
    assert style_counts(text) == {"len": len(text), "header": 1, "list": 3, "bold": 2}


def test_style_control_removes_a_length_effect() -> None:
    # Equal models; the judge prefers the longer answer. Raw ratings then follow each model's
    # habit of writing long, controlled ratings do not.
    rng = np.random.default_rng(11)
    n, habit = 20_000, np.array([200.0, 400.0, 800.0])
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(1, 3, n)) % 3
    # lengths vary a lot within each model, so length and identity can be told apart
    len_a, len_b = (np.rint(habit[i] * rng.lognormal(0, 0.8, n)).astype(int) for i in (a, b))
    texts_a = ["x" * k for k in len_a]
    texts_b = ["x" * k for k in len_b]
    logit = 3.0 * (len_a - len_b) / (len_a + len_b + 1)
    win = rng.random(n) < 1 / (1 + np.exp(-logit))
    names = np.array(["short", "mid", "long"])
    battles = add_style_features(pd.DataFrame({
        "model_a": names[a], "model_b": names[b], "outcome": np.where(win, "a", "b"),
        "text_a": texts_a, "text_b": texts_b,
    }))
    fit = fit_style_controlled(battles)
    raw = fit.raw.theta
    assert raw[fit.models.index("long")] - raw[fit.models.index("short")] > 0.5
    se = np.sqrt(np.diag(fit.covariance))
    assert (np.abs(fit.theta) < 3 * se).all() and (se < 0.1).all()
    assert fit.coefficients["len"] > 0.3
    assert np.isnan(fit.coefficients["header"])  # no headers anywhere: left out
    lb = leaderboard(battles, style_control=True)
    assert "raw_rating" in lb.columns and lb.attrs["style_coefficients"]["len"] > 0.3
    assert (lb["upper"] - lb["lower"]).max() < 60
    with pytest.raises(ValidationError):
        leaderboard(battles, style_control=True, ci="bootstrap")


def test_style_control_without_style_effect_matches_raw() -> None:
    battles = simulate_battles(np.array([0.0, 0.7, -0.4]), 6000, seed=12)
    rng = np.random.default_rng(0)
    for name in ("len", "bold"):
        battles[f"{name}_a"] = rng.integers(0, 100, len(battles))
        battles[f"{name}_b"] = rng.integers(0, 100, len(battles))
    fit = fit_style_controlled(battles, features=("len", "bold"))
    np.testing.assert_allclose(fit.theta, fit.raw.theta, atol=0.03)
    raw_se = rating_intervals(fit.raw).se
    np.testing.assert_allclose(np.sqrt(np.diag(fit.covariance)), raw_se, rtol=0.05)
    assert RATING_SCALE * np.abs(fit.coefficients).max() < 30
