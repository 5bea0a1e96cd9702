"""Our Bradley-Terry against LMArena's own package (`arena-rank`) on the same battles.

arena-rank pins its own numpy and jax, so it lives in its own virtual environment, built
by benchmarks/reference_envs.sh when missing (about a minute from PyPI) and called here
through a subprocess on a battles file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judge_app.core.bradley_terry import fit_bradley_terry
from judge_app.core.counts import count_battles
from judge_app.core.intervals import rating_intervals
from judge_app.core.scale import to_rating
from tests.ratings_sim import simulate_battles

REPO = Path(__file__).resolve().parents[1]
WINNER = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie"}


@pytest.fixture(scope="module")
def arena_rank_python() -> str:
    built = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "reference_envs.sh"), "arena-rank"],
        capture_output=True, text=True, timeout=1200,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    return built.stdout.strip().splitlines()[-1]


def arena_rank(python: str, battles: pd.DataFrame, folder: Path) -> dict[str, list[float]]:
    path, out = folder / "battles.csv", folder / "arena_rank.json"
    battles.assign(winner=battles["outcome"].map(WINNER))[["model_a", "model_b", "winner"]].to_csv(
        path, index=False)
    run = subprocess.run(
        [python, str(REPO / "benchmarks" / "reference" / "run_arena_rank.py"), str(path), str(out)],
        capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, list[float]] = json.loads(out.read_text())
    return result


def test_ratings_and_sandwich_intervals_agree(arena_rank_python: str, tmp_path: Path) -> None:
    # Uneven: a few models play much more often, and ties and both_bad are common.
    truth = np.random.default_rng(0).normal(0, 0.8, 14)
    battles = simulate_battles(truth, 30_000, seed=21, nu=0.6)
    rng = np.random.default_rng(1)
    battles = pd.concat([battles, battles[battles["model_a"].isin(["model-000", "model-003"])]])
    both_bad = (battles["outcome"] == "tie") & (rng.random(len(battles)) < 0.3)
    battles.loc[both_bad, "outcome"] = "both_bad"

    theirs = arena_rank(arena_rank_python, battles, tmp_path)
    fit = fit_bradley_terry(count_battles(battles))
    assert list(fit.models) == theirs["models"] and fit.rated.all()
    intervals = rating_intervals(fit)

    rating_gap = np.abs(to_rating(fit.theta) - np.array(theirs["rating"]))
    assert rating_gap.max() < 0.01
    ours = to_rating(intervals.upper) - to_rating(intervals.lower)
    their_width = np.array(theirs["upper"]) - np.array(theirs["lower"])
    np.testing.assert_allclose(ours, their_width, rtol=0.05)
