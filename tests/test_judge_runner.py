"""Judge batches on a real DuckDB file against the real fake server: cache, budget, verdicts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from judge_app.errors import NotFoundError, ValidationError
from judge_app.judges.config import JudgeConfig, parse_config
from judge_app.services import judges, queue, raters
from judge_app.services.imports import import_bundle
from judge_app.services.judge_runs import RunSummary, plan_run, run_plan
from judge_app.storage.db import Database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request, first_wins, garbage

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

N_PAIRS = 15  # make_bundle: 5 prompts x 3 models; the later model's answer is longer


@pytest.fixture
def task_db(db: Database) -> Database:
    import_bundle(db, make_bundle("t1"))
    return db


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as s:
        yield s


def config(server: FakeOpenAIServer, **settings: Any) -> JudgeConfig:
    return parse_config({"name": "judge1", "model": "fake", "template": "overall",
                         "base_url": server.base_url, "input_price_per_million": 1.0,
                         "output_price_per_million": 4.0, **settings})


def run(db: Database, cfg: JudgeConfig, **kw: Any) -> RunSummary:
    plan_kw = {k: kw.pop(k) for k in ("models", "limit") if k in kw}
    return run_plan(db, plan_run(db, "t1", cfg, **plan_kw), **kw)


def rows(db: Database, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with db.cursor() as cur:
        return cur.execute(sql, params or []).fetchall()


def test_a_run_records_every_call_and_one_verdict_per_pair(
        task_db: Database, server: FakeOpenAIServer) -> None:
    summary = run(task_db, config(server))
    assert summary.status == "done" and summary.new_calls == 2 * N_PAIRS == server.count
    assert summary.verdicts == {"b": N_PAIRS} and summary.consistency == 1.0
    assert summary.first_position_share == 0.5 and summary.parse_failures == 0
    assert summary.latency_p50_ms is not None and summary.latency_p95_ms is not None
    calls = rows(task_db, "SELECT sum(cost_usd), sum(input_tokens), sum(output_tokens), "
                          "count(DISTINCT call_key) FROM judge_calls")[0]
    assert calls[3] == 2 * N_PAIRS
    assert summary.cost_usd == pytest.approx((calls[1] * 1.0 + calls[2] * 4.0) / 1e6)
    verdicts = rows(task_db, "SELECT outcome, consistent, left_side, source, cost_usd, "
                             "judge_config_hash, raw_answer FROM active_verdicts")
    assert len(verdicts) == N_PAIRS
    assert all(v[:4] == ("b", True, None, "judge") for v in verdicts)
    assert sum(v[4] for v in verdicts) == pytest.approx(summary.cost_usd)
    assert all("shown first: a" in v[6] and "shown first: b" in v[6] for v in verdicts)
    assert rows(task_db, "SELECT source FROM raters WHERE rater_id = 'judge1'") == [("judge",)]
    status = rows(task_db, "SELECT status, done_calls, total_calls FROM judge_runs")
    assert status == [("done", 2 * N_PAIRS, 2 * N_PAIRS)]


def test_a_finished_batch_costs_nothing_to_rerun(task_db: Database,
                                                 server: FakeOpenAIServer) -> None:
    run(task_db, config(server))
    again = run(task_db, config(server, input_price_per_million=9.0, concurrency=2,
                                name="judge1"))
    assert again.new_calls == 0 and again.cached_calls == 2 * N_PAIRS
    assert server.count == 2 * N_PAIRS and again.cost_usd == 0
    assert rows(task_db, "SELECT count(*) FROM verdicts") == [(N_PAIRS,)]


def test_editing_the_template_reruns_it_and_supersedes_old_verdicts(
        task_db: Database, server: FakeOpenAIServer) -> None:
    cfg = config(server)
    run(task_db, cfg)
    edited = config(server, user=cfg.user + "\nBe brief.")
    summary = run(task_db, edited)
    assert summary.new_calls == 2 * N_PAIRS and server.count == 4 * N_PAIRS
    active = rows(task_db, "SELECT judge_config_hash, count(*) FROM active_verdicts "
                           "GROUP BY 1")
    assert active == [(edited.config_hash(), N_PAIRS)]
    assert rows(task_db, "SELECT count(*) FROM verdicts WHERE retracts IS NOT NULL"
                ) == [(N_PAIRS,)]


def test_limit_and_models_then_only_the_rest(task_db: Database,
                                             server: FakeOpenAIServer) -> None:
    assert run(task_db, config(server), limit=3).new_calls == 6
    only = run(task_db, config(server), models=["m1", "m2"])
    assert only.planned_calls == 10 and only.new_calls + only.cached_calls == 10
    rest = run(task_db, config(server))
    assert rest.new_calls + rest.cached_calls == 2 * N_PAIRS
    assert server.count == 2 * N_PAIRS  # nothing paid twice
    assert len(rows(task_db, "SELECT pair_id FROM active_verdicts")) == N_PAIRS


def test_position_bias_becomes_inconsistent_ties(task_db: Database) -> None:
    with FakeOpenAIServer(first_wins) as server:
        summary = run(task_db, config(server))
    assert summary.verdicts == {"tie": N_PAIRS} and summary.consistency == 0.0
    assert summary.first_position_share == 1.0
    assert rows(task_db, "SELECT DISTINCT consistent FROM active_verdicts") == [(False,)]


def test_unparsable_answers_are_kept_and_not_paid_again(task_db: Database) -> None:
    with FakeOpenAIServer(garbage) as server:
        first = run(task_db, config(server))
        again = run(task_db, config(server))
    assert first.parse_failures == 2 * N_PAIRS and first.verdicts == {}
    assert again.new_calls == 0 and server.count == 2 * N_PAIRS
    kept = rows(task_db, "SELECT DISTINCT raw_answer, parse_error IS NOT NULL FROM judge_calls")
    assert kept == [(garbage(None), True)]  # type: ignore[arg-type]


def test_one_call_per_pair_in_fixed_and_random_order(task_db: Database,
                                                     server: FakeOpenAIServer) -> None:
    fixed = run(task_db, config(server, order="fixed", name="fixed"))
    assert fixed.new_calls == N_PAIRS and fixed.consistency is None
    assert rows(task_db, "SELECT DISTINCT left_side, raw_choice FROM active_verdicts "
                         "WHERE rater_id = 'fixed'") == [("a", "right")]
    once = run(task_db, config(server, order="random-once", name="once", seed=3))
    sides = dict(rows(task_db, "SELECT left_side, count(*) FROM active_verdicts "
                               "WHERE rater_id = 'once' GROUP BY 1"))
    assert set(sides) == {"a", "b"} and sum(sides.values()) == N_PAIRS
    assert once.new_calls == sides["b"]  # the A-first calls were cached by 'fixed'
    assert rows(task_db, "SELECT DISTINCT outcome FROM active_verdicts") == [("b",)]


def test_logprobs_give_each_verdict_a_probability(task_db: Database,
                                                  server: FakeOpenAIServer) -> None:
    run(task_db, config(server, logprobs=True))
    probs = {round(p, 6) for (p,) in rows(task_db, "SELECT probability FROM active_verdicts")}
    # chosen letter 0.8, tie 0.05 in both orders: P(a better) = 1 - (0.8 + 0.025)
    assert probs == {round(1 - 0.825, 6)}


def test_never_exceeds_the_budget_then_completes(task_db: Database,
                                                 server: FakeOpenAIServer) -> None:
    cfg = config(server, input_price_per_million=100.0, output_price_per_million=100.0,
                 max_tokens=50, concurrency=3)
    budget = 0.5
    stopped = run(task_db, cfg, max_cost=budget)
    assert stopped.status == "stopped" and "max-cost" in stopped.message
    assert 0 < stopped.new_calls < 2 * N_PAIRS and stopped.not_started > 0
    spent = rows(task_db, "SELECT sum(cost_usd) FROM judge_calls")[0][0]
    assert spent == pytest.approx(stopped.cost_usd) and spent <= budget
    assert spent > 0.6 * budget  # near the end calls wait for reservations to free up
    done = run(task_db, cfg)
    assert done.status == "done" and server.count == 2 * N_PAIRS
    assert done.new_calls == 2 * N_PAIRS - stopped.new_calls


def test_failed_calls_are_not_cached_and_a_bad_key_stops_the_run(task_db: Database) -> None:
    def bad_request(req: Request) -> Reply:
        return Reply(status=400, raw_body=b'{"error": {"message": "context too long"}}')

    with FakeOpenAIServer(bad_request) as server:
        failed = run(task_db, config(server, concurrency=1), limit=2)
        assert failed.status == "stopped" and failed.failed_calls == 4 == server.count
    assert rows(task_db, "SELECT count(*) FROM judge_calls") == [(0,)]

    def unauthorised(req: Request) -> Reply:
        return Reply(status=401, raw_body=b'{"error": {"message": "bad key"}}')

    with FakeOpenAIServer(unauthorised) as server:
        refused = run(task_db, config(server, concurrency=1))
        assert refused.status == "failed" and server.count == 1
        assert "rejected the API key" in refused.message and "bad key" in refused.message


def test_transient_errors_are_retried_within_a_run(task_db: Database) -> None:
    with FakeOpenAIServer(fail_first=5, fail_status=429, retry_after=0.01) as server:
        summary = run(task_db, config(server))
        assert summary.status == "done" and server.count == 2 * N_PAIRS + 5


def test_reference_templates_skip_pairs_without_a_reference(task_db: Database,
                                                            server: FakeOpenAIServer) -> None:
    plan = plan_run(task_db, "t1", config(server, template="reference-guided"))
    assert plan.calls == [] and plan.skipped_no_reference == N_PAIRS


def test_unknown_task(db: Database, server: FakeOpenAIServer) -> None:
    with pytest.raises(NotFoundError):
        plan_run(db, "nope", config(server))


def test_escalation_puts_doubtful_pairs_first_for_people(task_db: Database) -> None:
    with FakeOpenAIServer(first_wins) as server:
        run(task_db, config(server))
    result = judges.escalate(task_db, "t1", "judge1", max_pairs=4)
    assert (result.escalated, result.inconsistent, result.eligible) == (4, 4, N_PAIRS)
    again = judges.escalate(task_db, "t1", "judge1")
    assert again.escalated == N_PAIRS - 4 and again.already == 4
    escalated_first = {r[0] for r in rows(
        task_db, "SELECT pair_id FROM escalations ORDER BY pair_id LIMIT 4")}
    raters.add_rater(task_db, "ann", tasks=["t1"])
    pair = queue.next_assignment(task_db, "ann", "t1")
    assert pair is not None
    held = rows(task_db, "SELECT pair_id FROM assignments WHERE rater_id = 'ann'")[0][0]
    assert held in {r[0] for r in rows(task_db, "SELECT pair_id FROM escalations")}
    assert escalated_first


def test_unsure_verdicts_by_probability_margin(task_db: Database,
                                               server: FakeOpenAIServer) -> None:
    run(task_db, config(server, logprobs=True))  # P = 0.175: margin 0.65, sure
    assert judges.escalate(task_db, "t1", "judge1").escalated == 0
    assert judges.escalate(task_db, "t1", "judge1", margin=0.7).unsure == N_PAIRS
    with pytest.raises(NotFoundError):
        judges.escalate(task_db, "t1", "nobody")


def test_a_judge_cannot_take_a_person_s_name(task_db: Database,
                                             server: FakeOpenAIServer) -> None:
    raters.add_rater(task_db, "ann", tasks=["t1"])
    with pytest.raises(ValidationError, match="human rater") as info:
        plan_run(task_db, "t1", config(server, name="ann"))
    assert info.value.field == "name"


def test_the_same_question_in_two_pairs_is_asked_once(db: Database,
                                                      server: FakeOpenAIServer) -> None:
    """Two models gave the very same answer: their pairs against a third share the calls."""
    from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig

    prompt = Prompt("q", ({"role": "user", "content": "Say hi"},))
    outputs = [Output("q", m, ({"role": "assistant", "content": text},))
               for m, text in (("m1", "hi"), ("m2", "hi"), ("m3", "hello there"))]
    import_bundle(db, TaskBundle(TaskConfig(name="t1"), [prompt], outputs))
    summary = run(db, config(server))
    # m1-m3 and m2-m3 ask the same two questions; m1-m2 asks "hi" vs "hi" in both orders
    assert summary.planned_calls == 6 and summary.new_calls == 3 == server.count
    assert rows(db, "SELECT count(*) FROM active_verdicts") == [(3,)]


def test_the_group_commit_keeps_a_call_another_run_stored_first(
        task_db: Database, server: FakeOpenAIServer) -> None:
    """The runner's plain INSERT meets a stored key: the batch goes in again with ON
    CONFLICT, keeping the stored answer and adding the new one (storage/frames)."""
    from judge_app.storage import judges as store

    run(task_db, config(server), limit=1)
    with task_db.cursor() as cur:
        first = store.cached_calls(cur, [r[0] for r in cur.execute(
            "SELECT call_key FROM judge_calls LIMIT 1").fetchall()])
        [row] = first.values()
        other = {**row, "call_key": "k-new", "raw_answer": "new"}
        assert store.append_calls(cur, [{**row, "raw_answer": "changed"}, other]) == 1
    kept = dict(rows(task_db, "SELECT call_key, raw_answer FROM judge_calls "
                              "WHERE call_key IN (?, 'k-new')", [row["call_key"]]))
    assert kept == {row["call_key"]: row["raw_answer"], "k-new": "new"}
