"""Round trip (issue 12): the verdicts export of a task judged in both orders, imported into a
fresh database with `judge-app import TASK_FOLDER EXPORT`, gives the same leaderboard,
agreement and bias figures. Real processes, real DuckDB files, the real fake judge server."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from judge_app.storage.db import Database
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request, first_wins, longer_wins

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("m1", "m2", "m3")
N_PROMPTS = 8
N_PAIRS = N_PROMPTS * 3
FORMATS = ("jsonl", "csv", "parquet")


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run([sys.executable, "-m", "judge_app.cli", *args, "--db", str(db)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300, env=env)


def ok(*args: str, db: Path) -> str:
    out = cli(*args, db=db)
    assert out.returncode == 0, out.stderr
    return out.stdout


def sometimes_first(req: Request) -> Reply:
    """A judge that picks the first answer shown for about a third of the questions and the
    longer one otherwise: inconsistent across orders on some pairs, consistent on others."""
    if hashlib.sha256(req.text.encode()).digest()[0] % 3 == 0:
        return first_wins(req)
    return longer_wins(req)


def write_task(folder: Path) -> None:
    """A task folder with two people's verdicts (left sides and times known)."""
    folder.mkdir()
    (folder / "task.toml").write_text('name = "rt"\ntitle = "Round trip"\n')
    prompts = [{"id": f"q{i}", "prompt": f"question {i}", "category": "c"}
               for i in range(N_PROMPTS)]
    outputs = [{"prompt_id": f"q{i}", "model": m, "response": f"answer {i} by {m} " * (
        1 + (i * 7 + j * 3) % 5)} for i in range(N_PROMPTS) for j, m in enumerate(MODELS)]
    verdicts = []
    for i in range(N_PROMPTS):
        for x, (a, b) in enumerate((("m1", "m2"), ("m1", "m3"), ("m2", "m3"))):
            for r, rater in enumerate(("ann", "bob")):
                outcome = "abab tie"[(i + x + r * (i % 2)) % 5].strip() or "tie"
                verdicts.append({
                    "prompt_id": f"q{i}", "model_a": a, "model_b": b, "outcome": outcome,
                    "rater": rater, "left": "ab"[(i + r) % 2],
                    "created_at": f"2026-01-{1 + i:02d}T10:{x:02d}:{r:02d}Z"})
    for name, rows in (("prompts", prompts), ("outputs", outputs), ("verdicts", verdicts)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def stored(db: Path) -> dict[str, list[tuple[object, ...]]]:
    """The stored facts behind the figures, to the last bit (probabilities included)."""
    database = Database(db)
    try:
        with database.cursor() as cur:
            return {
                "verdicts": cur.execute(
                    "SELECT verdict_id, pair_id, rater_id, source, left_side, outcome, strength, "
                    "probability, consistent, judge_config_hash, created_at "
                    "FROM active_verdicts ORDER BY verdict_id").fetchall(),
                "calls": cur.execute(
                    "SELECT call_key, pair_id, config_hash, left_side, raw_choice, "
                    "probability, raw_answer FROM judge_calls ORDER BY call_key").fetchall(),
            }
    finally:
        database.close()


def figures(db: Path) -> dict[str, object]:
    """What a user compares: the leaderboard and every agreement and bias table, as JSON."""
    board = json.loads(ok("leaderboard", "--task", "rt", "--format", "json", db=db))
    judges = json.loads(ok("leaderboard", "--task", "rt", "--source", "judge", "--format",
                           "json", db=db))
    report = json.loads(ok("agreement", "--task", "rt", "--source", "all", "--format", "json",
                           db=db))
    return {"leaderboard": board, "judge_leaderboard": judges, "agreement": report}


@dataclass
class Origin:
    task: Path
    db: Path
    exports: dict[str, Path]
    figures: dict[str, object]


@pytest.fixture(scope="module")
def origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Origin]:
    tmp = tmp_path_factory.mktemp("roundtrip")
    task, db = tmp / "rt", tmp / "origin.duckdb"
    write_task(task)
    ok("import", str(task), db=db)
    for name, responder in (("longer", longer_wins), ("fickle", sometimes_first)):
        with FakeOpenAIServer(responder) as server:
            config = tmp / f"{name}.toml"
            config.write_text(f'name = "{name}"\nmodel = "fake"\ntemplate = "overall"\n'
                              f'base_url = "{server.base_url}"\norder = "both"\n'
                              f'logprobs = {"true" if name == "fickle" else "false"}\n')
            out = ok("judge", "--task", "rt", "--judge", str(config), "--quiet", db=db)
            assert server.count == 2 * N_PAIRS, out
    exports = {}
    for fmt in FORMATS:
        exports[fmt] = tmp / "out" / f"rt-verdicts.{fmt}"
        ok("export", "--task", "rt", "--format", "verdicts", "--out", str(exports[fmt]), db=db)
    yield Origin(task, db, exports, figures(db))


def test_the_figures_are_worth_comparing(origin: Origin) -> None:
    """The task really was judged in both orders, and the judges differ in position bias."""
    report = origin.figures["agreement"]
    assert isinstance(report, dict)
    bias = {r["rater_id"]: r for r in report["position_bias"]}
    assert bias["longer"]["n"] == bias["fickle"]["n"] == 2 * N_PAIRS  # every shown order
    assert bias["fickle"]["left_share"] > bias["longer"]["left_share"]
    swap = {r["rater_id"]: r for r in report["swap_consistency"]}
    assert swap["longer"]["consistency"] == 1.0 and 0 < swap["fickle"]["consistency"] < 1
    assert swap["fickle"]["n"] == N_PAIRS
    probabilities = [v[7] for v in stored(origin.db)["verdicts"] if v[2] == "fickle"]
    assert all(p is not None for p in probabilities) and len(set(probabilities)) > 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_imported_into_a_fresh_database_gives_the_same_figures(
        origin: Origin, fmt: str, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.duckdb"
    out = ok("import", str(origin.task), str(origin.exports[fmt]), db=fresh)
    # the folder brings the people's verdicts, the export the judges' (and the people's again)
    assert "rt: task new; 8 new prompts, 24 new outputs, 24 new pairs, 48 new verdicts" in out
    assert f"rt: {2 * N_PAIRS} new verdicts" in out
    assert figures(fresh) == origin.figures
    assert stored(fresh) == stored(origin.db)
    again = ok("import", str(origin.task), str(origin.exports[fmt]), db=fresh)
    assert again.count("nothing new (already imported)") == 2
    assert figures(fresh) == origin.figures


def test_reimport_into_the_exporting_database_adds_nothing(origin: Origin, tmp_path: Path
                                                         ) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(origin.db, db)
    out = ok("import", str(origin.exports["jsonl"]), db=db)
    assert "rt: nothing new (already imported)" in out


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_changed_verdict_under_a_known_id_is_refused(origin: Origin, tmp_path: Path) -> None:
    db = tmp_path / "copy.duckdb"
    shutil.copy(origin.db, db)
    rows = _lines(origin.exports["jsonl"])
    line = next(i for i, r in enumerate(rows, start=1) if r["source"] == "judge")
    rows[line - 1]["outcome"] = "b" if rows[line - 1]["outcome"] == "a" else "a"
    edited = tmp_path / "edited.jsonl"
    _write(edited, rows)
    out = cli("import", str(edited), db=db)
    assert out.returncode == 1
    assert f"{edited}:{line}: verdict '{rows[line - 1]['verdict_id']}' is already stored " \
           "with a different outcome" in out.stderr
    assert "(field 'outcome')" in out.stderr


def test_a_verdict_twice_in_one_file_with_other_content_is_refused(origin: Origin,
                                                                   tmp_path: Path) -> None:
    rows = _lines(origin.exports["jsonl"])
    twin = dict(rows[0], left_side="b" if rows[0]["left_side"] != "b" else "a",
                judge_calls=None)
    doubled = tmp_path / "doubled.jsonl"
    _write(doubled, [*rows, twin])
    fresh = tmp_path / "fresh.duckdb"
    out = cli("import", str(origin.task), str(doubled), db=fresh)
    assert out.returncode == 1
    assert f"{doubled}:{len(rows) + 1}: verdict '{rows[0]['verdict_id']}' appears twice with " \
           "different content (first on line 1) (field 'left_side')" in out.stderr


def test_an_export_without_its_task_says_what_to_import_first(origin: Origin,
                                                              tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.duckdb"
    out = cli("import", str(origin.exports["parquet"]), db=fresh)
    assert out.returncode == 1
    assert "task 'rt' is not in the database" in out.stderr
    assert "judge-app import TASK_FOLDER" in out.stderr and "(field 'task_id')" in out.stderr


def test_bad_fields_name_file_line_and_field(origin: Origin, tmp_path: Path) -> None:
    rows = _lines(origin.exports["jsonl"])
    judged = next(i for i, r in enumerate(rows) if r["judge_calls"])
    calls = rows[judged]["judge_calls"]
    assert isinstance(calls, list)
    calls[1]["left_side"] = "left"
    bad = tmp_path / "bad.jsonl"
    _write(bad, rows)
    out = cli("import", str(origin.task), str(bad), db=tmp_path / "fresh.duckdb")
    assert out.returncode == 1
    assert f"{bad}:{judged + 1}: expected one of a, b, found 'left' " \
           "(field 'judge_calls[1].left_side')" in out.stderr
