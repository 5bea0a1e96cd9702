"""The reliability model through a real DuckDB file: the GROUP BY read, the leaderboard, the
agreement and report commands, mixing people and judges."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from judge_app.cli import main
from judge_app.core import reliability as rel
from judge_app.errors import ValidationError
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import LeaderboardQuery, run_leaderboard
from judge_app.services.reliability import rater_reliability
from judge_app.storage import analytics
from judge_app.storage.reliability import rater_vote_counts
from judge_app.storage.schema import open_database
from tests.analysis_helpers import simulated_bundle
from tests.reliability_sim import CROWD_STRENGTHS, crowd_bundle

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reliability") / "crowd.duckdb"
    db = open_database(path)
    import_bundle(db, crowd_bundle())
    import_bundle(db, simulated_bundle("empty", raters=(), judges=(), prompts=2))
    db.close()
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str, db: Path) -> tuple[int, str, str]:
    code = main([*args, "--db", str(db)])
    out, err = capsys.readouterr()
    return code, out, err


def test_counts_from_the_database_fit_like_the_verdicts(db_path: Path) -> None:
    db = open_database(db_path)
    try:
        with db.cursor() as cur:
            grouped = rater_vote_counts(cur, analytics.Slice("crowd"))
            verdicts = analytics.battles(cur, analytics.Slice("crowd"))
    finally:
        db.close()
    assert grouped["n"].sum() == len(verdicts) == 30 * 10 * 9
    assert len(grouped) < len(verdicts)
    one = rel.fit_reliability(rel.rater_counts(grouped))
    two = rel.fit_reliability(rel.rater_counts(verdicts))
    assert np.allclose(one.theta, two.theta, atol=1e-8)
    assert np.allclose(one.reliability, two.reliability, atol=1e-8)


def test_leaderboard_json_with_the_reliability_model(
    db_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "leaderboard", "--task", "crowd", "--rating-model",
                       "reliability", "--format", "json", db=db_path)
    assert code == 0
    data = json.loads(out)
    models = data["models"]
    by_rating = sorted(models, key=lambda m: -models[m]["rating"])
    assert by_rating == sorted(CROWD_STRENGTHS, key=lambda m: -CROWD_STRENGTHS[m])
    for row in models.values():
        assert row["lower"] < row["rating"] < row["upper"]
        assert row["battles"] == 30 * 4 * 9
    raters = {r["rater_id"]: r for r in data["raters"]}
    # judges and people in one fit: each judge weighed by how its votes line up with the rest
    assert raters["judge-good"]["source"] == "judge"
    assert raters["judge-good"]["reliability"] > 0.8
    assert raters["judge-left"]["reliability"] < 0.2
    assert raters["judge-left"]["guess_left"] > 0.9
    assert raters["clicker"]["guess_left"] > 0.9 and raters["coin"]["reliability"] < 0.4
    assert min(raters[f"careful-{i}"]["reliability"] for i in range(1, 6)) > 0.7


def test_reliability_weighs_out_the_left_clicking_judge(db_path: Path) -> None:
    """Plain Bradley-Terry counts the judge that always picks the first answer like anyone
    else, which pulls every rating towards the middle; the reliability model's ratings on
    all verdicts stay close to plain Bradley-Terry on the careful raters alone."""
    db = open_database(db_path)
    try:
        def theta(model: str) -> dict[str, float]:
            table = run_leaderboard(db, LeaderboardQuery("crowd", rating_model=model))
            return dict(zip(table["model"], table["rating"], strict=True))

        mixed, plain = theta("reliability"), theta("bradley-terry")
        careful = rater_reliability(db, "crowd")
    finally:
        db.close()
    gap_mixed = mixed["top"] - mixed["poor"]
    gap_plain = plain["top"] - plain["poor"]
    assert gap_mixed > 1.3 * gap_plain  # plain BT is attenuated by a third of noise votes
    assert list(careful["rater_id"]) == sorted(careful["rater_id"])


def test_leaderboard_table_lists_judges_and_least_reliable_people(
    db_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "leaderboard", "--task", "crowd", "--rating-model",
                       "reliability", db=db_path)
    assert code == 0
    assert "Rater reliability" in out and "7 people" in out
    assert "judge-left" in out and "judge-good" in out and "clicker" in out


def test_reliability_model_refuses_options_it_does_not_have(
    db_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "leaderboard", "--task", "crowd", "--rating-model",
                       "reliability", "--ci", "bootstrap", db=db_path)
    assert code == 1 and "drop --ci" in err
    db = open_database(db_path)
    try:
        with pytest.raises(ValidationError, match="unknown rating model"):
            run_leaderboard(db, LeaderboardQuery("crowd", rating_model="elo"))
        with pytest.raises(ValidationError, match="no verdicts"):
            run_leaderboard(db, LeaderboardQuery("empty", rating_model="reliability"))
    finally:
        db.close()


def test_agreement_with_reliability(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "agreement", "--task", "crowd", "--source", "all",
                       "--reliability", "--format", "json", db=db_path)
    assert code == 0
    quality = {r["rater_id"]: r for r in json.loads(out)["rater_quality"]}
    assert len(quality) == 9
    assert quality["judge-left"]["reliability"] < 0.2 < quality["judge-good"]["reliability"]
    assert quality["clicker"]["guess_left"] > 0.9
    assert quality["clicker"]["left_share"] == 1.0  # the agreement figure beside it
    code, out, _ = run(capsys, "agreement", "--task", "crowd", "--format", "json", db=db_path)
    assert "reliability" not in json.loads(out)["rater_quality"][0]  # an option, not default
    code, out, _ = run(capsys, "agreement", "--task", "crowd", "--reliability", db=db_path)
    assert code == 0 and "guess_left" in out


def test_agreement_with_reliability_on_a_task_without_verdicts(
    db_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "agreement", "--task", "empty", "--reliability", "--format",
                       "json", db=db_path)
    assert code == 0 and json.loads(out)["rater_quality"] == []


def test_report_with_the_reliability_model(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out_file = tmp_path / "report.html"
    code, _, _ = run(capsys, "report", "--task", "crowd", "--out", str(out_file),
                     "--rating-model", "reliability", db=db_path)
    assert code == 0
    text = out_file.read_text("utf-8")
    assert "rater-reliability model" in text and "model-based" in text
    assert "<th class=\"\">guess_left</th>" in text
    plain = tmp_path / "plain.html"
    assert run(capsys, "report", "--task", "crowd", "--out", str(plain), db=db_path)[0] == 0
    assert "guess_left" not in plain.read_text("utf-8")
