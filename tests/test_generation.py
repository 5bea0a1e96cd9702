"""Generation (`judge-app generate`) on a real DuckDB file against the real fake server:
streaming, what each output records, turn-by-turn answers, pairs, cache, budget, failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
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
        task_db: Database, server: FakeOpenAIServer) -> None:
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
    other = open_database(task_db.path.parent / "import.duckdb")
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
