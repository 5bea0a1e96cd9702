"""Generation (`judge-app generate`) on DuckDB and PostgreSQL, against the real fake server:
streaming, what each output records, turn-by-turn answers, pairs, cache, budget, failures."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge_app.core.ids import output_id
from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.judges.model_config import ModelConfig, load_model_config, parse_model_config
from judge_app.services.generation import (
    GenerationSummary,
    plan_generation,
    run_generation,
)
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle
from tests.fake_openai_server import (
    SYSTEM_FINGERPRINT,
    FakeOpenAIServer,
    Reply,
    Request,
    answers,
)

N_PROMPTS = 5  # make_bundle: 5 prompts, answered by m1 and m2

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL


@pytest.fixture
def task_db(db: Database) -> Database:
    import_bundle(db, make_bundle("t1", models=("m1", "m2")))
    return db


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(answers, stream_interval_ms=2) as s:
        yield s


def model(server: FakeOpenAIServer, **settings: Any) -> ModelConfig:
    return parse_model_config({"name": "gen", "model": "fake-7b", "base_url": server.base_url,
                               "input_price_per_million": 1.0,
                               "output_price_per_million": 4.0, "seed": 7, **settings})


def generate(db: Database, cfg: ModelConfig, task: str = "t1", **kw: Any) -> GenerationSummary:
    plan_kw = {k: kw.pop(k) for k in ("limit",) if k in kw}
    return run_generation(db, plan_generation(db, task, cfg, **plan_kw), **kw)


def rows(db: Database, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(sql, params or [])
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_every_prompt_gets_an_output_with_its_figures_and_pairs_grow(
        task_db: Database, server: FakeOpenAIServer, tmp_path: Path) -> None:
    summary = generate(task_db, model(server))
    assert summary.status == "done" and summary.outputs_new == N_PROMPTS == server.count
    assert summary.pairs_new == 2 * N_PROMPTS  # gen against m1 and against m2
    assert summary.failed == [] and summary.flags == {}
    outputs = rows(task_db, "SELECT * FROM outputs WHERE model = 'gen' ORDER BY prompt_id")
    assert [o["prompt_id"] for o in outputs] == [f"q{i}" for i in range(N_PROMPTS)]
    for out, req in zip(outputs, sorted(server.requests, key=lambda r: r.text), strict=True):
        assert out["output_id"] == output_id("t1", out["prompt_id"], "gen")
        assert req.body["stream"] is True and req.body["stream_options"] == {
            "include_usage": True}
        assert req.body["seed"] == 7 and req.body["model"] == "fake-7b"
        answer = answers(req)
        assert json.loads(out["response"]) == [{"role": "assistant", "content": answer}]
        assert out["response_text"] == answer
        # tokens as the endpoint reported them (the fake counts 4 characters a token)
        assert out["input_tokens"] == max(1, len(req.text) // 4)
        assert out["output_tokens"] == max(1, len(answer) // 4)
        assert out["cost_usd"] == pytest.approx(
            (out["input_tokens"] * 1.0 + out["output_tokens"] * 4.0) / 1e6)
        assert 0 < out["ttft_ms"] <= out["latency_ms"]
        assert out["finish_reason"] == "stop" and out["model_version"] == "fake-7b"
        meta = json.loads(out["metadata"])["generation"]
        assert meta["system_fingerprint"] == SYSTEM_FINGERPRINT
        assert meta["response_model"] == "fake-7b" and meta["flags"] == []
        assert meta["request"] == {"model": "fake-7b", "temperature": 0.0, "max_tokens": 1024,
                                   "stream": True, "seed": 7}
        assert meta["config_hash"] == model(server).config_hash()
    # the pairs an import of the same outputs makes: every two models of each prompt
    pairs = rows(task_db, "SELECT pair_id, model_a, model_b, output_a, output_b FROM pairs")
    assert len(pairs) == 3 * N_PROMPTS
    other = open_database(tmp_path / "import.duckdb")
    try:
        import_bundle(other, make_bundle("t1", models=("m1", "m2", "gen")))
        assert {p["pair_id"] for p in pairs} == {
            p["pair_id"] for p in rows(other, "SELECT pair_id FROM pairs")}
    finally:
        other.close()
    run = rows(task_db, "SELECT status, total_prompts, done_outputs, new_calls, cost_usd "
                        "FROM generation_runs")
    assert run == [{"status": "done", "total_prompts": N_PROMPTS, "done_outputs": N_PROMPTS,
                    "new_calls": N_PROMPTS, "cost_usd": pytest.approx(summary.cost_usd)}]


def multi_turn_db(db: Database) -> Database:
    prompts = [Prompt(f"mt{i}", ({"role": "system", "content": "Be brief."},
                                 {"role": "user", "content": f"first question {i}"},
                                 {"role": "user", "content": f"follow-up {i}"}))
               for i in range(3)]
    outputs = [Output(p.prompt_id, "m1", ({"role": "assistant", "content": "one"},
                                          {"role": "assistant", "content": "two"}))
               for p in prompts]
    import_bundle(db, TaskBundle(TaskConfig(name="mt"), prompts, outputs))
    return db


def test_multi_turn_prompts_are_answered_turn_by_turn_with_the_models_own_answers(
        db: Database, server: FakeOpenAIServer) -> None:
    multi_turn_db(db)
    summary = generate(db, model(server, system="You are gen.", concurrency=2), task="mt")
    assert summary.status == "done" and summary.calls_new == 6 == server.count
    assert summary.outputs_new == 3 and summary.pairs_new == 3
    second = [r for r in server.requests if len(r.messages) == 4]
    assert len(second) == 3
    for req in second:
        system, q1, a1, q2 = req.messages
        assert system == {"role": "system", "content": "You are gen.\n\nBe brief."}
        assert a1["role"] == "assistant"
        assert a1["content"] == f"Answer to turn 1: here is what I think about {q1['content']}"
        assert q2["content"].startswith("follow-up")
    out = rows(db, "SELECT * FROM outputs WHERE model = 'gen' AND prompt_id = 'mt0'")[0]
    response = json.loads(out["response"])
    assert [m["content"][:17] for m in response] == ["Answer to turn 1:", "Answer to turn 2:"]
    meta = json.loads(out["metadata"])["generation"]
    assert len(meta["turns"]) == 2
    assert out["latency_ms"] == pytest.approx(sum(t["latency_ms"] for t in meta["turns"]))
    assert out["ttft_ms"] == meta["turns"][0]["ttft_ms"]
    assert out["output_tokens"] == sum(t["output_tokens"] for t in meta["turns"])


def test_answers_are_cached_by_content_across_runs_and_tasks(
        task_db: Database, server: FakeOpenAIServer) -> None:
    first = generate(task_db, model(server))
    assert first.calls_new == N_PROMPTS
    again = generate(task_db, model(server))
    assert again.status == "done" and again.prompts == 0 and server.count == N_PROMPTS
    # Another task with the same prompts: every answer is already paid for.
    import_bundle(task_db, make_bundle("t2", models=("m1",)))
    plan = plan_generation(task_db, "t2", model(server, name="gen", concurrency=1))
    assert plan.cached_calls == plan.calls == N_PROMPTS and plan.estimate().calls == 0
    reused = run_generation(task_db, plan)
    assert reused.outputs_new == N_PROMPTS and reused.calls_new == 0
    assert reused.cost_usd == 0 and server.count == N_PROMPTS
    # A new price changes nothing that is asked; a new temperature asks again.
    assert model(server, output_price_per_million=9.0).config_hash() == \
        model(server).config_hash()
    assert model(server, temperature=0.5).config_hash() != model(server).config_hash()


def test_the_budget_is_a_hard_cap_checked_before_each_call(
        task_db: Database, server: FakeOpenAIServer) -> None:
    cfg = model(server, max_tokens=100, concurrency=1, input_price_per_million=1000.0,
                output_price_per_million=1000.0)
    # A call's worst case: (10 characters / 2 + 16 + 100 tokens) at $1000 a million, $0.121;
    # its real cost (2 + 13 tokens) $0.015. So after two calls the third could break $0.15
    # and never starts.
    summary = generate(task_db, cfg, max_cost=0.15)
    assert summary.status == "stopped" and "--max-cost $0.15" in summary.message
    assert summary.outputs_new == 2 and summary.cost_usd == pytest.approx(0.030)
    assert summary.not_started == N_PROMPTS - summary.outputs_new
    assert server.count == summary.calls_new
    spent = rows(task_db, "SELECT sum(cost_usd) AS s FROM generation_calls")[0]["s"]
    assert spent == pytest.approx(summary.cost_usd)


def test_refusals_empty_and_truncated_answers_are_flagged_not_hidden(
        task_db: Database) -> None:
    def varied(req: Request) -> Reply | str:
        n = int(req.text.split()[-1])
        return {0: "I'm sorry, but I can't help with that.", 1: "",
                2: "word " * 200}.get(n, answers(req))

    with FakeOpenAIServer(varied) as server:
        summary = generate(task_db, model(server, max_tokens=20))
    assert summary.status == "done" and summary.outputs_new == N_PROMPTS
    assert summary.flags == {"empty": 1, "refusal": 1, "truncated": 1}
    stored = {r["prompt_id"]: r for r in rows(
        task_db, "SELECT prompt_id, finish_reason, response_text, metadata FROM outputs "
                 "WHERE model = 'gen'")}
    flags = {p: json.loads(r["metadata"])["generation"]["flags"] for p, r in stored.items()}
    assert flags == {"q0": ["refusal"], "q1": ["empty"], "q2": ["truncated"], "q3": [],
                     "q4": []}
    assert stored["q2"]["finish_reason"] == "length"
    assert len(stored["q2"]["response_text"]) == 80  # max_tokens 20, 4 characters a token


def test_a_failed_call_is_listed_with_its_reason_and_the_rest_go_on(
        task_db: Database) -> None:
    def rejects_q3(req: Request) -> Reply | str:
        if req.text.endswith("question 3"):
            return Reply(status=400, raw_body=b'{"error": {"message": "context too long"}}')
        return answers(req)

    with FakeOpenAIServer(rejects_q3) as server:
        summary = generate(task_db, model(server, concurrency=2))
    assert summary.status == "stopped" and summary.outputs_new == N_PROMPTS - 1
    assert len(summary.failed) == 1 and summary.failed[0][0] == "q3"
    assert "HTTP 400" in summary.failed[0][1] and "context too long" in summary.failed[0][1]
    with FakeOpenAIServer(answers) as server:  # fixed: the re-run answers only q3
        again = generate(task_db, model(server))
        assert again.prompts == 1 and again.outputs_new == 1 and server.count == 1


def test_a_rejected_key_stops_the_run_and_no_secret_is_stored(
        task_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    key = "KEYSECRET-0123456789abcdef"
    monkeypatch.setenv("GEN_KEY", key)

    def echo_key(req: Request) -> Reply:
        seen = req.headers.get("authorization", "")
        return Reply(status=401, raw_body=json.dumps(
            {"error": {"message": f"Incorrect API key provided: {seen}"}}).encode())

    for creds in ("", "alice:pw-URLSECRET@"):  # the key is sent, or the URL's credentials
        with FakeOpenAIServer(echo_key) as server:
            url = server.base_url.replace("http://", f"http://{creds}")
            summary = generate(task_db, model(server, base_url=url, api_key_env="GEN_KEY",
                                              concurrency=1))
            assert server.count == 1  # fails fast: a rejected key is rejected for all
        assert summary.status == "failed" and "rejected the API key" in summary.message
        assert summary.outputs_new == 0 and summary.not_started == N_PROMPTS - 1
    dump = json.dumps([rows(task_db, f"SELECT * FROM {t}") for t in  # noqa: S608
                       ("generation_runs", "generation_calls", "outputs")], default=str)
    text = dump + summary.message + json.dumps(summary.failed)
    basic = base64.b64encode(b"alice:pw-URLSECRET").decode()
    assert "Incorrect API key provided: Bearer ***" in dump
    assert key not in text and "pw-URLSECRET" not in text and basic not in text
    assert "http://***@127.0.0.1" in dump


def test_without_streaming_there_is_no_time_to_first_token_and_missing_usage_is_counted(
        task_db: Database) -> None:
    with FakeOpenAIServer(lambda req: Reply(answers(req), usage=False)) as server:
        summary = generate(task_db, model(server, stream=False))
        assert "stream" not in server.requests[0].body
    assert summary.status == "done" and summary.ttft_p50_ms is None
    out = rows(task_db, "SELECT ttft_ms, output_tokens, metadata FROM outputs "
                        "WHERE model = 'gen' LIMIT 1")[0]
    assert out["ttft_ms"] is None and out["output_tokens"] > 0
    assert json.loads(out["metadata"])["generation"]["usage_estimated"] is True


def test_model_config_errors_name_the_file_and_the_field(tmp_path: Any) -> None:
    path = tmp_path / "m.toml"
    for text, field in (('name = "x"\nmodel = "m"\ntemprature = 0.1\n', "temprature"),
                        ('name = "x"\nmodel = "m"\nmax_tokens = "many"\n', "max_tokens"),
                        ('name = "x"\n', "model"),
                        ('name = "x"\nmodel = "m"\napi_key_env = "sk-abc 123"\n',
                         "api_key_env"),
                        ('name = "x"\nmodel = "m"\ntemperature = 3.0\n', "temperature")):
        path.write_text(text)
        with pytest.raises(ValidationError) as err:
            load_model_config(path)
        assert err.value.field == field and str(path) in str(err.value)
    with pytest.raises(ValidationError, match="found a folder"):
        load_model_config(tmp_path)


def test_a_call_another_run_stored_first_is_kept_and_the_rest_still_land(
        task_db: Database, server: FakeOpenAIServer) -> None:
    """The group commit's fast path (plain INSERT) meets a stored key: the batch goes in
    again with ON CONFLICT, keeping the stored answer and adding the new one."""
    from judge_app.storage import generation as store

    generate(task_db, model(server), limit=1)
    first = rows(task_db, "SELECT * FROM generation_calls")[0]
    other = {**first, "call_key": "k-new", "answer": "new", "prompt_id": "q9"}
    with task_db.cursor() as cur:
        assert store.insert_calls(cur, [{**first, "answer": "changed"}, other]) == 1
    stored = {r["call_key"]: r["answer"] for r in rows(task_db, "SELECT * FROM generation_calls")}
    assert stored == {first["call_key"]: first["answer"], "k-new": "new"}


def test_prompts_with_the_same_text_are_paid_once(db: Database,
                                                  server: FakeOpenAIServer) -> None:
    prompts = [Prompt(f"dup{i}", ({"role": "user", "content": "the same question"},))
               for i in range(4)]
    outputs = [Output(p.prompt_id, "m1", ({"role": "assistant", "content": "x"},))
               for p in prompts]
    import_bundle(db, TaskBundle(TaskConfig(name="dups"), prompts, outputs))
    summary = generate(db, model(server, concurrency=4), task="dups")
    assert summary.status == "done" and summary.outputs_new == 4
    assert server.count == 1 == summary.calls_new
    texts = rows(db, "SELECT DISTINCT response_text FROM outputs WHERE model = 'gen'")
    assert len(texts) == 1


def test_the_documented_model_configs_load(tmp_path: Any) -> None:
    """Every ```toml block in docs/generation.md (OpenAI, vLLM, Ollama, llama.cpp) is a
    valid model config."""
    from pathlib import Path

    docs = Path(__file__).resolve().parents[1] / "docs" / "generation.md"
    blocks = docs.read_text().split("```toml\n")[1:]
    assert len(blocks) == 4
    for i, block in enumerate(blocks):
        path = tmp_path / f"m{i}.toml"
        path.write_text(block.split("```")[0])
        cfg = load_model_config(path)
        assert cfg.name and cfg.model
    assert [load_model_config(tmp_path / f"m{i}.toml").endpoint({}) for i in range(4)] == [
        "https://api.openai.com/v1", "http://127.0.0.1:8000/v1", "http://127.0.0.1:11434/v1",
        "http://127.0.0.1:8080/v1"]


def test_the_stream_reader_takes_crlf_events_and_retries_an_error_event() -> None:
    """Server-sent events as some servers write them (CRLF line ends), and a stream that
    reports an error instead of an answer (retried like a 5xx)."""
    import asyncio

    from judge_app.judges.client import ChatClient

    crlf = (b'data: {"model": "m-1", "choices": [{"delta": {"content": "Hel"}}]}\r\n\r\n'
            b'data: {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]}'
            b'\r\n\r\n: a comment line\r\n\r\n'
            b'data: {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}'
            b'\r\n\r\ndata: [DONE]\r\n\r\n')
    broken = b'data: {"error": {"message": "overloaded"}}\n\n'

    def responder(req: Request) -> Reply:
        return Reply(raw_body=broken if req.number == 1 else crlf)

    async def ask(url: str) -> Any:
        async with ChatClient(model="m", base_url=url, api_key="x", stream=True,
                              backoff_base_s=0.01) as client:
            return await client.complete([{"role": "user", "content": "hi"}]), client.stats

    with FakeOpenAIServer(responder) as server:
        result, stats = asyncio.run(ask(server.base_url))
    assert (result.text, result.input_tokens, result.output_tokens) == ("Hello", 3, 2)
    assert result.finish_reason == "stop" and result.response_model == "m-1"
    assert result.attempts == 2 and stats.errors == {"server_error": 1}
    assert result.ttft_ms is not None and not result.usage_estimated
