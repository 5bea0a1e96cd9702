"""Issue 6's done-when checks: battles round trip, AlpacaEval win rates from stored verdicts."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest

from judge_app.core.types import ImportedVerdict
from judge_app.ingest.loader import load_bundles
from judge_app.services.exports import ExportRequest, export_task
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import compute_leaderboard
from judge_app.storage.analytics import Slice, battle_counts
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import DATA, make_bundle

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ALPACA = DATA / "alpaca_eval_results" / "weighted_alpaca_eval_gpt4_turbo"
BASELINE = "gpt4_1106_preview"


def battle_table(db: Database, task: str) -> pd.DataFrame:
    """Counts per model pair and outcome. FastChat battle records carry no strength, so
    strengths are summed over."""
    with db.cursor() as cur:
        counts = battle_counts(cur, Slice(task_id=task))
    return counts.groupby(["model_a", "model_b", "outcome"], as_index=False)["n"].sum()


def test_battles_round_trip(db: Database, tmp_path: Path) -> None:
    rng = random.Random(7)
    bundle = make_bundle("arena", n_prompts=12, models=("m1", "m2", "m3", "m4"))
    raters = [("ann", "human"), ("bob", "human"), ("gpt-judge", "judge")]
    outcomes = ["a", "a", "b", "tie", "both_bad"]
    bundle.verdicts = [
        ImportedVerdict(f"q{i}", a, b, rng.choice(outcomes), rater,
                        source=source, created_at=f"2025-01-01T00:{i:02d}:{n:02d}")  # type: ignore[arg-type]
        for i in range(12) for n, (a, b) in enumerate(
            rng.sample([("m1", "m2"), ("m3", "m1"), ("m2", "m4"), ("m4", "m3")], 3))
        for rater, source in raters if rng.random() < 0.8
    ]
    import_bundle(db, bundle)
    out = export_task(db, ExportRequest("arena", "battles"), tmp_path / "battles.jsonl").path

    other = open_database(tmp_path / "other.duckdb")
    (again,) = load_bundles([out], "auto", "arena")
    import_bundle(other, again)
    before, after = battle_table(db, "arena"), battle_table(other, "arena")
    assert len(before) > 10
    pd.testing.assert_frame_equal(before, after)
    pd.testing.assert_frame_equal(compute_leaderboard(db, "arena"),
                                  compute_leaderboard(other, "arena"))
    with other.cursor() as cur:
        kinds = dict(cur.execute("SELECT rater_id, source FROM raters").fetchall())
    assert kinds == {"ann": "human", "bob": "human", "gpt-judge": "judge"}


def win_rates(db: Database, task: str, baseline: str) -> pd.DataFrame:
    """AlpacaEval's win rate from stored verdicts: the mean judge probability that the model
    beats the baseline, in percent, with the standard error of that mean."""
    with db.cursor() as cur:
        v = cur.execute(
            "SELECT model_a, model_b, probability FROM active_verdicts WHERE task_id = ? "
            "AND (model_a = ? OR model_b = ?)", [task, baseline, baseline],
        ).df()
    model_is_a = v["model_b"] == baseline
    v["model"] = v["model_a"].where(model_is_a, v["model_b"])
    v["p_model"] = v["probability"].where(model_is_a, 1.0 - v["probability"])
    grouped = v.groupby("model")["p_model"]
    return pd.DataFrame({"win_rate": grouped.mean() * 100, "standard_error": grouped.sem() * 100,
                         "n_total": grouped.size()})


def test_alpaca_eval_win_rates_match_published(db: Database) -> None:
    files = sorted((ALPACA / "annotations").glob("*.json.gz"))
    assert len(files) >= 1
    (bundle,) = load_bundles(files, "auto", "alpaca-ann")
    import_bundle(db, bundle)
    ours = win_rates(db, "alpaca-ann", BASELINE)
    published = pd.read_csv(ALPACA / "leaderboard.csv", index_col=0)
    expected_models = {f.name.removesuffix(".json.gz") for f in files}
    assert set(ours.index) == expected_models
    for model, row in ours.iterrows():
        ref = published.loc[model]
        assert row["win_rate"] == pytest.approx(ref["win_rate"], abs=1e-6), model
        assert row["standard_error"] == pytest.approx(ref["standard_error"], abs=1e-6), model
        assert row["n_total"] == ref["n_total"], model
    assert ours.loc["gpt-3.5-turbo-0301", "win_rate"] == pytest.approx(9.622453295105588,
                                                                       abs=1e-6)
    # The leaderboard service's baseline win rates read the same stored probabilities.
    board = compute_leaderboard(db, "alpaca-ann", baseline=BASELINE).set_index("model")
    for model in expected_models:
        assert board.loc[model, "win_rate"] == pytest.approx(published.loc[model, "win_rate"],
                                                             abs=1e-6), model
        assert board.loc[model, "win_rate_se"] == pytest.approx(
            published.loc[model, "standard_error"], abs=1e-6), model
