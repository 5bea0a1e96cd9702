"""`judge-app generate --batch` and `judge-app judge --batch` as real processes on a real
DuckDB file, against the fake server over HTTP: SIGKILL while waiting for the batch, and
between creating the batch and recording its id; both resume the same batch, never
submitting it twice."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.fake_openai_server import FakeOpenAIServer, answers, longer_wins
from tests.test_generation_cli import ROOT, cli, command, count, make_db, model_file
from tests.test_judge_cli import judge_file

N = 12


def wait_for(condition: object, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and proc.poll() is None:  # type: ignore[operator]
        assert time.monotonic() < deadline, "the run never got there"
        time.sleep(0.01)
    assert proc.poll() is None, "the run ended before it could be killed"


def test_sigkill_while_waiting_resumes_the_same_batch(tmp_path: Path) -> None:
    db = make_db(tmp_path, N)
    with FakeOpenAIServer(answers) as server:
        server.batch_step_s = 0.002
        server.batch_gate.clear()  # the batch stays in progress until the run is killed
        args = ("generate", "--task", "t1", "--model", str(model_file(tmp_path, server)),
                "--batch", "--poll-interval", "0.05", "--quiet")
        proc = subprocess.Popen(command(*args, db=db), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_for(lambda: server.batch_polls >= 3, proc)  # the id is recorded before polling
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert count(db, "SELECT count(*) FROM api_batches WHERE state = 'submitted' AND "
                         "remote_batch_id = 'batch_fake0001'") == 1
        assert count(db, "SELECT count(*) FROM generation_calls") == 0
        listed = cli("runs", "--task", "t1", db=db).stdout
        assert "batch batch_fake0001  generate on t1: submitted (in_progress), 0 of " \
               f"{N} calls landed" in listed
        assert "gen on t1: interrupted" in listed
        server.batch_gate.set()
        resumed = cli(*args, db=db)
        assert resumed.returncode == 0, resumed.stderr
        assert "resumed 1 batch(es) an earlier run had submitted" in resumed.stdout
        assert f"batch batch_fake0001: completed, {N} of {N} answered" in resumed.stdout
        assert server.batches_created == server.files_created == 1
        assert server.batch_requests == N and server.count == 0
        again = cli(*args, db=db)
        assert again.returncode == 0 and "0 prompts without an output" in again.stdout
        assert server.batches_created == 1
    assert count(db, "SELECT count(*) FROM outputs WHERE model = 'gen' AND latency_ms IS NULL "
                     "AND ttft_ms IS NULL") == N
    assert count(db, "SELECT count(*) FROM generation_calls") == N


def test_sigkill_between_creating_the_batch_and_recording_its_id_finds_it_by_metadata(
        tmp_path: Path) -> None:
    db = make_db(tmp_path, N)
    with FakeOpenAIServer(answers) as server:
        server.batch_step_s = 0.002
        server.create_gate = threading.Event()  # the batch exists; its creator never hears
        args = ("generate", "--task", "t1", "--model", str(model_file(tmp_path, server)),
                "--batch", "--poll-interval", "0.05", "--quiet")
        proc = subprocess.Popen(command(*args, db=db), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        wait_for(lambda: server.batches_created == 1, proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        server.create_gate.set()
        server.create_gate = None
        assert count(db, "SELECT count(*) FROM api_batches WHERE state = 'uploaded' AND "
                         "remote_batch_id IS NULL") == 1
        resumed = cli(*args, db=db)
        assert resumed.returncode == 0, resumed.stderr
        assert f"batch batch_fake0001: completed, {N} of {N} answered" in resumed.stdout
        assert server.batches_created == server.files_created == 1
        assert server.batch_requests == N
    assert count(db, "SELECT count(*) FROM outputs WHERE model = 'gen'") == N


def test_judge_batch_and_the_dry_run_print_the_batch_price(tmp_path: Path) -> None:
    db = tmp_path / "judge.duckdb"
    from judge_app.services.imports import import_bundle
    from judge_app.storage.schema import open_database
    from tests.conftest import make_bundle

    handle = open_database(db)
    import_bundle(handle, make_bundle("t1", n_prompts=3))
    handle.close()
    with FakeOpenAIServer(longer_wins) as server:
        server.batch_step_s = 0.002
        config = str(judge_file(tmp_path, server))
        dry = cli("judge", "--task", "t1", "--judge", config, "--batch", "--dry-run", db=db)
        assert dry.returncode == 0, dry.stderr
        assert "batch price: $0.5 input, $2 output per million tokens" in dry.stdout
        assert server.files_created == 0
        out = cli("judge", "--task", "t1", "--judge", config, "--batch", "--poll-interval",
                  "0.02", "--quiet", db=db)
        assert out.returncode == 0, out.stderr
        assert "calls: 18 planned, 0 cached, 18 new, 0 failed" in out.stdout
        assert "latency: p50 n/a" in out.stdout
        assert "batch batch_fake0001: completed, 18 of 18 answered, 0 failed" in out.stdout
        assert server.count == 0 and server.batches_created == 1
        bad = cli("judge", "--task", "t1", "--judge", config, "--poll-interval", "1", db=db)
        assert bad.returncode == 1 and "--poll-interval goes with --batch" in bad.stderr
        bad = cli("judge", "--task", "t1", "--judge", config, "--batch", "--adaptive", db=db)
        assert bad.returncode == 1 and "drop --batch" in bad.stderr
        bad = cli("judge", "--task", "t1", "--judge", config, "--batch", "--concurrency", "2",
                  db=db)
        assert bad.returncode == 1 and "drop --concurrency" in bad.stderr
        assert server.batches_created == 1
    assert count(db, "SELECT count(*) FROM active_verdicts WHERE rater_id = 'cli-judge' "
                     "AND latency_ms IS NULL") == 9


def test_help_describes_the_batch_options() -> None:
    for sub in ("generate", "judge"):
        out = subprocess.run(command(sub, "--help", db=Path("x.duckdb"))[:-2], cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        text = " ".join(out.stdout.split())
        assert "--batch send the calls through OpenAI's Batch API" in text
        assert "--poll-interval SECONDS with --batch" in text
