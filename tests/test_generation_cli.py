"""`judge-app generate` as a real process: dry run, summary, SIGKILL mid-run and resume; and
migration 006 on a database written by an earlier release."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from judge_app.judges.group_commit import unstored_limit
from judge_app.judges.model_config import parse_model_config
from judge_app.services.generation import plan_generation, run_generation
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import DATA, make_bundle
from tests.fake_openai_server import FakeOpenAIServer, answers

ROOT = Path(__file__).resolve().parents[1]


def make_db(tmp_path: Path, n_prompts: int) -> Path:
    path = tmp_path / "gen.duckdb"
    db = open_database(path)
    import_bundle(db, make_bundle("t1", n_prompts=n_prompts, models=("m1", "m2")))
    db.close()
    return path


def model_file(tmp_path: Path, server: FakeOpenAIServer, **extra: object) -> Path:
    lines = ['name = "gen"', 'model = "fake-7b"', f'base_url = "{server.base_url}"',
             "input_price_per_million = 1.0", "output_price_per_million = 4.0"]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    path = tmp_path / "model.toml"
    path.write_text("\n".join(lines) + "\n")
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


def test_dry_run_estimates_and_calls_nothing_then_the_run_prints_its_summary(
        tmp_path: Path) -> None:
    db = make_db(tmp_path, 4)
    with FakeOpenAIServer(answers) as server:
        config = model_file(tmp_path, server, max_tokens=100)
        dry = cli("generate", "--task", "t1", "--model", str(config), "--dry-run", db=db)
        assert dry.returncode == 0, dry.stderr
        assert "model 'gen' (fake-7b at http://127.0.0.1:" in dry.stdout
        assert "4 prompts without an output, 4 calls (turns): 0 cached, 4 to make" in dry.stdout
        assert "at most 400 output (max_tokens 100)" in dry.stdout
        assert "estimated cost: $" in dry.stdout and server.count == 0
        out = cli("generate", "--task", "t1", "--model", str(config), "--quiet", db=db)
        assert out.returncode == 0, out.stderr
        assert server.count == 4
    lines = out.stdout
    assert ": done" in lines and "outputs: 4 new of 4 prompts, 8 new pairs" in lines
    assert "calls: 4 planned, 0 cached, 4 new" in lines and "flagged outputs: none" in lines
    assert "latency per call: p50 " in lines and "p99 " in lines
    assert "time to first token: p50 " in lines and "cost: $0.0" in lines
    assert count(db, "SELECT count(*) FROM pairs") == 12


def test_bad_input_exits_1_naming_the_cause(tmp_path: Path) -> None:
    db = make_db(tmp_path, 2)
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "gen"\nmodel = "m"\ntemperature = 9\n')
    out = cli("generate", "--task", "t1", "--model", str(bad), db=db)
    assert out.returncode == 1 and "temperature" in out.stderr and "bad.toml" in out.stderr
    with FakeOpenAIServer(answers) as server:
        out = cli("generate", "--task", "nope", "--model", str(model_file(tmp_path, server)),
                  db=db)
        assert out.returncode == 1 and "nope" in out.stderr and server.count == 0
        out = cli("generate", "--task", "t1", "--model", str(model_file(tmp_path, server)),
                  "--max-cost", "0", db=db)
        assert out.returncode == 1 and "--max-cost" in out.stderr and server.count == 0


def test_sigkill_midway_then_resume_pays_only_what_is_missing(tmp_path: Path) -> None:
    db = make_db(tmp_path, 40)
    total, concurrency = 40, 4
    with FakeOpenAIServer(answers, latency_ms=40) as server:
        config = model_file(tmp_path, server, concurrency=concurrency)
        args = ("generate", "--task", "t1", "--model", str(config), "--quiet")
        proc = subprocess.Popen(command(*args, db=db), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while server.count < 15 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        paid_before_kill = server.count
        stored = count(db, "SELECT count(*) FROM generation_calls")
        assert 0 < stored < total
        # lost: only calls in flight (sent, or answered and not yet stored) at the kill:
        # at most concurrency of them (judges/group_commit.py)
        assert paid_before_kill - stored <= unstored_limit(concurrency)
        outputs = count(db, "SELECT count(*) FROM outputs WHERE model = 'gen'")
        assert count(db, "SELECT count(*) FROM generation_runs WHERE status = 'running'") == 1
        listed = cli("runs", "--task", "t1", db=db).stdout
        assert "gen on t1: interrupted" in listed
        assert "run the same judge-app generate command again" in listed

        resumed = cli(*args, db=db)
        assert resumed.returncode == 0, resumed.stderr
        left = total - outputs
        assert f"{left} prompts without an output, {left} calls (turns): " \
               f"{stored - outputs} cached, {total - stored} to make" in resumed.stdout
        assert server.count - paid_before_kill == total - stored
        assert count(db, "SELECT count(*) FROM generation_runs WHERE status = 'stopped' "
                         "AND message LIKE 'interrupted: its process is gone%'") == 1

        again = cli(*args, db=db)
        assert again.returncode == 0 and "0 prompts without an output" in again.stdout
        assert server.count - paid_before_kill == total - stored  # zero calls
    assert count(db, "SELECT count(*) FROM generation_calls") == total
    assert count(db, "SELECT count(*) FROM outputs WHERE model = 'gen'") == total
    assert count(db, "SELECT count(*) FROM pairs") == 3 * total
    assert count(db, "SELECT count(DISTINCT output_id) FROM outputs") == 3 * total


def test_migration_006_upgrades_a_database_of_an_earlier_release(tmp_path: Path) -> None:
    path = tmp_path / "release.duckdb"
    path.write_bytes(gzip.decompress(
        (DATA / "release_db" / "release-059ac50.duckdb.gz").read_bytes()))
    conn = duckdb.connect(str(path))
    before = conn.execute("SELECT * FROM outputs ORDER BY output_id").fetchall()
    task = conn.execute("SELECT task_id FROM tasks ORDER BY 1 LIMIT 1").fetchone()[0]
    conn.close()
    db = open_database(path)
    try:
        with db.cursor() as cur:
            after = cur.execute("SELECT * EXCLUDE (ttft_ms, finish_reason) FROM outputs "
                                "ORDER BY output_id").fetchall()
            assert after == before  # every row kept as it was
            assert cur.execute("SELECT count(*) FROM outputs WHERE ttft_ms IS NOT NULL OR "
                               "finish_reason IS NOT NULL").fetchone() == (0,)
            versions = [r[0] for r in cur.execute(
                "SELECT version FROM schema_migrations ORDER BY 1").fetchall()]
            assert versions[-1] >= 6 and 6 in versions
            prompts = cur.execute("SELECT count(*) FROM prompts WHERE task_id = ?",
                                  [task]).fetchone()[0]
        with FakeOpenAIServer(answers) as server:
            cfg = parse_model_config({"name": "gen", "model": "m", "base_url": server.base_url})
            summary = run_generation(db, plan_generation(db, task, cfg))
        assert summary.status == "done" and summary.outputs_new == prompts
        with db.cursor() as cur:
            meta = cur.execute("SELECT metadata FROM outputs WHERE model = 'gen' LIMIT 1"
                               ).fetchone()[0]
        assert json.loads(meta)["generation"]["request"]["model"] == "m"
    finally:
        db.close()
