"""Many app servers on one database, one of them SIGKILLed mid-run (issue 14).

PostgreSQL: 3 `judge-app serve` processes and 30 raters voting at once in 3 rater processes
of 10, one per server (tests/rater_client.py: the pair page's own service calls, one thread
per rater, as a server runs one thread per browser tab). DuckDB: the one server that owns the
file and one rater process of 30 working through it (storage/owner.py). Meanwhile a
`judge-app judge` batch runs against the fake OpenAI server. Once a third of the work is
acknowledged, server 0 and its raters' process are SIGKILLed (their tabs lose the page and
any vote not yet acknowledged), then both are started again and the raters go on where they
were.

Afterwards: every vote a rater saw acknowledged is stored exactly once; no pair was handed to
more raters than the task's overlap; every pair has exactly `overlap` human verdicts; the
judge batch finished with one verdict per pair. No timing is asserted: waits are generous
deadlines on progress only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from judge_app.services.imports import import_bundle
from judge_app.services.raters import add_rater
from judge_app.services.sessions import sign_in
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.browser_helpers import _free_port, _wait_healthy
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, longer_wins

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
PROMPTS, MODELS, OVERLAP, RATERS, PROCESSES = 30, 3, 2, 30, 3
PAIRS = PROMPTS * MODELS * (MODELS - 1) // 2
SLOTS = PAIRS * OVERLAP  # human verdicts the task needs


class Proc:
    """A child process whose stdout lines are collected as they come (what was acknowledged
    before a SIGKILL is known exactly)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args, self.log = args, log
        self.lines: list[str] = []
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[str]:
        proc = subprocess.Popen([sys.executable, "-m", *self.args], cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=self.log.open("a"),
                                start_new_session=True)
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        return proc

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.append(line.strip())

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def restart(self) -> None:
        self.proc = self._start()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def serve(target: str, port: int, log: Path) -> Proc:
    server = Proc(["judge_app.cli", "serve", "--db", target, "--port", str(port)], log)
    _wait_healthy(f"http://127.0.0.1:{port}", server.proc)  # type: ignore[arg-type]
    return server


def acked(clients: list[Proc]) -> list[str]:
    return [line.split()[2] for c in clients for line in list(c.lines)
            if line.startswith("ack ")]


def wait_for(what: str, done: object, deadline_s: float = 300) -> None:
    deadline = time.monotonic() + deadline_s
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in {deadline_s:.0f} s: {what}")
        time.sleep(0.1)


def test_a_server_killed_mid_run_loses_and_doubles_nothing(db: Database,
                                                           tmp_path: Path) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=PROMPTS, overlap=OVERLAP))
    sessions = []
    for i in range(RATERS):
        session = sign_in(db, add_rater(db, f"rater{i:02d}", tasks=["t1"]).token)
        assert session is not None
        sessions.append(session)
    target = db.target
    n_servers = 3 if db.dialect.is_postgres else 1
    db.close()  # DuckDB: the server owns the file; this test works through it from now on
    ports = [_free_port() for _ in range(n_servers)]
    servers = [serve(target, port, tmp_path / f"server{i}.log") for i, port in enumerate(ports)]
    # One rater process per server. On DuckDB every rater must be in one process, as every
    # browser tab is in the one server's: the task lock that keeps a pair's overlap is that
    # process's (storage/dialect.lock); PostgreSQL's is an advisory lock in the database.
    processes = PROCESSES if db.dialect.is_postgres else 1
    groups = [sessions[i::processes] for i in range(processes)]
    clients = [Proc(["tests.rater_client", target, "t1", *group], tmp_path / f"raters{i}.log")
               for i, group in enumerate(groups)]
    judge_cfg = tmp_path / "judge.toml"
    everyone = [*servers, *clients]
    with FakeOpenAIServer(longer_wins, latency_ms=20) as fake:
        judge_cfg.write_text(f'name = "batch-judge"\nmodel = "fake"\ntemplate = "overall"\n'
                             f'base_url = "{fake.base_url}"\nconcurrency = 4\n')
        judge = Proc(["judge_app.cli", "judge", "--task", "t1", "--judge", str(judge_cfg),
                      "--db", target, "--quiet"], tmp_path / "judge.log")
        everyone.append(judge)
        try:
            wait_for("a third of the votes", lambda: len(acked(clients)) >= SLOTS // 3)
            before = len(acked(clients))
            servers[0].kill()  # mid-run: the other raters are voting this very moment
            clients[0].kill()
            assert before < SLOTS
            servers[0] = serve(target, ports[0], tmp_path / "server0.log")
            clients[0].restart()
            wait_for("every rater done", lambda: all(c.proc.poll() is not None
                                                     for c in clients))
            wait_for("the judge batch", lambda: judge.proc.poll() is not None)
            if judge.proc.returncode != 0 and not db.dialect.is_postgres:
                # DuckDB: a command working through the killed owner stops and says so; the
                # same command again resumes from the stored calls (PostgreSQL: no owner)
                assert "Run the command again" in (tmp_path / "judge.log").read_text()
                judge.restart()
                wait_for("the judge batch, resumed", lambda: judge.proc.poll() is not None)
        finally:
            for p in everyone:
                p.stop()
    assert judge.proc.returncode == 0, (tmp_path / "judge.log").read_text()[-3000:]
    assert all(c.proc.returncode == 0 for c in clients)
    done = {line.split()[1] for c in clients for line in c.lines if line.startswith("done ")}
    assert done == set(sessions)
    votes = acked(clients)
    reader = open_database(target)
    with reader.cursor() as cur:
        stored = dict(cur.execute(
            "SELECT assignment_id, count(*) FROM verdicts WHERE source = 'human' "
            "AND retracts IS NULL GROUP BY assignment_id").fetchall())
        handed = cur.execute(
            "SELECT pair_id, count(DISTINCT rater_id), count(*) FROM assignments "
            "WHERE task_id = 't1' GROUP BY pair_id").fetchall()
        covered = cur.execute(
            "SELECT pair_id, count(*) FROM verdicts WHERE source = 'human' "
            "AND retracts IS NULL AND raw_choice <> 'skip' GROUP BY pair_id").fetchall()
        judged = cur.execute(
            "SELECT count(*), count(DISTINCT pair_id) FROM verdicts WHERE source = 'judge' "
            "AND retracts IS NULL").fetchone()
    reader.close()
    assert len(votes) == len(set(votes))  # an assignment acknowledged once
    assert all(stored.get(a) == 1 for a in votes)  # every acknowledged vote stored, once
    assert all(n == 1 for n in stored.values())  # nothing else stored twice either
    bad = [h for h in handed if not (h[1] <= OVERLAP and h[2] == h[1])]
    assert not bad, bad
    assert len(covered) == PAIRS and all(n == OVERLAP for _, n in covered), covered
    assert len(stored) == SLOTS
    assert tuple(judged) == (PAIRS, PAIRS)
