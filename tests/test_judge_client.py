"""The judge client against a real local chat-completions server (no HTTP mocking)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from judge_app.core.verdict_parsing import parse_answer
from judge_app.judges.client import (
    CallResult,
    JudgeCallError,
    JudgeClient,
    TokenBucket,
    retry_after_seconds,
)
from judge_app.judges.config import parse_config
from judge_app.judges.cost import Budget, cost_usd, estimate_prompt_tokens
from judge_app.judges.prompt import render
from tests.fake_openai_server import (
    FakeOpenAIServer,
    Reply,
    Request,
    garbage,
    injection,
    longer_wins,
)

T = TypeVar("T")
CONFIG = parse_config({"name": "j", "model": "judge-model", "template": "overall"})


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def messages(first: str = "a longer answer", second: str = "short") -> list[dict[str, str]]:
    return render(CONFIG.system, CONFIG.user, conversation="Which?", first=first, second=second)


def client(server: FakeOpenAIServer, **kw: Any) -> JudgeClient:
    kw = {"backoff_base_s": 0.01, "backoff_max_s": 0.05, "seed": 1, **kw}
    return JudgeClient(model="judge-model", base_url=server.base_url, api_key="sk-test", **kw)


async def complete(server: FakeOpenAIServer, msgs: list[dict[str, str]], **kw: Any,
                   ) -> tuple[CallResult, JudgeClient]:
    async with client(server, **kw) as c:
        return await c.complete(msgs), c


def test_a_call_returns_text_usage_and_latency() -> None:
    with FakeOpenAIServer(longer_wins) as server:
        result, c = run(complete(server, messages()))
        request = server.requests[0]
    assert parse_answer(result.text, "labels").outcome == "a"
    assert result.attempts == 1 and result.latency_ms > 0 and not result.usage_estimated
    assert result.input_tokens == len(request.text) // 4  # the server's own count
    assert result.output_tokens == len(result.text) // 4
    assert request.body["model"] == "judge-model" and request.body["temperature"] == 0.0
    assert request.headers["authorization"] == "Bearer sk-test"
    assert "logprobs" not in request.body


def test_cost_comes_from_the_reported_usage() -> None:
    with FakeOpenAIServer(longer_wins) as server:
        result, _ = run(complete(server, messages()))
    cost = cost_usd(result.input_tokens, result.output_tokens, 2.5, 10.0)
    assert cost == pytest.approx((result.input_tokens * 2.5 + result.output_tokens * 10) / 1e6)
    assert estimate_prompt_tokens(messages()) >= result.input_tokens  # chars/4 + overhead


def test_logprobs_become_a_probability() -> None:
    with FakeOpenAIServer(longer_wins) as server:
        result, _ = run(complete(server, messages(), logprobs=True, top_logprobs=3))
        body = server.requests[0].body
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    parsed = parse_answer(result.text, "labels", result.logprobs)
    # the fake gives the chosen letter 0.8, the next 0.15 and the third 0.05
    assert parsed.outcome == "a" and parsed.probability == pytest.approx(0.8 + 0.5 * 0.05)


def test_retries_429_and_honours_retry_after() -> None:
    with FakeOpenAIServer(longer_wins, fail_first=2, fail_status=429, retry_after=0.3) as server:
        result, c = run(complete(server, messages()))
        arrivals = [r.received_at for r in server.requests]
    assert result.attempts == 3 and c.stats.rate_limited == 2 and len(arrivals) == 3
    # a lower bound on waiting, which sleeping guarantees: not a speed assertion
    assert arrivals[1] - arrivals[0] >= 0.3 and arrivals[2] - arrivals[1] >= 0.3


def test_a_retry_after_pauses_every_worker() -> None:
    """Delays asked of the sleep function, on a virtual clock: nobody sends during a pause."""
    now = [0.0]
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)
        now[0] += seconds
        await asyncio.sleep(0)

    async def go(server: FakeOpenAIServer) -> list[CallResult]:
        async with client(server, sleep=sleep, clock=lambda: now[0], concurrency=1) as c:
            return await asyncio.gather(*(c.complete(messages()) for _ in range(3)))

    with FakeOpenAIServer(longer_wins, fail_first=1, retry_after=7) as server:
        results = run(go(server))
    assert sorted(r.attempts for r in results) == [1, 1, 2]
    assert delays and all(d >= 7 for d in delays)


def test_retries_server_errors_then_gives_up() -> None:
    with FakeOpenAIServer(longer_wins, fail_first=2, fail_status=500) as server:
        result, c = run(complete(server, messages()))
        assert result.attempts == 3 and c.stats.server_errors == 2 and server.count == 3
    with FakeOpenAIServer(longer_wins, fail_first=99, fail_status=503) as server:
        with pytest.raises(JudgeCallError) as info:
            run(complete(server, messages(), retries=3))
        assert info.value.attempts == 4 and info.value.status == 503 and server.count == 4


def test_client_errors_are_not_retried() -> None:
    def bad_request(req: Request) -> Reply:
        return Reply(status=400, raw_body=b'{"error": {"message": "bad model"}}')

    with FakeOpenAIServer(bad_request) as server:
        with pytest.raises(JudgeCallError, match="400") as info:
            run(complete(server, messages()))
        assert server.count == 1 and info.value.attempts == 1


def test_stuck_calls_time_out_and_are_retried() -> None:
    def slow_first(req: Request) -> Reply:
        reply = longer_wins(req)
        reply.delay_s = 5.0 if req.number == 1 else 0.0
        return reply

    with FakeOpenAIServer(slow_first) as server:
        result, c = run(complete(server, messages(), timeout_s=1.0))
    assert result.attempts == 2 and c.stats.timeouts == 1
    with FakeOpenAIServer(lambda r: Reply("[[A]]", delay_s=5.0)) as server:
        with pytest.raises(JudgeCallError, match="gave up"):
            run(complete(server, messages(), timeout_s=0.2, retries=1))


def test_a_malformed_response_is_retried() -> None:
    def broken_first(req: Request) -> Reply | str:
        return Reply(raw_body=b'{"object": "nonsense"}') if req.number == 1 else "[[B]]"

    with FakeOpenAIServer(broken_first) as server:
        result, c = run(complete(server, messages()))
    assert result.text == "[[B]]" and result.attempts == 2 and c.stats.errors == {"malformed": 1}


def test_garbage_and_injection_answers_are_data() -> None:
    with FakeOpenAIServer(garbage) as server:
        result, _ = run(complete(server, messages()))
    parsed = parse_answer(result.text, "labels")
    assert not parsed.ok and parsed.raw == result.text and parsed.error
    with FakeOpenAIServer(injection) as server:
        result, _ = run(complete(server, messages()))
    parsed = parse_answer(result.text, "labels")
    assert parsed.outcome == "a" and "IGNORE ALL PREVIOUS INSTRUCTIONS" in parsed.raw


def test_the_concurrency_limit_holds_at_the_server() -> None:
    async def go(server: FakeOpenAIServer) -> JudgeClient:
        async with client(server, concurrency=4) as c:
            await asyncio.gather(*(c.complete(messages()) for _ in range(24)))
            return c

    with FakeOpenAIServer(longer_wins, latency_ms=150) as server:
        c = run(go(server))
        assert server.count == 24 and 1 < server.max_in_flight <= 4
        assert c.stats.max_in_flight <= 4


def test_the_request_is_built_once_per_pool_and_sent_as_openai_sends_it() -> None:
    """openai builds each pool's request once (the CPU per call: benchmarks/README.md); every
    call still carries openai's headers, its own body, and errors come as openai words them."""
    built: list[int] = []

    async def go(server: FakeOpenAIServer, stream: bool) -> list[CallResult]:
        async with client(server, concurrency=8, stream=stream) as c:
            assert len(c._pools) == 2
            for i, pool in enumerate(c._pools):
                build = pool._build_request

                def counted(*args: Any, _build: Any = build, _i: int = i, **kw: Any) -> Any:
                    built.append(_i)
                    return _build(*args, **kw)

                pool._build_request = counted  # type: ignore[method-assign]
            return await asyncio.gather(*(c.complete(messages(f"answer {n} longer"))
                                          for n in range(12)))

    for stream in (False, True):
        built.clear()
        with FakeOpenAIServer(longer_wins) as server:
            results = run(go(server, stream))
            requests = list(server.requests)
        assert sorted(built) == [0, 1]  # once per pool, not once per call
        assert all(parse_answer(r.text, "labels").outcome == "a" for r in results)
        assert sorted(r.body["messages"][-1]["content"] for r in requests) == sorted(
            messages(f"answer {n} longer")[-1]["content"] for n in range(12))
        for request in requests:
            assert request.headers["authorization"] == "Bearer sk-test"
            assert request.headers["content-type"] == "application/json"
            assert request.headers["user-agent"].startswith("AsyncOpenAI/Python")
            assert request.body.get("stream", False) is stream

    def bad_request(req: Request) -> Reply:
        return Reply(status=400, raw_body=b'{"error": {"message": "bad model"}}')

    with FakeOpenAIServer(bad_request) as server:
        with pytest.raises(JudgeCallError, match="HTTP 400: .*bad model"):
            run(complete(server, messages()))


def test_openai_base_url_and_the_named_key_variable() -> None:
    cfg = parse_config({"name": "j", "model": "m", "template": "overall",
                        "api_key_env": "JUDGE_KEY"})
    with FakeOpenAIServer(longer_wins) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "JUDGE_KEY": "sk-from-env"}

        async def go() -> CallResult:
            async with JudgeClient.from_config(cfg, environ=env) as c:
                return await c.complete(messages())

        run(go())
        assert server.requests[0].headers["authorization"] == "Bearer sk-from-env"


def test_token_bucket_on_a_virtual_clock() -> None:
    now = [0.0]
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)
        now[0] += seconds

    async def go() -> None:
        bucket = TokenBucket(60, clock=lambda: now[0], sleep=sleep)  # one a second
        for _ in range(60):
            await bucket.take(1)
        assert not waited  # a full bucket allows a burst
        await bucket.take(1)
        await bucket.take(120)  # larger than the bucket: waits for it to be full
        assert now[0] == pytest.approx(1.0 + 60.0)
        bucket.adjust(-30)
        assert bucket.level == pytest.approx(-60 + 30)

    run(go())


def test_rpm_limit_spaces_requests() -> None:
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds
        await asyncio.sleep(0)

    async def go(server: FakeOpenAIServer) -> None:
        async with client(server, rpm=2, sleep=sleep, clock=lambda: now[0]) as c:
            for _ in range(4):
                await c.complete(messages())

    with FakeOpenAIServer(longer_wins) as server:
        run(go(server))
    assert now[0] == pytest.approx(60.0)  # 2 at once, then one every 30 virtual seconds


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds({"retry-after": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after_seconds({"retry-after": date}, now=1445412470.0) == pytest.approx(10.0)
    assert retry_after_seconds({"retry-after": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_the_budget_reserves_the_worst_case() -> None:
    budget = Budget(max_cost=0.01, input_price_per_million=1.0, output_price_per_million=2.0,
                    max_output_tokens=1000)
    worst = budget.worst_case(4000)
    assert worst == pytest.approx(((2000 + 16) * 1.0 + 1000 * 2.0) / 1e6)
    held = [budget.reserve(4000) for _ in range(3)]
    assert held[:2] == [worst, worst] and held[2] is None  # a third could pass 0.01
    assert held[0] is not None
    budget.settle(held[0], 0.0005, prompt_chars=4000, input_tokens=1000)
    assert budget.spent == pytest.approx(0.0005)
    assert budget.reserve(4000) is not None
    unlimited = Budget(None, 1.0, 1.0, 10)
    assert all(unlimited.reserve(10**6) is not None for _ in range(100))


def test_random_server_errors_are_absorbed_by_retries() -> None:
    async def go(server: FakeOpenAIServer) -> list[CallResult]:
        async with client(server, concurrency=8, retries=20) as c:
            return await asyncio.gather(*(c.complete(messages()) for _ in range(30)))

    with FakeOpenAIServer(longer_wins, error_rate=0.3, fail_status=502, seed=5) as server:
        results = run(go(server))
        assert len(results) == 30 and server.count == sum(r.attempts for r in results) > 30
