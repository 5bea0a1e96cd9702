"""The shared group commit of judge runs and generation runs (judges/group_commit.py): workers
share one commit rather than queueing one each, and no more than `unstored_limit(concurrency)`
calls are ever paid for and not stored (what a SIGKILL can re-pay). Checked on the writer
alone and on both runners against the real fake server, DuckDB and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from judge_app.judges.config import parse_config
from judge_app.judges.group_commit import GroupCommit, unstored_limit
from judge_app.judges.model_config import parse_model_config
from judge_app.services.generation import plan_generation, run_generation
from judge_app.services.imports import import_bundle
from judge_app.services.judge_runs import plan_run, run_plan
from judge_app.storage import generation as generation_store
from judge_app.storage import judges as judge_store
from judge_app.storage.db import Database
from judge_app.storage.journal import CallJournal
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, answers

STALL_S = 0.5  # the first commit takes this long: workers go on meanwhile, up to the bound


def test_workers_go_on_while_a_commit_runs_up_to_the_bound_and_nothing_is_lost() -> None:
    gate = threading.Event()
    stored: list[int] = []

    def store(rows: list[dict[str, Any]]) -> None:
        gate.wait(10)  # a commit that takes long (a slow disk)
        stored.extend(r["n"] for r in rows)

    async def go() -> tuple[int, int, int]:
        writer = GroupCommit(store, concurrency=4)
        writing = asyncio.create_task(writer.run())
        sent = 0

        async def worker(numbers: Iterator[int]) -> None:
            nonlocal sent
            for n in numbers:
                await writer.acquire()
                sent += 1  # the call is paid for from here on
                await asyncio.sleep(0.001)
                writer.put({"n": n})

        numbers = iter(range(40))
        workers = asyncio.gather(*(worker(numbers) for _ in range(4)))
        await asyncio.sleep(0.3)
        stalled = sent  # everything sent while the first commit hangs
        gate.set()
        await workers
        writer.close()
        await writing
        return stalled, writer.max_unstored, writer.unstored

    stalled, most, left = asyncio.run(go())
    assert unstored_limit(4) == 4  # the calls in flight: what a SIGKILL can re-pay
    assert stalled == 4 and most == 4 and left == 0
    assert sorted(stored) == list(range(40)) and len(stored) == 40


def test_a_failed_commit_stops_every_worker_with_its_error() -> None:
    def store(rows: list[dict[str, Any]]) -> None:
        raise OSError("disk full")

    async def go() -> None:
        writer = GroupCommit(store, concurrency=2)
        writing = asyncio.create_task(writer.run())

        async def worker() -> None:
            while True:
                await writer.acquire()
                await asyncio.sleep(0)
                writer.put({})

        with pytest.raises(OSError, match="disk full"):
            await asyncio.gather(worker(), worker())
        writer.close()
        with pytest.raises(OSError, match="disk full"):
            await writing

    asyncio.run(go())


# ---------------------------------------------------------------- both runners

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL (the runner tests below)


def stalling(monkeypatch: pytest.MonkeyPatch, module: Any, name: str,
             server: FakeOpenAIServer, db: Database) -> list[int]:
    """Make the group commit's store take STALL_S on its first call, and record, before
    each commit, how many calls are paid for and not stored. The store is the module's
    function on PostgreSQL, the run's calls journal on a DuckDB file owned here (the
    append that makes a group durable, storage/journal.py)."""
    if not db.dialect.is_postgres:
        module, name = CallJournal, "append"
    original: Callable[..., Any] = getattr(module, name)
    unstored: list[int] = []
    stored = 0

    def slow(*args: Any) -> Any:
        nonlocal stored
        rows: list[dict[str, Any]] = args[-1]
        if not unstored:
            time.sleep(STALL_S)
        unstored.append(server.count - stored)
        added = original(*args)
        stored += len(rows)
        return added

    monkeypatch.setattr(module, name, slow)
    return unstored


def test_generation_never_has_more_than_the_bound_paid_and_not_stored(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=40, models=("m1", "m2")))
    with FakeOpenAIServer(answers) as server:
        unstored = stalling(monkeypatch, generation_store, "insert_calls", server, db)
        cfg = parse_model_config({"name": "gen", "model": "fake", "base_url": server.base_url,
                                  "concurrency": 3})
        summary = run_generation(db, plan_generation(db, "t1", cfg))
        assert summary.status == "done" and summary.calls_new == 40 == server.count
    assert max(unstored) == unstored_limit(3) == 3  # reached while the first commit stalled


def test_a_judge_run_never_has_more_than_the_bound_paid_and_not_stored(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=10))  # 30 pairs, 60 calls
    with FakeOpenAIServer() as server:
        unstored = stalling(monkeypatch, judge_store, "append_calls", server, db)
        cfg = parse_config({"name": "judge1", "model": "fake", "template": "overall",
                            "base_url": server.base_url, "concurrency": 3})
        summary = run_plan(db, plan_run(db, "t1", cfg))
        assert summary.status == "done" and summary.new_calls == 60 == server.count
    assert max(unstored) == unstored_limit(3) == 3
