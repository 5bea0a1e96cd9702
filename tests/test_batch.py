"""--batch (OpenAI's Batch API) for generation and judge runs, on DuckDB and PostgreSQL,
against the real fake server over HTTP: results land as an online run's, at half the price,
latency NULL; per-line errors, expired batches, the budget cap before upload, an online run
refused while a batch is open, and a run that dies while landing lands again without
duplicating anything or submitting twice."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from judge_app.errors import ValidationError
from judge_app.judges.client import JudgeCallError
from judge_app.judges.config import parse_config
from judge_app.judges.model_config import ModelConfig, parse_model_config
from judge_app.services import batches
from judge_app.services.generation import plan_generation, run_generation, run_generation_batch
from judge_app.services.imports import import_bundle
from judge_app.services.judge_runs import plan_run, run_plan, run_plan_batch
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request, answers, longer_wins
from tests.pg_server import PgServer
from tests.test_generation import multi_turn_db

N = 5
POLL = 0.02

pytestmark = pytest.mark.both_backends


@pytest.fixture
def task_db(db: Database) -> Database:
    import_bundle(db, make_bundle("t1", models=("m1", "m2")))
    return db


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(answers) as s:
        s.batch_step_s = 0.002
        yield s


def model(server: FakeOpenAIServer, name: str = "gen", **settings: Any) -> ModelConfig:
    return parse_model_config({"name": name, "model": "fake-7b", "base_url": server.base_url,
                               "input_price_per_million": 1.0,
                               "output_price_per_million": 4.0, **settings})


def rows(db: Database, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(sql, params or [])
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def batch_generate(db: Database, cfg: ModelConfig, task: str = "t1", **kw: Any) -> Any:
    return run_generation_batch(db, plan_generation(db, task, cfg), poll_s=POLL, **kw)


def test_generation_lands_as_online_at_half_the_price_with_latency_unknown(
        task_db: Database, server: FakeOpenAIServer) -> None:
    online = run_generation(task_db, plan_generation(task_db, "t1", model(server, "online")))
    # seed 1: another config hash, so nothing is taken from the online run's cache
    summary = batch_generate(task_db, model(server, "batched", seed=1))
    assert summary.status == "done" and summary.outputs_new == N and summary.failed == []
    assert server.files_created == server.batches_created == 1 and server.batch_requests == N
    assert server.count == N  # the online run's calls only: the batch made no online call
    assert summary.pairs_new == 3 * N  # against m1, m2 and the online model
    assert summary.latency_p50_ms is None and summary.ttft_p50_ms is None
    got = {r["prompt_id"]: r for r in rows(task_db, "SELECT * FROM outputs WHERE model = "
                                                    "'batched'")}
    want = {r["prompt_id"]: r for r in rows(task_db, "SELECT * FROM outputs WHERE model = "
                                                     "'online'")}
    assert sorted(got) == sorted(want)
    for prompt, out in got.items():
        ref = want[prompt]
        assert out["response_text"] == ref["response_text"]
        assert (out["input_tokens"], out["output_tokens"]) == (ref["input_tokens"],
                                                               ref["output_tokens"])
        assert out["cost_usd"] == pytest.approx(ref["cost_usd"] / 2)  # the batch price
        assert out["finish_reason"] == "stop" and out["latency_ms"] is None
        assert out["ttft_ms"] is None and ref["latency_ms"] is not None
        meta = json.loads(out["metadata"])["generation"]
        assert meta["batch_api"] is True and "batch_api" not in json.loads(
            ref["metadata"])["generation"]
        assert [t["latency_ms"] for t in meta["turns"]] == [None]
    assert summary.cost_usd == pytest.approx(online.cost_usd / 2)
    calls = rows(task_db, "SELECT latency_ms, ttft_ms, attempts FROM generation_calls "
                          "WHERE run_id = ?", [summary.run_id])
    assert len(calls) == N and all(c["latency_ms"] is None and c["ttft_ms"] is None
                                   for c in calls)
    [batch] = rows(task_db, "SELECT state, remote_status, n_calls, landed_calls, cost_usd, "
                            "input_file_id, remote_batch_id FROM api_batches")
    assert batch["state"] == "done" and batch["remote_status"] == "completed"
    assert batch["n_calls"] == batch["landed_calls"] == N
    assert batch["cost_usd"] == pytest.approx(summary.cost_usd)
    [line] = server.batches.values()
    assert line["metadata"]["judge_app_batch"] and line["completion_window"] == "24h"
    # a re-run finds nothing to do and submits nothing
    again = batch_generate(task_db, model(server, "batched", seed=1))
    assert again.status == "done" and again.prompts == 0 and server.batches_created == 1


def test_explicit_batch_prices_and_multi_turn_prompts_take_one_batch_per_turn(
        db: Database, server: FakeOpenAIServer) -> None:
    multi_turn_db(db)
    cfg = model(server, batch_input_price_per_million=0.25,
                batch_output_price_per_million=1.0)
    summary = run_generation_batch(db, plan_generation(db, "mt", cfg), poll_s=POLL)
    assert summary.status == "done" and summary.outputs_new == 3
    assert server.batches_created == 2 and server.batch_requests == 6  # turn 1, then turn 2
    [first, second] = server.batches.values()
    assert first["request_counts"]["total"] == second["request_counts"]["total"] == 3
    outs = rows(db, "SELECT response, cost_usd, input_tokens, output_tokens FROM outputs "
                    "WHERE model = 'gen'")
    for out in outs:
        assert '"Answer to turn 2' in out["response"]
        assert out["cost_usd"] == pytest.approx(
            (out["input_tokens"] * 0.25 + out["output_tokens"] * 1.0) / 1e6)


def test_per_line_errors_are_reported_and_only_they_go_in_the_next_batch(
        task_db: Database, server: FakeOpenAIServer) -> None:
    def picky(req: Request) -> Reply | str:
        if "question 2" in req.text:
            return Reply(status=400, content="this prompt is not allowed")
        return answers(req)

    server.responder = picky
    summary = batch_generate(task_db, model(server))
    assert summary.status == "stopped" and summary.outputs_new == N - 1
    assert summary.failed == [("q2", "turn 1: HTTP 400: this prompt is not allowed")]
    assert "1 failed" in summary.message and "first error: HTTP 400" in summary.message
    assert summary.batches[0]["failed"] == 1
    server.responder = answers  # fixed: running again sends only the failed line
    again = batch_generate(task_db, model(server))
    assert again.status == "done" and again.outputs_new == 1
    assert server.batches_created == 2 and server.batch_requests == N + 1


def test_an_expired_batch_lands_what_was_answered_and_says_why_the_rest_failed(
        task_db: Database, server: FakeOpenAIServer) -> None:
    server.expire_after = 2
    summary = batch_generate(task_db, model(server))
    assert summary.status == "stopped" and summary.outputs_new == 2
    assert [p for p, _ in summary.failed] == ["q2", "q3", "q4"]
    assert all("batch_expired" in why for _, why in summary.failed)
    assert "expired: 2 of 5 calls answered, 3 failed" in summary.message
    [batch] = rows(task_db, "SELECT state, remote_status, landed_calls FROM api_batches")
    assert batch == {"state": "done", "remote_status": "expired", "landed_calls": 2}
    assert server.batches_created == 1  # the run does not re-send the expired lines itself


def test_the_budget_cap_refuses_an_over_cap_batch_before_uploading(
        task_db: Database, server: FakeOpenAIServer) -> None:
    cfg = model(server, max_tokens=1000)
    # worst case at the batch price: 5 calls x 1000 output tokens x $2/M = $0.01
    summary = batch_generate(task_db, cfg, max_cost=0.009)
    assert summary.status == "stopped" and summary.outputs_new == 0
    assert "refused: the batch of 5 calls could cost up to $0.01" in summary.message
    assert "nothing was submitted" in summary.message
    assert server.files_created == server.batches_created == 0
    assert rows(task_db, "SELECT count(*) AS n FROM api_batches") == [{"n": 0}]
    fits = batch_generate(task_db, cfg, max_cost=0.011)  # the online price would not fit
    assert fits.status == "done" and server.batches_created == 1


def test_an_online_run_is_refused_while_a_batch_of_its_calls_is_open(
        task_db: Database, server: FakeOpenAIServer) -> None:
    cfg = model(server)
    plan = plan_generation(task_db, "t1", cfg)
    with task_db.cursor() as cur:  # as a --batch run killed right after recording its intent
        batches.store.create_batch(cur, {
            "batch_key": "k1", "kind": "generate", "task_id": "t1",
            "config_hash": plan.config_hash, "run_id": "r1", "endpoint": plan.endpoint,
            "calls": [], "input_jsonl": "", "estimated_cost_usd": 0.0})
    with pytest.raises(ValidationError, match="still open .*--batch to land it first"):
        run_generation(task_db, plan)
    assert server.count == 0


def test_a_run_dying_while_landing_lands_again_without_duplicates_or_a_second_batch(
        task_db: Database, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    real = batches.store.update_batch

    def die_before_done(cur: Any, key: str, **fields: Any) -> None:
        if fields.get("state") == "done":
            raise KeyboardInterrupt  # as a kill after the answers are stored
        real(cur, key, **fields)

    monkeypatch.setattr(batches.store, "update_batch", die_before_done)
    with pytest.raises(KeyboardInterrupt):
        batch_generate(task_db, model(server))
    assert rows(task_db, "SELECT count(*) AS n FROM generation_calls") == [{"n": N}]
    monkeypatch.setattr(batches.store, "update_batch", real)
    summary = batch_generate(task_db, model(server))
    assert summary.status == "done" and summary.batches_resumed == 1
    assert server.batches_created == server.files_created == 1 and server.batch_requests == N
    assert rows(task_db, "SELECT count(*) AS n FROM generation_calls") == [{"n": N}]
    assert rows(task_db, "SELECT count(*) AS n FROM outputs WHERE model = 'gen'") == [{"n": N}]


def judge_config(server: FakeOpenAIServer, name: str, **extra: Any) -> Any:
    return parse_config({"name": name, "model": "fake", "template": "overall",
                         "base_url": server.base_url, "input_price_per_million": 1.0,
                         "output_price_per_million": 4.0, **extra})


def test_judge_batch_records_the_verdicts_an_online_run_records_at_half_the_price(
        db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=4))
    with FakeOpenAIServer(longer_wins) as server:
        server.batch_step_s = 0.002
        online = run_plan(db, plan_run(db, "t1", judge_config(server, "online")))
        # another max_tokens: another config hash, so the online answers are not re-used
        cfg = judge_config(server, "batched", max_tokens=1000)
        plan = plan_run(db, "t1", cfg)
        summary = run_plan_batch(db, plan, poll_s=POLL)
        assert summary.status == "done" and summary.new_calls == len(plan.calls) == 24
        assert server.batches_created == 1 and server.batch_requests == 24
        assert server.count == 24  # the online run's
    assert summary.verdicts == online.verdicts and summary.latency_p50_ms is None
    assert summary.cost_usd == pytest.approx(online.cost_usd / 2)
    got = rows(db, "SELECT pair_id, outcome, cost_usd, latency_ms, judge_run_id FROM "
                   "active_verdicts WHERE rater_id = 'batched' ORDER BY pair_id")
    want = rows(db, "SELECT pair_id, outcome, cost_usd FROM active_verdicts WHERE rater_id = "
                    "'online' ORDER BY pair_id")
    assert [(g["pair_id"], g["outcome"]) for g in got] == [(w["pair_id"], w["outcome"])
                                                           for w in want]
    assert all(g["latency_ms"] is None and g["judge_run_id"] == summary.run_id for g in got)
    assert [g["cost_usd"] for g in got] == pytest.approx([w["cost_usd"] / 2 for w in want])
    calls = rows(db, "SELECT count(*) AS n FROM judge_calls WHERE latency_ms IS NULL")
    assert calls == [{"n": 24}]


def test_a_run_dying_after_the_upload_re_uses_the_uploaded_file(
        task_db: Database, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    real = batches.store.update_batch

    def die_after_upload(cur: Any, key: str, **fields: Any) -> None:
        if fields.get("state") == "uploaded":
            raise KeyboardInterrupt  # as a kill between the upload and recording its id
        real(cur, key, **fields)

    monkeypatch.setattr(batches.store, "update_batch", die_after_upload)
    with pytest.raises(KeyboardInterrupt):
        batch_generate(task_db, model(server))
    assert server.files_created == 1 and server.batches_created == 0
    assert rows(task_db, "SELECT state FROM api_batches") == [{"state": "preparing"}]
    monkeypatch.setattr(batches.store, "update_batch", real)
    summary = batch_generate(task_db, model(server))
    assert summary.status == "done" and summary.outputs_new == N
    assert server.files_created == server.batches_created == 1


def test_postgresql_a_second_process_cannot_run_the_same_batch_at_once(
        pg_server: PgServer, server: FakeOpenAIServer) -> None:
    """PostgreSQL only: on DuckDB one process owns the file, so no second process can run."""
    task_db = open_database(pg_server.new_database())
    import_bundle(task_db, make_bundle("t1", models=("m1", "m2")))
    other = task_db.session_locks()
    assert other is not None
    cfg = model(server)
    plan = plan_generation(task_db, "t1", cfg)
    try:  # what another process running the same --batch command holds
        assert other.try_lock(f"judge_app:batch:generate:t1:{plan.config_hash}")
        with pytest.raises(ValidationError, match="another process is running a --batch"):
            run_generation_batch(task_db, plan, poll_s=POLL)
        assert server.files_created == 0
    finally:
        other.close()
    assert batch_generate(task_db, cfg).status == "done"
    task_db.close()


def test_an_endpoint_without_the_batch_api_is_named_and_leaves_no_open_batch(
        task_db: Database, server: FakeOpenAIServer) -> None:
    server.batch_api = False  # as vLLM, Ollama or llama.cpp's server
    cfg = model(server)
    with pytest.raises(JudgeCallError, match="refused .*batch.*HTTP 404") as err:
        batch_generate(task_db, cfg)
    assert err.value.fatal and server.batches_created == 0
    [batch] = rows(task_db, "SELECT state, message FROM api_batches")
    assert batch["state"] == "done" and batch["message"].startswith("not submitted: ")
    [run] = rows(task_db, "SELECT status, message FROM generation_runs")
    assert run["status"] == "failed" and "HTTP 404" in run["message"]
    online = run_generation(task_db, plan_generation(task_db, "t1", cfg))  # not refused
    assert online.status == "done" and online.outputs_new == N


def test_more_calls_than_one_batch_holds_go_in_several_batches(
        task_db: Database, server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batches, "MAX_BATCH_CALLS", 2)
    summary = batch_generate(task_db, model(server))
    assert summary.status == "done" and summary.outputs_new == N
    assert [b["calls"] for b in summary.batches] == [2, 2, 1]
    assert server.batches_created == 3 and server.batch_requests == N


def test_a_cancelled_batch_lands_what_it_answered_and_names_the_rest(
        task_db: Database, server: FakeOpenAIServer) -> None:
    server.batch_gate.clear()
    done: list[Any] = []
    worker = threading.Thread(target=lambda: done.append(batch_generate(task_db, model(server))))
    worker.start()
    deadline = time.monotonic() + 60
    while server.batch_polls < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    request = urllib.request.Request(f"{server.base_url}/batches/batch_fake0001/cancel",
                                     data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:  # as the OpenAI console does
        assert json.loads(answer.read())["status"] == "cancelling"
    server.batch_gate.set()
    worker.join(60)
    [summary] = done
    assert summary.status == "stopped" and "batch batch_fake0001 cancelled" in summary.message
    assert summary.failed and all("batch_cancelled" in why for _, why in summary.failed)
    assert summary.outputs_new + len(summary.failed) == N and server.batches_created == 1


def test_judge_lines_that_failed_are_listed_with_their_pair_and_reason(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=2))

    def refuses_q1(req: Request) -> Reply | str:
        return Reply(status=400, content="context too long") if "question 1" in req.text \
            else longer_wins(req)

    with FakeOpenAIServer(refuses_q1) as server:
        server.batch_step_s = 0.002
        plan = plan_run(db, "t1", judge_config(server, "batched"))
        summary = run_plan_batch(db, plan, poll_s=POLL)
    assert summary.status == "stopped" and summary.failed_calls == 6 == summary.new_calls
    assert all(f.startswith("pair ") and "shown first): HTTP 400: context too long" in f
               for f in summary.failures)
    assert sum(summary.verdicts.values()) == 3  # the pairs of question 0
