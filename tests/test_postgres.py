"""PostgreSQL as the database: migrations, the CLI, the same figures as DuckDB, and several
processes voting on one database at once (the server is the owner; locks and keys decide).

The server is a throwaway cluster of this test run (tests/pg_server.py); a machine where it
cannot start fails these tests, it never skips them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from judge_app.cli import main
from judge_app.errors import SchemaError
from judge_app.services import queue
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import LeaderboardQuery, agreement, run_leaderboard
from judge_app.services.verdicts import VerdictInput, record_verdict, undo_last
from judge_app.storage import postgres
from judge_app.storage.db import Database
from judge_app.storage.dialect import DUCKDB, POSTGRES
from judge_app.storage.postgres import masked, to_pyformat
from judge_app.storage.schema import connect, known_migrations, migrate, open_database, pending
from tests.analysis_helpers import simulated_bundle
from tests.conftest import make_bundle, signed_in
from tests.pg_server import PgServer

ROOT = Path(__file__).resolve().parents[1]


def _count(db: Database, sql: str, params: list[object] | None = None) -> int:
    with db.cursor() as cur:
        return int(cur.execute(sql, params or []).fetchone()[0])


# -- pieces ---------------------------------------------------------------------------------
def test_every_migration_has_a_postgresql_twin() -> None:
    duck = [(m.version, m.name) for m in known_migrations(DUCKDB)]
    pg = [(m.version, m.name) for m in known_migrations(POSTGRES)]
    assert duck == pg and duck[0] == (1, "initial")


def test_placeholders_become_psycopgs() -> None:
    assert to_pyformat("SELECT ? WHERE a = $task AND b LIKE '%x?' || $task") == (
        "SELECT %s WHERE a = %(task)s AND b LIKE '%x?' || %(task)s")
    assert to_pyformat("SELECT 5 % 2, '$not' -- what? $no\n, \"q?\"") == (
        "SELECT 5 %% 2, '$not' -- what? $no\n, \"q?\"")
    assert to_pyformat("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_passwords_never_show_in_the_databases_name() -> None:
    assert masked("postgresql://ann:s3cret@db.example:5433/judge") == (
        "postgresql://ann:***@db.example:5433/judge")
    assert masked("postgresql://ann@db/judge") == "postgresql://ann@db/judge"


# -- migrations and the CLI -------------------------------------------------------------------
def test_init_creates_the_schema_and_refuses_a_newer_or_other_one(
        pg_server: PgServer, capsys: pytest.CaptureFixture[str]) -> None:
    url = pg_server.new_database("init")
    assert main(["init", "--db", url, "--check"]) == 1
    count = len(known_migrations(POSTGRES))
    assert f"{count} pending" in capsys.readouterr().out
    assert main(["init", "--db", url]) == 0
    assert f"applied {count} migration(s)" in capsys.readouterr().out
    assert main(["init", "--db", url]) == 0 and "up to date" in capsys.readouterr().out
    assert main(["init", "--db", url, "--check"]) == 0
    db = connect(url)
    with db.cursor() as cur:
        cols = {r[0] for r in cur.execute(
            "SELECT table_name || '.' || column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'").fetchall()}
        versions = cur.execute("SELECT version, name, checksum FROM schema_migrations "
                               "ORDER BY version").fetchall()
    assert {"raters.source", "assignments.purpose", "judge_calls.raw_choice",
            "escalations.rater_id", "rater_sessions.expires_at"} <= cols
    assert "raters.kind" not in cols
    assert versions == [(m.version, m.name, m.checksum) for m in known_migrations(POSTGRES)]
    with pytest.raises(psycopg.errors.CheckViolation), db.transaction() as cur:
        cur.execute("INSERT INTO raters (rater_id, source) VALUES ('x', 'robot')")
    db.close()


def test_init_refuses_a_newer_schema_and_a_changed_migration(pg_server: PgServer) -> None:
    db = open_database(pg_server.new_database("newer"))
    with db.cursor() as cur:
        cur.execute("INSERT INTO schema_migrations (version, name, checksum) "
                    "VALUES (999, 'future', 'x')")
    with pytest.raises(SchemaError, match="schema version 999"):
        pending(db)
    with db.cursor() as cur:
        cur.execute("DELETE FROM schema_migrations WHERE version = 999")
        cur.execute("UPDATE schema_migrations SET checksum = 'other' WHERE version = 2")
    with pytest.raises(SchemaError, match="002_judges was applied with different content"):
        migrate(db)
    db.close()


def test_a_check_violation_in_a_migration_is_a_schema_error(pg_server: PgServer) -> None:
    """Migration 005 on a database holding a value it refuses: rolled back whole."""
    url = pg_server.new_database("old")
    db = connect(url)
    old = [m for m in known_migrations(POSTGRES) if m.version < 5]
    with db.transaction() as cur:
        cur.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR "
                    "NOT NULL, checksum VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL "
                    "DEFAULT current_timestamp)")
        for m in old:
            cur.execute(m.sql)
            cur.execute("INSERT INTO schema_migrations (version, name, checksum) "
                        "VALUES (?, ?, ?)", [m.version, m.name, m.checksum])
        cur.execute("INSERT INTO raters (rater_id, kind) VALUES ('ann', 'person')")
    with pytest.raises(SchemaError, match="005_one_vocabulary cannot upgrade"):
        migrate(db)
    with db.cursor() as cur:  # nothing of 005 stayed
        assert cur.execute("SELECT max(version) FROM schema_migrations").fetchone() == (4,)
        assert cur.execute("SELECT kind FROM raters").fetchall() == [("person",)]
    db.close()


def test_cli_commands_work_on_a_url(pg_server: PgServer, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled demo through the CLI into both databases: the same figures, word for word,
    from the leaderboard, agreement, the release gate and progress."""
    url = pg_server.new_database("cli")
    commands = [
        ["leaderboard", "--task", "demo-pandalm", "--format", "json"],
        ["agreement", "--task", "demo-pandalm", "--format", "json"],
        ["gate", "--task", "demo-pandalm", "--baseline", "llama-7b", "--candidate", "bloom-7b"],
        ["progress", "--task", "demo-pandalm"],
    ]
    outputs: list[list[tuple[int, str]]] = []
    for target in (url, str(tmp_path / "judge.duckdb")):
        assert main(["demo", "--db", target]) == 0
        assert "2997 new verdicts" in capsys.readouterr().out
        mine = []
        for args in commands:
            code = main([*args, "--db", target])
            mine.append((code, capsys.readouterr().out))
        outputs.append(mine)
    assert json.loads(outputs[0][0][1])["models"]
    assert outputs[0] == outputs[1]
    assert main(["raters", "add", "ann", "--db", url, "--task", "demo-alpaca"]) == 0
    assert "ann" in capsys.readouterr().out


# -- the same data, the same figures ----------------------------------------------------------
def test_the_leaderboard_is_the_same_on_both_databases(pg_server: PgServer,
                                                       tmp_path: Path) -> None:
    bundle = simulated_bundle("sim", prompts=30, raters=("ann", "ben", "cy"))
    boards, agreements = [], []
    for target in (str(tmp_path / "judge.duckdb"), pg_server.new_database("same")):
        db = open_database(target)
        report = import_bundle(db, bundle)
        assert report.verdicts_new > 0
        boards.append(run_leaderboard(db, LeaderboardQuery("sim")))
        boards.append(run_leaderboard(db, LeaderboardQuery("sim", source="judge", ties="davidson")))
        boards.append(run_leaderboard(db, LeaderboardQuery("sim", rating_model="reliability")))
        agreements.append(agreement(db, "sim"))
        db.close()
    half = len(boards) // 2
    for duck, pg in zip(boards[:half], boards[half:], strict=True):
        assert len(duck) > 1
        pd.testing.assert_frame_equal(duck.reset_index(drop=True), pg.reset_index(drop=True))
    assert repr(agreements[0]) == repr(agreements[1])


# -- concurrency ------------------------------------------------------------------------------
def test_two_tabs_voting_on_one_assignment_store_one_verdict(pg_server: PgServer) -> None:
    """Twelve threads (twelve connections) submit different verdict ids for one assignment
    at the same moment, for each of five assignments: the assignment's advisory lock lets one
    in, the others get its row."""
    db = open_database(pg_server.new_database("tabs"))
    import_bundle(db, make_bundle("t1", n_prompts=5, models=("m1", "m2")))
    session = signed_in(db, "ann", tasks=["t1"])
    barrier = threading.Barrier(12)
    for _ in range(5):
        item = queue.next_assignment(db, "ann", "t1")
        assert item is not None
        stored: list[str] = []

        def tab(k: int, assignment_id: str = item.assignment_id,
                stored: list[str] = stored) -> None:
            barrier.wait()
            row = record_verdict(db, session, VerdictInput(assignment_id, "left",
                                                           uuid.uuid4().hex))
            stored.append(row["verdict_id"])

        threads = [threading.Thread(target=tab, args=(k,)) for k in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(stored) == 12 and len(set(stored)) == 1
        assert _count(db, "SELECT count(*) FROM verdicts WHERE assignment_id = ?",
                      [item.assignment_id]) == 1
    db.close()


VOTER = textwrap.dedent("""
    import sys, uuid
    from judge_app.services import queue
    from judge_app.services.verdicts import VerdictInput, record_verdict, undo_last
    from judge_app.storage.schema import open_database
    url, name, session = sys.argv[1:4]
    db = open_database(url)
    n = 0
    while (item := queue.next_assignment(db, name, "t1")) is not None:
        v = VerdictInput(item.assignment_id, "left", uuid.uuid4().hex)
        record_verdict(db, session, v)
        record_verdict(db, session, v)  # a double click
        n += 1
        if n % 5 == 0:  # take one back now and then: the pair comes back to this rater
            undo_last(db, session, "t1")
    print(n)
""")


def test_processes_voting_on_one_database(pg_server: PgServer) -> None:
    """Six processes, one rater each, vote until nothing is left: every pair gets exactly
    `overlap` standing verdicts, nobody judges a pair twice, no verdict is stored twice."""
    url = pg_server.new_database("voters")
    db = open_database(url)
    import_bundle(db, make_bundle("t1", n_prompts=24, models=("m1", "m2", "m3"), overlap=2))
    names = [f"r{k}" for k in range(6)]
    sessions = {name: signed_in(db, name, tasks=["t1"]) for name in names}
    procs = [subprocess.Popen([sys.executable, "-c", VOTER, url, name, sessions[name]],
                              cwd=ROOT, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for name in names]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    n_pairs = _count(db, "SELECT count(*) FROM pairs")
    assert n_pairs == 72
    # Each pair has exactly `overlap` standing verdicts, from different raters.
    with db.cursor() as cur:
        per_pair = dict(cur.execute(
            "SELECT pair_id, count(*) FROM active_verdicts GROUP BY pair_id").fetchall())
        per_rater_pair = cur.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM active_verdicts "
            "GROUP BY rater_id, pair_id) AS c").fetchone()[0]
        assigned = cur.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM assignments WHERE purpose = 'normal' "
            "GROUP BY pair_id) AS c").fetchone()[0]
        doubled = cur.execute(
            "SELECT count(*) FROM (SELECT assignment_id FROM standing_verdicts "
            "WHERE assignment_id IS NOT NULL GROUP BY assignment_id HAVING count(*) > 1) AS d"
        ).fetchone()[0]
        undos = cur.execute("SELECT count(*) FROM verdicts WHERE retracts IS NOT NULL"
                            ).fetchone()[0]
    assert len(per_pair) == n_pairs and set(per_pair.values()) == {2}
    assert per_rater_pair == 1
    assert assigned == 2  # no assignment beyond the overlap target
    assert doubled == 0
    assert undos > 0
    db.close()


def test_a_rater_undoes_on_postgres(pg_server: PgServer) -> None:
    db = open_database(pg_server.new_database("undo"))
    import_bundle(db, make_bundle("t1", n_prompts=2, models=("m1", "m2")))
    session = signed_in(db, "ann", tasks=["t1"])
    item = queue.next_assignment(db, "ann", "t1")
    assert item is not None
    record_verdict(db, session, VerdictInput(item.assignment_id, "right", "v1"))
    undone = undo_last(db, session, "t1")
    assert undone is not None and undone.pair_returns
    assert undo_last(db, session, "t1") is None  # nothing left to take back
    assert _count(db, "SELECT count(*) FROM active_verdicts") == 0
    again = queue.next_assignment(db, "ann", "t1")
    assert again is not None and again.assignment_id == item.assignment_id
    db.close()


def test_two_judge_processes_at_once_store_each_call_and_verdict_once(
        pg_server: PgServer, tmp_path: Path) -> None:
    """Two `judge-app judge` processes with the same judge on one PostgreSQL database at
    once: no call is paid for twice (a process claims a call with a session advisory lock
    before paying, and takes an answer the other stored meanwhile), each answer is stored
    once and the judge has one standing verdict per pair."""
    from tests.fake_openai_server import FakeOpenAIServer

    url = pg_server.new_database("judges")
    db = open_database(url)
    import_bundle(db, make_bundle("t1", n_prompts=6, models=("m1", "m2", "m3")))
    with FakeOpenAIServer() as server:
        toml = tmp_path / "judge.toml"
        toml.write_text(f'name = "pg-judge"\nmodel = "fake"\ntemplate = "overall"\n'
                        f'base_url = "{server.base_url}"\ninput_price_per_million = 1.0\n'
                        "output_price_per_million = 4.0\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        procs = [subprocess.Popen(
            [sys.executable, "-m", "judge_app.cli", "judge", "--task", "t1", "--judge",
             str(toml), "--db", url, "--quiet"], cwd=ROOT, text=True, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        paid = server.count
    n_pairs = _count(db, "SELECT count(*) FROM pairs")
    assert _count(db, "SELECT count(*) FROM judge_calls") == 2 * n_pairs  # both orders
    assert paid == 2 * n_pairs  # claimed calls: none paid twice
    with db.cursor() as cur:
        per_pair = cur.execute("SELECT max(n), count(*) FROM (SELECT count(*) AS n FROM "
                               "active_verdicts WHERE rater_id = 'pg-judge' "
                               "GROUP BY pair_id) AS c").fetchone()
        runs = cur.execute("SELECT status FROM judge_runs ORDER BY run_id").fetchall()
    assert per_pair == (1, n_pairs)
    assert runs == [("done",), ("done",)]
    db.close()


def test_two_generate_processes_at_once_pay_each_answer_once(
        pg_server: PgServer, tmp_path: Path) -> None:
    """Two `judge-app generate` processes with one model config on one PostgreSQL database at
    once: each call is claimed before it is paid for, so every prompt is answered (and paid)
    once, and the model has one output per prompt."""
    from tests.fake_openai_server import FakeOpenAIServer, answers

    url = pg_server.new_database("generate")
    db = open_database(url)
    import_bundle(db, make_bundle("t1", n_prompts=12, models=("m1", "m2")))
    with FakeOpenAIServer(answers, latency_ms=30) as server:
        toml = tmp_path / "model.toml"
        toml.write_text(f'name = "gen"\nmodel = "fake-7b"\nbase_url = "{server.base_url}"\n'
                        "input_price_per_million = 1.0\noutput_price_per_million = 4.0\n"
                        "concurrency = 4\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        procs = [subprocess.Popen(
            [sys.executable, "-m", "judge_app.cli", "generate", "--task", "t1", "--model",
             str(toml), "--db", url, "--quiet"], cwd=ROOT, text=True, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        for p in procs:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err
        paid = server.count
    assert paid == 12  # claimed calls: none paid twice
    assert _count(db, "SELECT count(*) FROM generation_calls") == 12
    assert _count(db, "SELECT count(*) FROM outputs WHERE model = 'gen'") == 12
    assert _count(db, "SELECT count(*) FROM pairs") == 12 * 3  # m1-m2, m1-gen, m2-gen
    db.close()


def test_a_restarted_server_is_reconnected_to(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pooled connections that died with a server restart are replaced, not used."""
    from judge_app.storage import postgres
    from tests import pg_server

    monkeypatch.setattr(postgres, "_CHECK_AFTER_IDLE_SECONDS", 0.0)
    server = pg_server.start()
    try:
        db = open_database(server.new_database("restart"))
        import_bundle(db, make_bundle("t1", n_prompts=2, models=("m1", "m2")))
        server.restart()
        assert _count(db, "SELECT count(*) FROM pairs") == 2
        assert db.opens >= 2
        db.close()
    finally:
        server.stop()


def test_opening_a_url_again_reuses_its_connections(pg_server: PgServer) -> None:
    """A page opens the database on every rerun: with PostgreSQL that must not cost a new
    connection each time (one handle and one pool per URL and process)."""
    url = pg_server.new_database("again")
    first = open_database(url)
    with first.cursor() as cur:
        cur.execute("SELECT 1").fetchall()
    opened = first.opens
    for _ in range(20):
        db = open_database(url)
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM tasks").fetchall()
    assert db is first and first.opens == opened
    first.close()


def test_a_url_folded_into_a_path_is_refused(tmp_path: Path) -> None:
    """Path('postgresql://...') keeps one slash: never a DuckDB file by that name."""
    from judge_app.errors import DatabaseFileError

    with pytest.raises(DatabaseFileError, match="PostgreSQL URL taken for a file name"):
        open_database(Path("postgresql://judge@127.0.0.1/x"))
    assert not Path("postgresql:").exists()


def test_judge_runs_escalation_report_and_exports_through_the_cli(
        pg_server: PgServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.fake_openai_server import FakeOpenAIServer

    url = pg_server.new_database("clijudge")
    assert main(["demo", "--db", url]) == 0
    with FakeOpenAIServer() as server:
        toml = tmp_path / "judge.toml"
        toml.write_text(f'name = "pg-judge"\nmodel = "fake"\ntemplate = "overall"\n'
                        f'base_url = "{server.base_url}"\n')
        assert main(["judge", "--task", "demo-alpaca", "--judge", str(toml), "--limit", "8",
                     "--quiet", "--db", url]) == 0
        assert server.count == 16  # both orders
        assert main(["runs", "--task", "demo-alpaca", "--db", url]) == 0
        assert "pg-judge" in capsys.readouterr().out
        assert main(["escalate", "--task", "demo-alpaca", "--judge", str(toml),
                     "--db", url]) == 0
    assert main(["report", "--task", "demo-pandalm", "--out", str(tmp_path / "r.html"),
                 "--db", url]) == 0
    assert "llama-7b" in (tmp_path / "r.html").read_text(encoding="utf-8")
    for fmt in ("trl", "battles", "verdicts", "leaderboard"):
        out = tmp_path / f"x-{fmt}.jsonl"
        assert main(["export", "--task", "demo-pandalm", "--format", fmt, "--out", str(out),
                     "--db", url]) == 0
        assert out.stat().st_size > 0
    verdict_lines = (tmp_path / "x-verdicts.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(verdict_lines) == 2997


def test_a_query_read_as_arrow_keeps_every_value(pg_server: PgServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The export's Arrow read goes through COPY as CSV (storage/postgres.py): NULL and the
    empty string, quotes, commas, new lines, a '%' and a parameter with a quote in it, booleans,
    floats to the last bit, microseconds and JSON text come back as psycopg reads them."""
    import datetime as dt

    db = open_database(pg_server.new_database("arrow"))
    texts = [None, "", '"quoted", and, commas', "two\nlines\r\nand a tab\t", "100 %",
             "l'apostrophe", "ünïcödé ✓", "NULL", "t"]
    with db.transaction() as cur:
        cur.execute("CREATE TABLE arrow_probe (i BIGINT, s TEXT, b BOOLEAN, f DOUBLE PRECISION, "
                    "ts TIMESTAMP, j JSON, n INTEGER)")
        for i, text in enumerate(texts):
            cur.execute("INSERT INTO arrow_probe VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [i, text, None if i == 2 else i % 2 == 0, None if i == 3 else 0.1 * i / 3,
                         dt.datetime(2026, 1, 2, 3, 4, 5, 6 * i),
                         None if i == 4 else json.dumps({"k": text}), None if i == 5 else -i])
    query = "SELECT * FROM arrow_probe WHERE s IS DISTINCT FROM $not ORDER BY i"
    relation = postgres._Relation
    row_by_row = relation._rows_to_arrow
    with db.cursor() as cur:
        rows = cur.sql(query, params={"not": "it's none"})._rows_to_arrow()  # type: ignore[attr-defined]
        monkeypatch.setattr(relation, "_rows_to_arrow", None)  # the CSV way, no fallback
        fast = cur.sql(query, params={"not": "it's none"}).to_arrow_table()
        empty = cur.sql(query.replace("IS DISTINCT FROM", "="),
                        params={"not": "it's none"}).to_arrow_table()
        monkeypatch.setattr(relation, "_rows_to_arrow", row_by_row)
    db.close()
    assert fast.schema == rows.schema
    assert fast.to_pylist() == rows.to_pylist()
    assert fast.column("s").to_pylist() == texts
    assert empty.num_rows == 0 and empty.schema == rows.schema
