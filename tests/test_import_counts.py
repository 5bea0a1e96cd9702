"""The import summary counts what landed, however many rows (issue 12: '0 new verdicts')."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judge_app.cli import main
from judge_app.core.types import ImportedVerdict
from judge_app.ingest.loader import load_bundles
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]


def stored_verdicts(db: Database, task: str) -> int:
    with db.cursor() as cur:
        row = cur.execute("SELECT count(*) FROM verdicts WHERE task_id = ?", [task]).fetchone()
    return int(row[0]) if row else 0


@pytest.mark.parametrize("n_prompts", [3, 40])  # 3 x 6 rows take the small path, 40 x 6 the bulk
def test_report_counts_every_new_verdict(db: Database, n_prompts: int) -> None:
    bundle = make_bundle(n_prompts=n_prompts, models=("m1", "m2", "m3"))
    bundle.verdicts = [
        ImportedVerdict(f"q{i}", a, b, "a", rater)
        for i in range(n_prompts) for a, b in (("m1", "m2"), ("m2", "m3"), ("m1", "m3"))
        for rater in ("r1", "r2")
    ]
    report = import_bundle(db, bundle)
    assert report.verdicts_new == 6 * n_prompts == stored_verdicts(db, "t1")
    assert f"{6 * n_prompts} new verdicts" in report.summary()
    again = import_bundle(db, bundle)
    assert again.verdicts_new == 0 and again.nothing_new


def test_cli_summary_of_the_demo_and_battles(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                             ) -> None:
    db_path = tmp_path / "j.duckdb"
    assert main(["import", str(ROOT / "tasks" / "demo-pandalm"), "--db", str(db_path)]) == 0
    assert "2997 new verdicts" in capsys.readouterr().out
    battles = [
        {"question_id": f"q{i}", "model_a": "m1", "model_b": "m2", "winner": "model_a",
         "judge": "ann", "turn": 1, "tstamp": 1_700_000_000 + i,
         "conversation_a": [{"role": "user", "content": f"question {i}"},
                            {"role": "assistant", "content": "one"}],
         "conversation_b": [{"role": "user", "content": f"question {i}"},
                            {"role": "assistant", "content": "two"}]}
        for i in range(100)
    ]
    path = tmp_path / "battles.jsonl"
    path.write_text("".join(json.dumps(b) + "\n" for b in battles), encoding="utf-8")
    assert main(["import", str(path), "--db", str(db_path)]) == 0
    assert "100 new verdicts" in capsys.readouterr().out
    db = open_database(db_path)
    assert stored_verdicts(db, "demo-pandalm") == 2997 and stored_verdicts(db, "battles") == 100


def test_native_verdicts_file_counts(tmp_path: Path) -> None:
    [bundle] = load_bundles([ROOT / "tasks" / "demo-pandalm"])
    db = open_database(tmp_path / "j.duckdb")
    assert import_bundle(db, bundle).verdicts_new == len(bundle.verdicts) == 2997
