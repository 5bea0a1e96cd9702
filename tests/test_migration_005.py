"""Migration 005 (one vocabulary, CHECK constraints) on a database made by the previous release.

tests/data/release_db/ holds a database written by commit 059ac50 (schema 1-4) and the figures
that code printed for it; `judge-app init` must upgrade it in place, keep every row and id,
and print the same figures afterwards.
"""

from __future__ import annotations

import gzip
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from judge_app.core import vocabulary as vocab
from judge_app.errors import SchemaError
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import known_migrations, open_database
from tests.conftest import DATA
from tests.data.release_db.make_release_db import FIGURES, bundle

RELEASE = DATA / "release_db"
ROOT = Path(__file__).resolve().parents[1]

# table -> {old column: new column}; other columns keep their names
RENAMED = {
    "raters": {"kind": "source"},
    "assignments": {"kind": "purpose"},
    "judge_runs": {"judge_name": "rater_id"},
    "escalations": {"judge_name": "rater_id"},
    "judge_calls": {"first_side": "left_side", "shown_outcome": "raw_choice"},
}
TABLES = ["tasks", "prompts", "outputs", "pairs", "raters", "rater_tasks", "assignments",
          "verdicts", "judge_runs", "judge_calls", "escalations", "rater_sessions",
          "app_settings"]
SHOWN_TO_RAW = {"a": "left", "b": "right", "tie": "tie", None: None}


def release_copy(tmp_path: Path) -> Path:
    path = tmp_path / "release.duckdb"
    path.write_bytes(gzip.decompress((RELEASE / "release-059ac50.duckdb.gz").read_bytes()))
    return path


def snapshot(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as dicts, in a stable order (read with DuckDB directly)."""
    conn = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for table in TABLES:
            cur = conn.execute(f"SELECT * FROM {table} ORDER BY ALL")  # noqa: S608
            names = [d[0] for d in cur.description]
            out[table] = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return out
    finally:
        conn.close()


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "judge_app.cli", *args, "--db", str(db)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def renamed(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A version-4 row as version 5 holds it."""
    names = RENAMED.get(table, {})
    new = {names.get(k, k): v for k, v in row.items()}
    if table == "judge_calls":
        new["raw_choice"] = SHOWN_TO_RAW[row["shown_outcome"]]
    if table == "outputs":  # migration 006 adds two columns, empty for existing rows
        new.update(ttft_ms=None, finish_reason=None)
    if table == "tasks":
        config = json.loads(new["config"])
        config["provenance"] = config.pop("source")
        new["config"] = config
    return new


def _text(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    path = release_copy(tmp_path_factory.mktemp("release"))
    before = snapshot(path)
    out = cli("init", db=path)
    return path, before, out.stdout


def test_init_upgrades_the_release_database_keeping_every_row(
        upgraded: tuple[Path, dict[str, Any], str]) -> None:
    path, before, out = upgraded
    assert f"applied {len(known_migrations()) - 4} migration(s)" in out  # 005 and later
    after = snapshot(path)
    assert {t: len(rows) for t, rows in after.items()} == {
        t: len(rows) for t, rows in before.items()}
    assert len(before["verdicts"]) > 50 and len(before["judge_calls"]) > 40
    for table in TABLES:
        old = [renamed(table, r) for r in before[table]]
        new = after[table]
        if table == "tasks":
            new = [{**r, "config": json.loads(r["config"])} for r in new]
        assert sorted(old, key=_text) == sorted(new, key=_text), table
    # the old names are gone, and no copy of a table is left behind
    conn = duckdb.connect(str(path), read_only=True)
    try:
        columns = set(conn.execute(
            "SELECT table_name || '.' || column_name FROM duckdb_columns()").fetchall())
        tables = {r[0] for r in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        versions = conn.execute(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version").fetchall()
    finally:
        conn.close()
    for table, names in RENAMED.items():
        for old, new in names.items():
            assert (f"{table}.{old}",) not in columns and (f"{table}.{new}",) in columns
    assert not [t for t in tables if t.endswith("_v4")]
    assert [(v, n, c) for v, n, c in versions] == [
        (m.version, m.name, m.checksum) for m in known_migrations()]


def _same_figures(got: Any, want: Any) -> bool:
    """Equal structure and text; numbers to 1e-12 (NaN equals NaN). numpy's vectorised exp may
    round the last bit differently from the C library's, by CPU, so fits agree to ~1e-15."""
    if isinstance(want, float) or isinstance(got, float):
        return isinstance(got, (int, float)) and isinstance(want, (int, float)) and (
            math.isclose(got, want, rel_tol=1e-12, abs_tol=1e-12)
            or (math.isnan(got) and math.isnan(want)))
    if isinstance(want, dict):
        return isinstance(got, dict) and got.keys() == want.keys() and all(
            _same_figures(got[k], want[k]) for k in want)
    if isinstance(want, list):
        return isinstance(got, list) and len(got) == len(want) and all(
            _same_figures(g, w) for g, w in zip(got, want, strict=True))
    return bool(got == want)


def test_figures_are_the_same_after_the_upgrade(
        upgraded: tuple[Path, dict[str, Any], str]) -> None:
    path = upgraded[0]
    expected = json.loads((RELEASE / "figures.json").read_text(encoding="utf-8"))
    assert set(expected) == {f"{c} {s}" for c, s in FIGURES}
    for command, source in FIGURES:
        out = cli(command, "--task", "rel", "--source", source, "--format", "json", db=path)
        got = json.loads(out.stdout)
        # keys added since the release (with their default values) are not figures
        if got.get("rating_model") == "bradley-terry":
            del got["rating_model"]
        if got.get("self_identified") == {"votes": 0, "battles": 0, "counted": False}:
            del got["self_identified"]  # no arena battles in the release's database
        want = expected[f"{command} {source}"]
        for name, row in got.get("models", {}).items():  # speed figures: none stored here
            for key in set(row) - set(want["models"].get(name, row)):
                if row[key] is None:
                    del row[key]
        assert _same_figures(got, expected[f"{command} {source}"]), f"{command} --source {source}"


def test_keys_and_ids_still_hold_after_the_upgrade(
        upgraded: tuple[Path, dict[str, Any], str], tmp_path: Path) -> None:
    copy = tmp_path / "again.duckdb"
    copy.write_bytes(upgraded[0].read_bytes())
    db = open_database(copy)
    try:
        with db.cursor() as cur:
            verdict = cur.execute("SELECT verdict_id FROM verdicts LIMIT 1").fetchone()
            assert verdict is not None
            with pytest.raises(duckdb.ConstraintException):  # the primary key survived
                cur.execute("INSERT INTO verdicts SELECT * FROM verdicts WHERE verdict_id = ?",
                            [verdict[0]])
            with pytest.raises(duckdb.ConstraintException):  # and the unique token hash
                cur.execute("UPDATE raters SET token_hash = 'same' WHERE source = 'human'")
        # the task imported before the rename is the same task: nothing new, nothing changed
        report = import_bundle(db, bundle())
        assert report.task == "unchanged"
        assert (report.prompts_new, report.outputs_new, report.pairs_new,
                report.verdicts_new) == (0, 0, 0, 0)
    finally:
        db.close()


def test_a_value_the_new_constraints_refuse_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = release_copy(tmp_path)
    conn = duckdb.connect(str(path))
    conn.execute("UPDATE assignments SET kind = 'bonus' WHERE assignment_id = "
                 "(SELECT min(assignment_id) FROM assignments)")
    conn.close()
    before = snapshot(path)
    with pytest.raises(SchemaError, match="005_one_vocabulary.*does not allow.*left as it was"):
        open_database(path)
    assert snapshot(path) == before


# ---------------------------------------------------------------- the CHECK constraints

# table -> a valid row (column: SQL literal) to spoil one column of at a time
VALID_ROWS = {
    "pairs": {"pair_id": "'p'", "task_id": "'t'", "prompt_id": "'q'", "output_a": "'oa'",
              "output_b": "'ob'", "model_a": "'a'", "model_b": "'b'", "gold_outcome": "'a'"},
    "raters": {"rater_id": "'r'", "source": "'human'"},
    "assignments": {"assignment_id": "'x'", "task_id": "'t'", "pair_id": "'p'",
                    "rater_id": "'r'", "left_side": "'a'", "purpose": "'normal'"},
    "verdicts": {"verdict_id": "'v'", "task_id": "'t'", "pair_id": "'p'", "prompt_id": "'q'",
                 "rater_id": "'r'", "source": "'human'", "output_a": "'oa'",
                 "output_b": "'ob'", "model_a": "'a'", "model_b": "'b'", "left_side": "'a'",
                 "outcome": "'a'", "raw_choice": "'left'", "strength": "1"},
    "judge_runs": {"run_id": "'r1'", "task_id": "'t'", "rater_id": "'j'",
                   "config_hash": "'h'", "config": "'{}'", "status": "'running'",
                   "total_calls": "1"},
    "judge_calls": {"call_key": "'k'", "run_id": "'r1'", "config_hash": "'h'",
                    "judge_model": "'m'", "judge_endpoint": "'e'", "task_id": "'t'",
                    "pair_id": "'p'", "left_side": "'b'", "raw_answer": "'[[A]]'",
                    "raw_choice": "'left'", "strength": "2", "input_tokens": "1",
                    "output_tokens": "1", "cost_usd": "0", "latency_ms": "1",
                    "attempts": "1"},
    "escalations": {"task_id": "'t'", "pair_id": "'p'", "rater_id": "'j'",
                    "reason": "'unsure'"},
    "generation_runs": {"run_id": "'g'", "task_id": "'t'", "model": "'m'",  # migration 006
                        "config_hash": "'h'", "config": "'{}'", "total_prompts": "1",
                        "status": "'running'"},
    "arena_battles": {"battle_id": "'b'", "task_id": "'t'", "rater_id": "'r'",  # migration 007
                      "prompt_id": "'q'", "left_model": "'a'", "right_model": "'b'",
                      "reserved_usd": "0", "created_at": "current_timestamp",
                      "status": "'answering'"},
    "api_batches": {"batch_key": "'k'", "kind": "'judge'", "task_id": "'t'",  # migration 008
                    "config_hash": "'h'", "run_id": "'r'", "endpoint": "'e'", "calls": "'[]'",
                    "n_calls": "0", "input_jsonl": "''", "estimated_cost_usd": "0",
                    "state": "'preparing'"},
    "budget_ledger": {"scope": "'task:t'", "window_no": "1", "seq": "1",  # migration 009
                      "kind": "'join'", "member_id": "'m'", "spent_usd": "0",
                      "reserved_usd": "0", "held": "0", "members": "1",
                      "created_at": "current_timestamp"},
}
BAD_VALUES = [
    ("pairs", "gold_outcome", "'A'"), ("raters", "source", "'robot'"),
    ("assignments", "purpose", "'bonus'"), ("assignments", "left_side", "'left'"),
    ("verdicts", "source", "'people'"), ("verdicts", "outcome", "'draw'"),
    ("verdicts", "raw_choice", "'a'"), ("verdicts", "left_side", "'right'"),
    ("verdicts", "strength", "3"), ("judge_runs", "status", "'interrupted'"),
    ("judge_calls", "left_side", "'first'"), ("judge_calls", "raw_choice", "'a'"),
    ("judge_calls", "strength", "0"), ("escalations", "reason", "'bored'"),
    ("generation_runs", "status", "'interrupted'"), ("arena_battles", "status", "'pending'"),
    ("api_batches", "kind", "'arena'"), ("api_batches", "state", "'landed'"),
    ("budget_ledger", "kind", "'refund'"),
]


def _insert(cur: Any, table: str, row: dict[str, str]) -> None:
    cur.execute(f"INSERT INTO {table} ({', '.join(row)}) "  # noqa: S608
                f"VALUES ({', '.join(row.values())})")


@pytest.mark.parametrize(("table", "column", "bad"), BAD_VALUES)
def test_the_database_refuses_a_value_outside_the_vocabulary(
        tmp_path: Path, table: str, column: str, bad: str) -> None:
    db = open_database(tmp_path / "fresh.duckdb")
    try:
        with db.cursor() as cur:
            _insert(cur, table, VALID_ROWS[table])  # the valid row goes in
            cur.execute(f"DELETE FROM {table}")  # noqa: S608
            with pytest.raises(duckdb.ConstraintException, match="CHECK constraint"):
                _insert(cur, table, {**VALID_ROWS[table], column: bad})
            assert cur.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)  # noqa: S608
    finally:
        db.close()


CHECKED = {  # table.column -> the vocabulary it must allow, exactly
    "pairs.gold_outcome": vocab.OUTCOMES, "raters.source": vocab.SOURCES,
    "assignments.purpose": vocab.ASSIGNMENT_PURPOSES, "assignments.left_side": vocab.SIDES,
    "verdicts.source": vocab.SOURCES, "verdicts.outcome": vocab.OUTCOMES,
    "verdicts.raw_choice": vocab.VERDICT_RAW_CHOICES, "verdicts.left_side": vocab.SIDES,
    "verdicts.strength": vocab.STRENGTHS, "judge_runs.status": vocab.RUN_STATUSES,
    "judge_calls.left_side": vocab.SIDES,
    "judge_calls.raw_choice": tuple(c for c in vocab.RAW_CHOICES if c != "both_bad"),
    "judge_calls.strength": vocab.STRENGTHS, "escalations.reason": vocab.ESCALATION_REASONS,
    "generation_runs.status": vocab.RUN_STATUSES,
    "arena_battles.status": vocab.ARENA_STATUSES,
    "api_batches.kind": vocab.BATCH_KINDS, "api_batches.state": vocab.BATCH_STATES,
    "budget_ledger.kind": vocab.BUDGET_STEPS,
}


def test_the_constraints_allow_exactly_the_glossary_values(tmp_path: Path) -> None:
    db = open_database(tmp_path / "fresh.duckdb")
    try:
        with db.cursor() as cur:
            for where, values in CHECKED.items():
                table, column = where.split(".")
                row = VALID_ROWS[table]
                for value in values:  # every allowed value goes in
                    literal = str(value) if isinstance(value, int) else f"'{value}'"
                    _insert(cur, table, {**row, column: literal})
                    cur.execute(f"DELETE FROM {table}")  # noqa: S608
            found = {f"{t}.{c[0]}" for t, c in cur.execute(
                "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'CHECK'").fetchall()}
    finally:
        db.close()
    assert found == set(CHECKED)
