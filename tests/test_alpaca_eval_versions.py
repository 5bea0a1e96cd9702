"""AlpacaEval annotations of every released version import, and `judge-app leaderboard
--baseline` reproduces AlpacaEval's own published win_rate and standard_error from them."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from judge_app.cli import main
from judge_app.ingest.loader import load_bundles
from tests.conftest import DATA
from tests.ingest_helpers import assert_where, load_error

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

RESULTS = DATA / "alpaca_eval_results"
# (annotator folder, baseline, models with whole annotation files)
VERSIONS = {
    "1.x": ("alpaca_eval_gpt4", "text_davinci_003", ("phi-2", "gpt-3.5-turbo-0301")),
    "2.x": ("weighted_alpaca_eval_gpt4_turbo", "gpt4_1106_preview", ("gpt-3.5-turbo-0301",)),
}


def leaderboard_json(db: Path, task: str, baseline: str,
                     capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert main(["leaderboard", "--task", task, "--baseline", baseline, "--format", "json",
                 "--db", str(db)]) == 0
    return json.loads(capsys.readouterr().out)["models"]


@pytest.mark.parametrize("version", sorted(VERSIONS))
def test_leaderboard_reproduces_published_win_rates(
    version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    annotator, baseline, models = VERSIONS[version]
    folder = RESULTS / annotator
    files = [str(folder / "annotations" / f"{m}.json.gz") for m in models]
    db = tmp_path / "j.duckdb"
    assert main(["import", *files, "--task", "ae", "--db", str(db)]) == 0
    ours = leaderboard_json(db, "ae", baseline, capsys)
    published = pd.read_csv(folder / "leaderboard.csv", index_col=0)
    for model in models:
        theirs = published.loc[model]
        assert ours[model]["win_rate"] == pytest.approx(theirs["win_rate"], abs=1e-6), model
        assert ours[model]["win_rate_se"] == pytest.approx(theirs["standard_error"],
                                                           abs=1e-6), model
        # n_total leaves out the nulls; draws (0 or 1.5) are ties
        assert ours[model]["battles"] == theirs["n_total"]
        assert ours[model]["ties"] == theirs["n_draws"]
        assert (ours[model]["wins"], ours[model]["losses"]) in (
            (theirs["n_wins"], theirs["n_wins_base"]), (theirs["n_wins_base"], theirs["n_wins"]))


def test_published_figures_of_the_1x_example() -> None:
    """The 1.x slices carry every case: phi-2 writes draws as 0.0 and has nulls,
    gpt-3.5-turbo-0301 writes draws as 1.5."""
    folder = RESULTS / "alpaca_eval_gpt4" / "annotations"
    values = {m: [r["preference"] for r in json.loads(gzip.decompress(
        (folder / f"{m}.json.gz").read_bytes()))] for m in ("phi-2", "gpt-3.5-turbo-0301")}
    assert values["phi-2"].count(0.0) == 22 and values["phi-2"].count(None) == 6
    assert values["gpt-3.5-turbo-0301"].count(1.5) == 5
    [bundle] = load_bundles([folder / "phi-2.json.gz"])
    ties = [v for v in bundle.verdicts if v.outcome == "tie"]
    assert len(bundle.verdicts) == 799 and len(ties) == 22
    assert {v.probability for v in ties} == {0.5}


def _write(tmp_path: Path, preferences: list[object]) -> Path:
    records = [{"instruction": f"q{i}", "output_1": "x", "generator_1": "base",
                "output_2": "y", "generator_2": "m", "preference": p}
               for i, p in enumerate(preferences)]
    path = tmp_path / "annotations.json"
    path.write_text("[\n" + ",\n".join(map(json.dumps, records)) + "\n]\n", encoding="utf-8")
    return path


def test_every_preference_value(tmp_path: Path) -> None:
    # 1.x ints, 1.x draws as 0 and as 1.5, 2.x floats, null: not annotated
    [bundle] = load_bundles([_write(tmp_path, [1, 2, 0, 0.0, 1.5, 1.25, 1.75, None])])
    got = [(v.outcome, v.probability) for v in bundle.verdicts]
    assert got == [("a", 1.0), ("b", 0.0), ("tie", 0.5), ("tie", 0.5), ("tie", 0.5),
                   ("a", 0.75), ("b", 0.25)]


@pytest.mark.parametrize("bad", [3, -1, 0.5, "2", True])
def test_other_preferences_are_refused(tmp_path: Path, bad: object) -> None:
    err = load_error(_write(tmp_path, [1, bad]))
    assert_where(err, "annotations.json", 3, "preference")  # the second record
    assert "0 (a draw)" in str(err)
