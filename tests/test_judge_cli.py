"""`judge-app judge` and `judge-app escalate` as real processes: dry run, SIGKILL and resume,
sharing the database file with another process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from judge_app.judges.group_commit import unstored_limit
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, first_wins

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]


def make_db(tmp_path: Path, n_prompts: int) -> Path:
    path = tmp_path / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, make_bundle("t1", n_prompts=n_prompts))
    db.close()
    return path


def judge_file(tmp_path: Path, server: FakeOpenAIServer, **extra: object) -> Path:
    lines = ['name = "cli-judge"', 'model = "fake"', 'template = "overall"',
             f'base_url = "{server.base_url}"', "input_price_per_million = 1.0",
             "output_price_per_million = 4.0"]
    lines += [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in extra.items()]
    path = tmp_path / "judge.toml"
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    return path


def command(*args: str, db: Path) -> list[str]:
    return [sys.executable, "-m", "judge_app.cli", *args, "--db", str(db)]


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.run(command(*args, db=db), capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env=env)


def count(db_path: Path, sql: str) -> int:
    db = Database(db_path)
    try:
        with db.cursor() as cur:
            return int(cur.execute(sql).fetchone()[0])
    finally:
        db.close()


def test_dry_run_prints_the_plan_and_calls_nothing(tmp_path: Path) -> None:
    db = make_db(tmp_path, 5)
    with FakeOpenAIServer() as server:
        out = cli("judge", "--task", "t1", "--judge", str(judge_file(tmp_path, server)),
                  "--dry-run", db=db)
        assert out.returncode == 0, out.stderr
        assert server.count == 0
    assert "15 pairs, 30 calls: 0 cached, 30 to make" in out.stdout
    assert "estimated tokens" in out.stdout and "estimated cost: $" in out.stdout


def test_bad_config_and_unknown_task_exit_1(tmp_path: Path) -> None:
    db = make_db(tmp_path, 2)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\nmodel = "m"\ntemplate = "overall"\ntemperature = 9\n')
    out = cli("judge", "--task", "t1", "--judge", str(bad), db=db)
    assert out.returncode == 1 and "temperature" in out.stderr and "bad.toml" in out.stderr
    with FakeOpenAIServer() as server:
        out = cli("judge", "--task", "nope", "--judge", str(judge_file(tmp_path, server)),
                  db=db)
        assert out.returncode == 1 and "nope" in out.stderr
        out = cli("judge", "--task", "t1", "--judge", str(judge_file(tmp_path, server)),
                  "--models", "m1,zz", db=db)
        assert out.returncode == 1 and "--models" in out.stderr and server.count == 0


def test_sigkill_midway_then_resume_pays_only_what_is_missing(tmp_path: Path) -> None:
    db = make_db(tmp_path, 20)  # 60 pairs, 120 calls
    total, concurrency = 120, 4
    with FakeOpenAIServer(latency_ms=40) as server:
        config = judge_file(tmp_path, server, concurrency=concurrency)
        args = ("judge", "--task", "t1", "--judge", str(config), "--quiet")
        proc = subprocess.Popen(command(*args, db=db), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while server.count < 40 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        paid_before_kill = server.count
        stored = count(db, "SELECT count(*) FROM judge_calls")
        assert 0 < stored < total
        # lost: only calls in flight (sent, or answered and not yet stored) at the kill:
        # at most concurrency of them (judges/group_commit.py)
        assert paid_before_kill - stored <= unstored_limit(concurrency)

        resumed = cli(*args, db=db)
        assert resumed.returncode == 0, resumed.stderr
        assert f"{stored} cached, {total - stored} to make" in resumed.stdout
        assert server.count - paid_before_kill == total - stored

        again = cli(*args, db=db)
        assert again.returncode == 0 and "0 to make" in again.stdout
        assert server.count - paid_before_kill == total - stored  # zero calls
    assert count(db, "SELECT count(*) FROM judge_calls") == total
    assert count(db, "SELECT count(*) FROM verdicts") == 60
    assert count(db, "SELECT count(DISTINCT pair_id) FROM active_verdicts") == 60
    assert count(db, "SELECT count(*) FROM judge_runs WHERE status = 'done'") == 2


def test_runs_while_another_process_uses_the_database(tmp_path: Path) -> None:
    """The app server's pattern: short units of work on the same file, all the time."""
    db_path = make_db(tmp_path, 10)
    script = (
        "import sys, time\n"
        "from judge_app.storage.db import Database\n"
        f"db = Database({str(db_path)!r})\n"
        "end = time.monotonic() + float(sys.argv[1])\n"
        "n = 0\n"
        "while time.monotonic() < end:\n"
        "    with db.cursor() as cur:\n"
        "        cur.execute('SELECT count(*) FROM verdicts').fetchone()\n"
        "    n += 1\n"
        "    time.sleep(0.02)\n"
        "print(n)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", script, "8"], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    results: dict[str, subprocess.CompletedProcess[str]] = {}
    with FakeOpenAIServer(first_wins, latency_ms=10) as server:
        config = judge_file(tmp_path, server, concurrency=8)
        worker = threading.Thread(target=lambda: results.setdefault("run", cli(
            "judge", "--task", "t1", "--judge", str(config), "--quiet", db=db_path)))
        time.sleep(0.3)
        worker.start()
        worker.join(300)
    out = results["run"]
    assert out.returncode == 0, out.stderr
    assert "tie 30 (30 pairs)" in out.stdout and "swap consistency: 0.0%" in out.stdout
    holder_out, _ = holder.communicate(timeout=60)
    assert holder.returncode == 0 and int(holder_out) > 10
    # --judge is the judge's config file here too, as in `judge-app judge`
    escalated = cli("escalate", "--task", "t1", "--judge", str(config), "--max-pairs", "5",
                    db=db_path)
    assert escalated.returncode == 0, escalated.stderr
    assert "escalated 5 pairs" in escalated.stdout and "25 more qualify" in escalated.stdout
    assert escalated.stderr == ""
    by_name = cli("escalate", "--task", "t1", "--rater", "cli-judge", "--max-pairs", "5",
                  db=db_path)
    assert by_name.returncode == 0 and by_name.stderr == "", by_name.stderr
    assert "escalated 5 pairs" in by_name.stdout and "20 more qualify" in by_name.stdout
    # the old spelling (a name after --judge) still works, and says what replaces it
    old = cli("escalate", "--task", "t1", "--judge", "cli-judge", "--max-pairs", "5",
              db=db_path)
    assert old.returncode == 0 and "escalated 5 pairs" in old.stdout, old.stderr
    assert "--judge NAME is deprecated" in old.stderr and "--rater cli-judge" in old.stderr


def test_a_run_started_for_the_admin_page_runs_on_its_own(tmp_path: Path) -> None:
    from judge_app.services.judges import list_runs, start_run

    db_path = make_db(tmp_path, 3)
    with FakeOpenAIServer() as server:
        pid, log = start_run(db_path, "t1", judge_file(tmp_path, server), max_cost=1.0)
        deadline = time.monotonic() + 120
        runs: list[dict[str, object]] = []
        while time.monotonic() < deadline:
            db = Database(db_path)
            runs = list_runs(db, "t1")
            db.close()
            if runs and runs[0]["status"] != "running":
                break
            time.sleep(0.2)
    assert runs and runs[0]["status"] == "done", log.read_text()
    assert runs[0]["done_calls"] == 18 and runs[0]["pid"] == pid
    assert "run " in log.read_text()
