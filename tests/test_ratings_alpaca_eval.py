"""AlpacaEval's published win rates and standard errors, recomputed from its annotations."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from judge_app.core.winrates import baseline_win_rates
from tests.conftest import DATA

V2 = DATA / "alpaca_eval_results" / "weighted_alpaca_eval_gpt4_turbo"
ANNOTATIONS = sorted((V2 / "preferences").glob("*.json.gz"))
BASELINE = "gpt4_1106_preview"


def battles_of(path: Path) -> pd.DataFrame:
    """One battle per annotation: generator_1 (the baseline) as model_a, the model as model_b.

    preference in [1, 2] is 1 + P(output_2 better), so P(model_a better) = 2 - preference.
    """
    records = json.loads(gzip.decompress(path.read_bytes()))
    preference = np.array([r["preference"] for r in records], dtype=np.float64)
    return pd.DataFrame({
        "model_a": [r["generator_1"] for r in records],
        "model_b": [r["generator_2"] for r in records],
        "outcome": np.where(preference > 1.5, "b", np.where(preference < 1.5, "a", "tie")),
        "probability": 2 - preference,
    })


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    return pd.read_csv(V2 / "leaderboard.csv", index_col=0)


def test_every_annotated_model_is_checked(published: pd.DataFrame) -> None:
    assert len(ANNOTATIONS) == 8
    assert {p.name.removesuffix(".json.gz") for p in ANNOTATIONS} == set(published.index)


@pytest.mark.parametrize("path", ANNOTATIONS, ids=lambda p: p.name.removesuffix(".json.gz"))
def test_win_rate_and_standard_error_match_published(path: Path, published: pd.DataFrame) -> None:
    battles = battles_of(path)
    assert set(battles["model_a"]) == {BASELINE}
    (model,) = set(battles["model_b"])
    ours = baseline_win_rates(battles, BASELINE).loc[model]
    theirs = published.loc[model]
    assert ours["win_rate"] == pytest.approx(theirs["win_rate"], abs=1e-6)
    assert ours["win_rate_se"] == pytest.approx(theirs["standard_error"], abs=1e-6)
    assert ours["discrete_win_rate"] == pytest.approx(theirs["discrete_win_rate"], abs=1e-6)
    assert (ours["n_wins"], ours["n_losses"], ours["n_draws"], ours["n_total"]) == (
        theirs["n_wins"], theirs["n_wins_base"], theirs["n_draws"], theirs["n_total"])


def test_sides_do_not_matter(published: pd.DataFrame) -> None:
    battles = battles_of(V2 / "preferences" / "gpt-3.5-turbo-0301.json.gz")
    swapped = battles.rename(columns={"model_a": "model_b", "model_b": "model_a"}).assign(
        outcome=battles["outcome"].map({"a": "b", "b": "a", "tie": "tie"}),
        probability=1 - battles["probability"],
    )
    rates = baseline_win_rates(swapped, BASELINE).loc["gpt-3.5-turbo-0301"]
    assert rates["win_rate"] == pytest.approx(9.622453295105588, abs=1e-9)
    assert rates["win_rate"] == pytest.approx(published.loc["gpt-3.5-turbo-0301", "win_rate"])


def test_without_probabilities_ties_count_half() -> None:
    battles = pd.DataFrame({
        "model_a": ["base", "m", "m", "base"], "model_b": ["m", "base", "base", "m"],
        "outcome": ["b", "a", "tie", "both_bad"], "n": [3, 1, 2, 2],
    })
    row = baseline_win_rates(battles, "base").loc["m"]
    values = pd.Series([1.0] * 4 + [0.5] * 4)  # the same eight battles one by one
    assert row["win_rate"] == pytest.approx(100 * values.mean())
    assert row["win_rate_se"] == pytest.approx(100 * values.sem())
    assert (row["n_wins"], row["n_draws"], row["n_losses"]) == (4, 4, 0)
