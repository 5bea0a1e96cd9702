"""Properties of the rating math: invariances, and interval coverage on simulated votes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge_app.core.bradley_terry import fit_bradley_terry
from judge_app.core.counts import count_battles
from judge_app.core.intervals import rating_intervals
from judge_app.core.leaderboard import leaderboard
from tests.ratings_sim import simulate_battles

NAMES = ["alpha", "beta", "gamma", "delta", "eps"]
COMPARED = ["rating", "lower", "upper", "se", "rank", "rated", "battles", "wins", "ties", "losses"]

battle_lists = st.lists(
    st.tuples(st.integers(0, 4), st.integers(1, 4), st.sampled_from(["a", "b", "tie", "both_bad"])),
    min_size=1, max_size=40,
).map(lambda rows: pd.DataFrame(
    [(NAMES[i], NAMES[(i + j) % 5], o) for i, j, o in rows],
    columns=["model_a", "model_b", "outcome"],
))
settings_ = settings(max_examples=80, deadline=None)


def by_model(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("model").sort_index()[COMPARED]


def assert_same(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right, check_exact=False, atol=1e-6, rtol=1e-9)


@settings_
@given(battle_lists, st.permutations(range(5)), st.sampled_from(["half", "davidson"]))
def test_relabelling_models_permutes_ratings(
    battles: pd.DataFrame, perm: list[int], ties: str,
) -> None:
    rename = {NAMES[i]: f"m{perm[i]}" for i in range(5)}
    relabelled = battles.replace({"model_a": rename, "model_b": rename})
    before = by_model(leaderboard(battles, ties=ties)).rename(index=rename).sort_index()  # type: ignore[arg-type]
    after = by_model(leaderboard(relabelled, ties=ties))  # type: ignore[arg-type]
    assert_same(before, after)


@settings_
@given(battle_lists, st.sampled_from(["half", "davidson"]), st.booleans())
def test_swapping_sides_and_outcomes_changes_nothing(
    battles: pd.DataFrame, ties: str, ridge: bool,
) -> None:
    swapped = pd.DataFrame({
        "model_a": battles["model_b"], "model_b": battles["model_a"],
        "outcome": battles["outcome"].replace({"a": "b", "b": "a"}),
    })
    prior = 0.5 if ridge else 0.0
    assert_same(by_model(leaderboard(battles, ties=ties, prior=prior)),  # type: ignore[arg-type]
                by_model(leaderboard(swapped, ties=ties, prior=prior)))  # type: ignore[arg-type]


@settings_
@given(battle_lists)
def test_grouping_battles_changes_nothing(battles: pd.DataFrame) -> None:
    grouped = battles.groupby(["model_a", "model_b", "outcome"]).size().rename("n").reset_index()
    assert_same(by_model(leaderboard(battles)), by_model(leaderboard(grouped)))


@settings_
@given(battle_lists)
def test_ratings_are_finite_or_marked_unrated(battles: pd.DataFrame) -> None:
    table = leaderboard(battles)
    rated = table[table["rated"]]
    assert np.isfinite(rated[["rating", "lower", "upper", "se"]].to_numpy()).all()
    assert (rated["lower"] <= rated["rating"]).all() and (rated["rating"] <= rated["upper"]).all()
    assert table.loc[~table["rated"], ["rating", "lower", "upper"]].isna().all().all()
    assert rated["rank"].notna().all() and table.loc[~table["rated"], "rank"].isna().all()


# --- coverage of the truth by the intervals ------------------------------------------------

TRUTH = np.array([-0.9, -0.4, 0.0, 0.3, 0.6, 1.1])


def coverage(method: str, ties: str, nu: float, datasets: int, rounds: int = 0) -> float:
    """Share of (dataset, model) intervals that contain the true mean-zero theta."""
    target = TRUTH - TRUTH.mean()
    hits = []
    for seed in range(datasets):
        fit = fit_bradley_terry(count_battles(simulate_battles(TRUTH, 600, seed=seed, nu=nu)),
                                ties=ties)  # type: ignore[arg-type]
        assert fit.rated.all()
        iv = rating_intervals(fit, method=method, rounds=rounds, seed=seed)  # type: ignore[arg-type]
        hits.append((iv.lower <= target) & (target <= iv.upper))
    return float(np.mean(hits))


@pytest.mark.parametrize(("ties", "nu"), [("half", 0.0), ("davidson", 0.7)])
def test_sandwich_intervals_cover_at_nominal_rate(ties: str, nu: float) -> None:
    assert 0.93 <= coverage("sandwich", ties, nu, datasets=400) <= 0.97


@pytest.mark.parametrize(("ties", "nu"), [("half", 0.0), ("davidson", 0.7)])
def test_bootstrap_intervals_cover_at_nominal_rate(ties: str, nu: float) -> None:
    assert 0.92 <= coverage("bootstrap", ties, nu, datasets=120, rounds=200) <= 0.975
