"""The calls journal of runs that own their DuckDB file (storage/journal.py): a real
`judge-app generate` and a real `judge-app judge` SIGKILLed between two moves of the journal
into DuckDB re-pay nothing journaled; a torn last line is ignored; a replay twice is one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import duckdb

from judge_app.judges.group_commit import unstored_limit
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.journal import FLUSH_ENV, encode_group, journal_dir
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, answers

ROOT = Path(__file__).resolve().parents[1]


def make_db(path: Path, n_prompts: int, models: tuple[str, ...] = ("m1", "m2", "m3")) -> Path:
    db = open_database(path)
    import_bundle(db, make_bundle("t1", n_prompts=n_prompts, models=models))
    db.close()
    return path


def model_file(tmp_path: Path, server: FakeOpenAIServer, concurrency: int) -> Path:
    path = tmp_path / "model.toml"
    path.write_text("\n".join([
        'name = "gen"', 'model = "fake-7b"', f'base_url = "{server.base_url}"',
        "input_price_per_million = 1.0", "output_price_per_million = 4.0",
        f"concurrency = {concurrency}"]) + "\n")
    return path


def judge_file(tmp_path: Path, server: FakeOpenAIServer, concurrency: int) -> Path:
    path = tmp_path / "judge.toml"
    path.write_text("\n".join([
        'name = "cli-judge"', 'model = "fake"', 'template = "overall"',
        f'base_url = "{server.base_url}"', "input_price_per_million = 1.0",
        "output_price_per_million = 4.0", f"concurrency = {concurrency}"]) + "\n")
    return path


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith("OPENAI_") and k != FLUSH_ENV}
    return {**base, **extra}


def command(*args: str, db: Path) -> list[str]:
    return [sys.executable, "-m", "judge_app.cli", *args, "--db", str(db)]


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args, db=db), capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env=env())


def raw_rows(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the file with DuckDB itself: no judge_app owner, so no replay of journals."""
    conn = duckdb.connect(str(db_path))
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def rows(db_path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read through judge_app: its owner replays any journal first."""
    db = Database(db_path)
    try:
        with db.cursor() as cur:
            return cur.execute(sql).fetchall()
    finally:
        db.close()


def journaled_keys(db_path: Path) -> list[str]:
    """Call keys of the complete (acknowledged) lines of every journal segment."""
    keys = []
    for seg in sorted(journal_dir(db_path).glob("*.jsonl")):
        for line in seg.read_bytes().split(b"\n")[:-1]:
            keys += [r["call_key"] for r in json.loads(line)["rows"]]
    return keys


def tear_last_line(db_path: Path) -> None:
    """What a SIGKILL in the middle of a write leaves: half a line, no newline."""
    seg = sorted(journal_dir(db_path).glob("*.jsonl"))[-1]
    last = seg.read_bytes().split(b"\n")[-2]
    with seg.open("ab") as f:
        f.write(last[: len(last) // 2])


def kill_midway(args: tuple[str, ...], db: Path, server: FakeOpenAIServer, at: int) -> int:
    """Start the command with journal moves a long way apart, SIGKILL it after `at` calls."""
    proc = subprocess.Popen(command(*args, db=db), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env(**{FLUSH_ENV: "3600"}))
    deadline = time.monotonic() + 120
    while server.count < at and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return server.count


def test_generate_killed_between_flushes_repays_nothing_journaled(tmp_path: Path) -> None:
    total, concurrency = 40, 4
    db = make_db(tmp_path / "killed.duckdb", total, models=("m1", "m2"))
    reference = make_db(tmp_path / "reference.duckdb", total, models=("m1", "m2"))
    with FakeOpenAIServer(answers, latency_ms=40) as server:
        config = model_file(tmp_path, server, concurrency)
        args = ("generate", "--task", "t1", "--model", str(config), "--quiet")
        paid = kill_midway(args, db, server, 15)
        journaled = journaled_keys(db)
        # nothing reached DuckDB: the answers kept are the journal's, and only those
        assert raw_rows(db, "SELECT count(*) FROM generation_calls") == [(0,)]
        assert raw_rows(db, "SELECT count(*) FROM outputs WHERE model = 'gen'") == [(0,)]
        assert 15 <= paid <= total and len(set(journaled)) == len(journaled)
        assert paid - len(journaled) <= unstored_limit(concurrency)  # only those in flight
        tear_last_line(db)

        resumed = cli(*args, db=db)
        assert resumed.returncode == 0, resumed.stderr
        assert f"{len(journaled)} cached, {total - len(journaled)} to make" in resumed.stdout
        assert server.count - paid == total - len(journaled)  # nothing journaled re-paid
        assert not list(journal_dir(db).glob("*.jsonl"))  # replayed, then removed

        before = server.count
        assert cli(*args, db=reference).returncode == 0
        assert server.count - before == total
    # every call stored once, and the same answers and outputs as a run never killed
    query = ("SELECT call_key, answer, turn, prompt_id FROM generation_calls ORDER BY 1")
    assert rows(db, query) == rows(reference, query) and len(rows(db, query)) == total
    outputs = ("SELECT output_id, response_text FROM outputs WHERE model = 'gen' ORDER BY 1")
    assert rows(db, outputs) == rows(reference, outputs) and len(rows(db, outputs)) == total
    pairs = "SELECT pair_id FROM pairs ORDER BY 1"
    assert rows(db, pairs) == rows(reference, pairs)


def test_judge_killed_between_flushes_repays_nothing_journaled(tmp_path: Path) -> None:
    total, concurrency = 120, 4  # 20 prompts, 3 models: 60 pairs, both orders
    db = make_db(tmp_path / "killed.duckdb", 20)
    reference = make_db(tmp_path / "reference.duckdb", 20)
    with FakeOpenAIServer(latency_ms=40) as server:
        config = judge_file(tmp_path, server, concurrency)
        args = ("judge", "--task", "t1", "--judge", str(config), "--quiet")
        paid = kill_midway(args, db, server, 40)
        journaled = journaled_keys(db)
        assert raw_rows(db, "SELECT count(*) FROM judge_calls") == [(0,)]
        assert raw_rows(db, "SELECT count(*) FROM verdicts") == [(0,)]  # none before its calls
        assert 40 <= paid <= total and len(set(journaled)) == len(journaled)
        assert paid - len(journaled) <= unstored_limit(concurrency)
        tear_last_line(db)

        resumed = cli(*args, db=db)
        assert resumed.returncode == 0, resumed.stderr
        assert f"{len(journaled)} cached, {total - len(journaled)} to make" in resumed.stdout
        assert server.count - paid == total - len(journaled)
        assert not list(journal_dir(db).glob("*.jsonl"))

        before = server.count
        assert cli(*args, db=reference).returncode == 0
        assert server.count - before == total
    calls = "SELECT call_key, raw_choice, cost_usd FROM judge_calls ORDER BY 1"
    assert rows(db, calls) == rows(reference, calls) and len(rows(db, calls)) == total
    verdicts = ("SELECT pair_id, outcome FROM active_verdicts ORDER BY 1")
    assert rows(db, verdicts) == rows(reference, verdicts) and len(rows(db, verdicts)) == 60


def _call(key: str, n: int) -> dict[str, object]:
    return {"call_key": key, "run_id": "r1", "config_hash": "h", "model": "gen",
            "endpoint": "e", "task_id": "t1", "prompt_id": f"p{n}", "turn": 1,
            "answer": f"answer {n} \u00e9\n\"quoted\"", "finish_reason": "stop",
            "input_tokens": 10 + n, "output_tokens": 5, "usage_estimated": False,
            "cost_usd": 0.25 * n, "latency_ms": 12.5, "ttft_ms": 3.0, "response_model": None,
            "system_fingerprint": None, "attempts": 1,
            "created_at": datetime(2026, 12, 2, 16, 30, n)}


def test_replay_skips_a_torn_line_and_twice_is_once(tmp_path: Path) -> None:
    db_path = make_db(tmp_path / "j.duckdb", 2)
    folder = journal_dir(db_path)
    folder.mkdir()
    good = encode_group("generation_calls", [_call("k1", 1), _call("k2", 2)])
    more = encode_group("generation_calls", [_call("k3", 3)])
    torn = encode_group("generation_calls", [_call("k4", 4)])[:-9]
    content = good + more + torn
    (folder / "run1-000001.jsonl").write_bytes(content)
    query = ("SELECT call_key, answer, cost_usd, created_at FROM generation_calls "
             "ORDER BY call_key")
    first = rows(db_path, query)
    assert [r[0] for r in first] == ["k1", "k2", "k3"]  # k4 was never acknowledged
    assert first[0][1] == "answer 1 \u00e9\n\"quoted\"" and first[2][2] == 0.75
    assert first[1][3] == datetime(2026, 12, 2, 16, 30, 2)
    assert not list(folder.glob("*.jsonl"))
    # a crash between the commit and the deletion leaves the journal: replayed again, no-op
    (folder / "run1-000001.jsonl").write_bytes(content)
    assert rows(db_path, query) == first
    assert not list(folder.glob("*.jsonl"))
    (folder / "empty-000001.jsonl").write_bytes(b"")  # created, killed before its first line
    assert rows(db_path, query) == first
