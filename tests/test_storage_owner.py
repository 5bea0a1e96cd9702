"""The owner of a database file and the processes that work through it.

In-process tests open a session on this process's own socket (a real Unix socket, a real
listener thread, a real DuckDB cursor on the other side) and compare it with a local cursor;
process tests run real CLI commands through a real `judge-app serve`.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from judge_app.services.imports import import_bundle
from judge_app.storage import remote
from judge_app.storage.db import Database
from judge_app.storage.owner import socket_candidates
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer
from tests.test_storage_stress import free_port, start_server

ROOT = Path(__file__).resolve().parents[1]

TYPES_SQL = """
SELECT 1::INTEGER AS i, 2::BIGINT AS b, sum(x)::HUGEINT AS h, 1.5::DOUBLE AS d, 'x' AS s,
       true AS t, NULL::VARCHAR AS n, TIMESTAMP '2024-01-02 03:04:05.123456' AS ts,
       DATE '2024-01-02' AS dt, 12.34::DECIMAL(10, 2) AS dec, '\\x00\\xff'::BLOB AS bl,
       [1, 2, NULL] AS li, {'a': 1, 'b': 'z'} AS st, INTERVAL 3 DAY AS iv,
       '{"k": [1]}'::JSON AS js, x
FROM range(3) r(x) GROUP BY x ORDER BY x
"""


def session(db: Database) -> remote.RemoteCursor:
    s = remote.connect(db.path)
    assert s is not None, "the owner should be listening"
    return s


def test_remote_results_match_local(db: Database) -> None:
    with db.cursor() as cur:
        local_rows = cur.execute(TYPES_SQL).fetchall()
        local_names = [d[0] for d in cur.description or []]
        local_one = cur.execute(TYPES_SQL).fetchone()
        local_df = cur.execute(TYPES_SQL).df()
        local_arrow = cur.sql("SELECT * FROM range(?) r(x)", params=[4]).to_arrow_table()
    s = session(db)
    try:
        assert s.execute(TYPES_SQL).fetchall() == local_rows
        assert [d[0] for d in s.description or []] == local_names
        assert s.execute(TYPES_SQL).fetchone() == local_one
        assert s.execute("SELECT ? AS p, ? AS q, ? AS r", ["a", None, 3]).fetchall() == [
            ("a", None, 3)]
        assert s.execute("SELECT $x AS x, $y AS y", {"x": [1, 2], "y": "b"}).fetchall() == [
            ([1, 2], "b")]
        pd.testing.assert_frame_equal(s.execute(TYPES_SQL).df(), local_df)
        assert s.sql("SELECT * FROM range(?) r(x)", params=[4]).to_arrow_table().equals(
            local_arrow)
    finally:
        s.close()


def test_errors_come_back_as_the_same_duckdb_errors(db: Database) -> None:
    s = session(db)
    try:
        with pytest.raises(duckdb.ParserException):
            s.execute("SELEC 1")
        s.execute("CREATE TABLE k (id INTEGER PRIMARY KEY)")
        s.execute("INSERT INTO k VALUES (1)")
        with pytest.raises(duckdb.ConstraintException):
            s.execute("INSERT INTO k VALUES (1)")
        assert s.execute("SELECT count(*) FROM k").fetchone() == (1,)  # session still usable
    finally:
        s.close()


def test_bulk_insert_through_a_registered_frame(db: Database) -> None:
    s = session(db)
    try:
        frame = pd.DataFrame({"id": range(5000), "txt": [f"t{i}" for i in range(5000)]})
        s.execute("CREATE TABLE bulk (id BIGINT, txt VARCHAR)")
        s.register("incoming", frame)
        s.execute("INSERT INTO bulk SELECT * FROM incoming")
        s.unregister("incoming")
    finally:
        s.close()
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*), sum(id), max(txt) FROM bulk").fetchone() == (
            5000, sum(range(5000)), "t999")


def test_a_client_that_drops_mid_transaction_is_rolled_back(db: Database) -> None:
    with db.cursor() as cur:
        cur.execute("CREATE TABLE r (id INTEGER)")
    s = session(db)
    s.execute("BEGIN TRANSACTION")
    s.execute("INSERT INTO r VALUES (1)")
    s._sock.close()  # the client dies: no COMMIT, no goodbye
    deadline = time.monotonic() + 30
    while db_in_flight(db) and time.monotonic() < deadline:
        time.sleep(0.01)
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM r").fetchone() == (0,)
        cur.execute("INSERT INTO r VALUES (2)")  # and the file is not left in a transaction
        assert cur.execute("SELECT count(*) FROM r").fetchone() == (1,)


def db_in_flight(db: Database) -> int:
    from judge_app.storage.db import _owners

    return _owners[db.path.resolve()].in_flight


def test_the_socket_is_private_and_a_stale_one_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    sock = socket_candidates(path)[0]
    sock.write_text("stale")  # left behind by a killed owner
    db = Database(path)
    try:
        with db.cursor() as cur:
            cur.execute("SELECT 1").fetchall()
        mode = sock.stat().st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    finally:
        db.close()
    assert not sock.exists()  # the owner removes its socket when it lets go


def test_long_paths_use_a_private_socket_folder(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    db = Database(deep / "long.duckdb")
    try:
        with db.cursor() as cur:
            cur.execute("SELECT 1").fetchall()
        candidates = socket_candidates(db.path)
        assert len(candidates) == 1 and candidates[0].exists()
        assert stat.S_IMODE(candidates[0].parent.stat().st_mode) == 0o700
        s = remote.connect(db.path)
        assert s is not None
        s.close()
    finally:
        db.close()


def _judge_config(tmp_path: Path, server: FakeOpenAIServer) -> Path:
    path = tmp_path / "judge.toml"
    path.write_text(f'name = "j"\nmodel = "fake"\ntemplate = "overall"\n'
                    f'base_url = "{server.base_url}"\nconcurrency = 4\n')
    return path


def test_cli_judge_batch_through_the_server_shows_progress_stops_and_resumes(
        tmp_path: Path) -> None:
    """A judge batch started from the CLI while the server owns the file: progress bar on the
    terminal, Ctrl-C stops it, a SIGKILL loses nothing stored, and a rerun finishes the rest."""
    path = tmp_path / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, make_bundle("t1", n_prompts=20))  # 60 pairs, 120 calls
    db.close()
    server = start_server(path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    cmd = [sys.executable, "-m", "judge_app.cli", "judge", "--task", "t1", "--db", str(path)]
    try:
        with FakeOpenAIServer(latency_ms=40) as fake:
            args = [*cmd, "--judge", str(_judge_config(tmp_path, fake))]
            # Ctrl-C
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 120
            while fake.count < 10 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
            assert proc.returncode == 130, err
            assert "call" in err and "%" in err  # the progress bar reached the terminal
            assert "Traceback" not in err
            # SIGKILL, then resume
            proc = subprocess.Popen([*args, "--quiet"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while fake.count < 60 and proc.poll() is None and time.monotonic() < deadline + 120:
                time.sleep(0.01)
            proc.kill()
            proc.wait()
            done = subprocess.run([*args, "--quiet"], cwd=ROOT, env=env, capture_output=True,
                                  text=True, timeout=300)
            assert done.returncode == 0, done.stderr
            assert fake.count - 120 <= 8  # only calls in flight at the two stops were repaid
        assert server.poll() is None
        check = remote.connect(path)
        assert check is not None  # the server still owns the file
        try:
            assert check.execute("SELECT count(*) FROM judge_calls").fetchone() == (120,)
            assert check.execute(
                "SELECT count(DISTINCT pair_id) FROM active_verdicts").fetchone() == (60,)
        finally:
            check.close()
    finally:
        server.kill()
        server.wait(timeout=60)


def test_a_server_started_while_a_command_owns_the_file_takes_it_over(tmp_path: Path) -> None:
    path = tmp_path / "judge.duckdb"
    db = open_database(path)  # this process plays the CLI command that owns the file
    assert db.owned_here
    server = subprocess.Popen(
        [sys.executable, "-m", "judge_app.cli", "serve", "--db", str(path), "--port",
         str(free_port())],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        assert "in use by another judge-app command" in server.stdout.readline()
        assert server.stdout.readline().startswith("serving ")
        db.close()  # the command ends
        deadline = time.monotonic() + 60
        owner_pid = None
        while time.monotonic() < deadline:
            s = remote.connect(path)
            if s is not None:
                owner_pid = s.owner_pid
                s.close()
                if owner_pid == server.pid:
                    break
            time.sleep(0.1)
        assert owner_pid == server.pid
        assert not db.owned_here
        with db.cursor() as cur:  # and this process now works through the server
            assert cur.execute("SELECT count(*) FROM tasks").fetchone() == (0,)
        assert db.opens == 1
    finally:
        server.kill()
        server.wait(timeout=60)


def test_a_file_held_by_another_program_is_waited_for_with_a_notice(tmp_path: Path) -> None:
    """Something that is not judge_app (the duckdb shell, a notebook) holds the file: the
    command says who it waits for, then runs once the file is free."""
    path = tmp_path / "judge.duckdb"
    open_database(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys\n"
         f"c = duckdb.connect({str(path)!r})\nprint('held', flush=True)\nsys.stdin.readline()\n"
         "c.close()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline().strip() == "held"
    command = subprocess.Popen(
        [sys.executable, "-m", "judge_app.cli", "raters", "list", "--db", str(path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert command.stderr is not None
    notice = command.stderr.readline()  # blocks until the command says whom it waits for
    holder.stdin.write("release\n")
    holder.stdin.flush()
    holder.wait(timeout=60)
    out, err = command.communicate(timeout=300)
    assert command.returncode == 0, err
    assert f"waiting for pid {holder.pid} that holds {path}" in notice
    assert "rater" in out
