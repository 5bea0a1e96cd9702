"""Many app servers on one database, one of them SIGKILLed mid-run (issue 14).

PostgreSQL: 3 `judge-app serve` processes and 30 raters voting at once through them, 10 per
server, each in a tab of its own: Streamlit's websocket protocol, as the browser speaks it
(tests/streamlit_client.py: the pair page drawn, an outcome clicked, Submit clicked). DuckDB:
the one server that owns the file, all 30 raters voting through it. Meanwhile a `judge-app
judge` batch runs against the fake OpenAI server. The raters are coroutines of one thread of
this process (a tab costs no browser); the servers are the only processes running the app.
Once a third of the votes are acknowledged, server 0 is SIGKILLed: its raters' tabs lose the
connection (and any vote not yet acknowledged) and keep reloading until the server, started
again on the same port, answers; then they go on where they were.

Afterwards: every vote a rater saw acknowledged (the next pair drawn after Submit) is stored
exactly once, with the outcome clicked; every tab ended on "All done"; no pair was handed to
more raters than the task's overlap; every pair has exactly `overlap` human verdicts; the
judge batch finished with one verdict per pair. No timing is asserted: waits are generous
deadlines on progress only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
from tests.streamlit_client import Rater, start_raters

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
PROMPTS, MODELS, OVERLAP, RATERS = 20, 3, 2, 30
PAIRS = PROMPTS * MODELS * (MODELS - 1) // 2
SLOTS = PAIRS * OVERLAP  # human verdicts the task needs


class Proc:
    """A child process in a process group of its own (a SIGKILL takes all of it), its output
    in a log file."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args, self.log = args, log
        self.proc = self._start()

    def _start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen([sys.executable, "-m", *self.args], cwd=ROOT, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)

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
    _wait_healthy(f"http://127.0.0.1:{port}", server.proc)
    return server


def acked(raters: list[Rater]) -> list[str]:
    return [aid for r in raters for aid in list(r.acked)]


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
    # Rater i votes through server i mod n: 10 tabs per server on PostgreSQL, all 30 in the
    # one server that owns the DuckDB file.
    raters = [Rater(f"http://127.0.0.1:{ports[i % n_servers]}", s, seed=i)
              for i, s in enumerate(sessions)]
    on_first = [r for i, r in enumerate(raters) if i % n_servers == 0]
    judge_cfg = tmp_path / "judge.toml"
    everyone = [*servers]
    with FakeOpenAIServer(longer_wins, latency_ms=20) as fake:
        judge_cfg.write_text(f'name = "batch-judge"\nmodel = "fake"\ntemplate = "overall"\n'
                             f'base_url = "{fake.base_url}"\nconcurrency = 4\n')
        judge = Proc(["judge_app.cli", "judge", "--task", "t1", "--judge", str(judge_cfg),
                      "--db", target, "--quiet"], tmp_path / "judge.log")
        everyone.append(judge)
        voting = start_raters(raters, timeout_s=600)
        try:
            wait_for("a third of the votes", lambda: len(acked(raters)) >= SLOTS // 3)
            before = len(acked(raters))
            servers[0].kill()  # mid-run: every rater is voting this very moment
            assert before < SLOTS
            servers[0] = serve(target, ports[0], tmp_path / "server0.log")
            everyone[0] = servers[0]
            wait_for("every rater done", lambda: not voting.is_alive(), deadline_s=600)
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
    assert all(r.error is None for r in raters), [r.error for r in raters if r.error]
    assert all(r.done for r in raters)  # every tab ended on "All done"
    assert all(r.reloads > 0 for r in on_first)  # server 0's tabs did lose it mid-run
    votes = acked(raters)
    reader = open_database(target)
    with reader.cursor() as cur:
        rows = cur.execute(
            "SELECT assignment_id, count(*), min(raw_choice) FROM verdicts "
            "WHERE source = 'human' AND retracts IS NULL GROUP BY assignment_id").fetchall()
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
    stored = {aid: n for aid, n, _ in rows}
    clicked = {aid: c for r in raters for aid, c in r.choices.items()}
    wrong = [(aid, c, clicked[aid]) for aid, _, c in rows if aid in clicked and c != clicked[aid]]
    assert len(votes) == len(set(votes))  # an assignment acknowledged once
    assert all(stored.get(a) == 1 for a in votes)  # every acknowledged vote stored, once
    assert all(n == 1 for n in stored.values())  # nothing else stored twice either
    assert not wrong, wrong[:5]  # and stored as clicked
    bad = [h for h in handed if not (h[1] <= OVERLAP and h[2] == h[1])]
    assert not bad, bad
    assert len(covered) == PAIRS and all(n == OVERLAP for _, n in covered), covered
    assert len(stored) == SLOTS
    assert tuple(judged) == (PAIRS, PAIRS)
