"""The live arena's services on a real DuckDB file against the real fake OpenAI server
(streaming): a battle stored as prompt, outputs, pair, assignment and verdict; the draw;
self-identification; the prompt, rate and budget limits; [arena] in task.toml."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from judge_app.core import arena as rules
from judge_app.core.clock import stored_now
from judge_app.errors import PermissionDenied, ValidationError
from judge_app.ingest.task_format import parse_task_config
from judge_app.services import arena
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import LeaderboardQuery, run_leaderboard
from judge_app.services.verdicts import VerdictInput
from judge_app.storage.analytics import Slice, battle_count_rows
from judge_app.storage.db import Database
from tests.arena_helpers import ARENA_MODELS, arena_bundle
from tests.conftest import signed_in
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request, answers


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(answers, stream_interval_ms=2, chunk_tokens=1) as s:
        yield s

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL


def rows(db: Database, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        cur.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_a_battle_is_stored_as_prompt_outputs_pair_and_verdict(
        db: Database, server: FakeOpenAIServer) -> None:
    import_bundle(db, arena_bundle("ar", server.base_url))
    sid = signed_in(db, "rita", tasks=["ar"])
    battle = arena.start_battle(db, sid, "ar", "  Explain tides briefly.  ",
                                rng=random.Random(1))
    assert battle.prompt == "Explain tides briefly."
    live = arena.LiveBattle()
    seen: list[tuple[int, str | None]] = []
    original = live.add
    live.add = lambda side, piece: (seen.append((side, piece)), original(side, piece))  # type: ignore[method-assign]
    outcome = arena.answer_battle(db, battle, live)
    assert live.done.is_set() and outcome.assignment_id is not None
    # Streamed: each side's text came in many pieces, not in one block at the end.
    for side in (0, 1):
        assert sum(1 for s, p in seen if s == side and p) > 3
    assert live.texts() == (outcome.left_text, outcome.right_text)
    assert "Explain tides briefly." in outcome.left_text
    assert len(server.requests) == 2
    assert all(r.body["stream"] for r in server.requests)

    [prompt] = rows(db, "SELECT * FROM prompts WHERE task_id = 'ar' AND category = 'arena'", [])
    assert json.loads(prompt["messages"]) == [{"role": "user",
                                               "content": "Explain tides briefly."}]
    assert json.loads(prompt["metadata"])["arena"]["rater_id"] == "rita"
    outputs = rows(db, "SELECT model, latency_ms, ttft_ms, cost_usd, input_tokens, "
                   "output_tokens, finish_reason, response_text FROM outputs "
                   "WHERE prompt_id = ? ORDER BY model", [battle.prompt_id])
    assert [o["model"] for o in outputs] == sorted((battle.left.name, battle.right.name))
    for out in outputs:
        assert out["latency_ms"] > 0 and out["ttft_ms"] is not None
        assert 0 < out["ttft_ms"] <= out["latency_ms"]
        assert out["cost_usd"] == pytest.approx(
            (out["input_tokens"] * 1.0 + out["output_tokens"] * 2.0) / 1e6)
        assert out["finish_reason"] == "stop"
    [pair] = rows(db, "SELECT * FROM pairs WHERE prompt_id = ?", [battle.prompt_id])
    [assignment] = rows(db, "SELECT * FROM assignments WHERE assignment_id = ?",
                        [outcome.assignment_id])
    assert assignment["rater_id"] == "rita" and assignment["pair_id"] == pair["pair_id"]
    left_model = pair["model_a"] if assignment["left_side"] == "a" else pair["model_b"]
    assert left_model == battle.left.name

    vote = VerdictInput(assignment_id=outcome.assignment_id, choice="left", verdict_id=None,
                        strength=2)
    names = arena.vote(db, sid, battle.battle_id, vote)
    assert names == {"left": battle.left.name, "right": battle.right.name}
    arena.vote(db, sid, battle.battle_id, vote)  # a double submit stores one verdict
    [verdict] = rows(db, "SELECT * FROM verdicts WHERE pair_id = ?", [pair["pair_id"]])
    winner = "a" if left_model == pair["model_a"] else "b"
    assert verdict["outcome"] == winner and verdict["strength"] == 2
    assert verdict["source"] == "human" and verdict["rater_id"] == "rita"
    [stored] = rows(db, "SELECT status, cost_usd FROM arena_battles", [])
    assert stored["status"] == "voted"
    assert stored["cost_usd"] == pytest.approx(sum(o["cost_usd"] for o in outputs))
    # The vote counts in the leaderboard's counts, and the arena slice selects it.
    with db.cursor() as cur:
        for s in (Slice("ar"), Slice("ar", category="arena")):
            counted = battle_count_rows(cur, s)
            assert sum(n for *_, n in counted) == 1
            assert {counted[0][0], counted[0][1]} == set(ARENA_MODELS[:2])


def test_another_rater_cannot_vote_on_the_battle(db: Database,
                                                 server: FakeOpenAIServer) -> None:
    import_bundle(db, arena_bundle("ar", server.base_url))
    sid = signed_in(db, "rita", tasks=["ar"])
    other = signed_in(db, "olga", tasks=["ar"])
    battle = arena.start_battle(db, sid, "ar", "Hello?")
    outcome = arena.answer_battle(db, battle)
    assert outcome.assignment_id is not None
    with pytest.raises(PermissionDenied):
        arena.vote(db, other, battle.battle_id, VerdictInput(
            assignment_id=outcome.assignment_id, choice="tie", verdict_id=None))
    assert rows(db, "SELECT * FROM verdicts WHERE source = 'human'", []) == []


def test_a_self_identifying_answer_keeps_the_vote_but_leaves_the_ratings(
        db: Database, server: FakeOpenAIServer) -> None:
    def boastful(req: Request) -> Reply | str:
        if req.body["model"] == "endpoint-id-0":
            return f"As {ARENA_MODELS[0]}, I think: {answers(req)}"
        return answers(req)

    server.responder = boastful
    import_bundle(db, arena_bundle("ar", server.base_url))
    sid = signed_in(db, "rita", tasks=["ar"])
    battle = arena.start_battle(db, sid, "ar", "Who are you?")
    outcome = arena.answer_battle(db, battle)
    assert outcome.self_identified == [ARENA_MODELS[0]]
    assert outcome.assignment_id is not None
    arena.vote(db, sid, battle.battle_id, VerdictInput(
        assignment_id=outcome.assignment_id, choice="left", verdict_id=None))
    assert len(rows(db, "SELECT * FROM verdicts WHERE source = 'human'", [])) == 1
    [stored] = rows(db, "SELECT self_identified FROM arena_battles", [])
    assert stored["self_identified"] == ARENA_MODELS[0]
    with db.cursor() as cur:
        assert battle_count_rows(cur, Slice("ar")) == []
        assert len(battle_count_rows(cur, Slice("ar", include_self_identified=True))) == 1
    # The leaderboard leaves it out unless asked (the CLI's --include-self-identified).
    with pytest.raises(ValidationError):
        run_leaderboard(db, LeaderboardQuery("ar", category="arena"))
    table = run_leaderboard(db, LeaderboardQuery("ar", category="arena",
                                                 include_self_identified=True))
    assert set(table["model"]) == set(ARENA_MODELS[:2])


def test_prompt_length_rate_limit_and_budget_refuse_before_any_call(
        db: Database, server: FakeOpenAIServer) -> None:
    import_bundle(db, arena_bundle("ar", server.base_url, max_prompt_chars=50,
                                   calls_per_hour=4))
    sid = signed_in(db, "rita", tasks=["ar"])
    with pytest.raises(ValidationError, match="at most 50"):
        arena.start_battle(db, sid, "ar", "x" * 51)
    with pytest.raises(ValidationError, match="type a prompt"):
        arena.start_battle(db, sid, "ar", "   ")
    for n in range(2):
        arena.answer_battle(db, arena.start_battle(db, sid, "ar", f"question {n}"))
    with pytest.raises(arena.ArenaLimit, match="4 calls an hour"):
        arena.start_battle(db, sid, "ar", "one more")
    assert len(server.requests) == 4
    # Another rater has their own allowance.
    other = signed_in(db, "olga", tasks=["ar"])
    arena.start_battle(db, other, "ar", "mine")

    # The budget: both calls' worst case must fit in what is left.
    import_bundle(db, arena_bundle("cheap", server.base_url, max_cost_usd=0.001))
    sid2 = signed_in(db, "rita", tasks=["ar", "cheap"])
    played = 0
    with pytest.raises(arena.ArenaLimit, match="budget"):  # noqa: PT012 - until refused
        for n in range(15):
            battle = arena.start_battle(db, sid2, "cheap", f"prompt {n}")
            arena.answer_battle(db, battle)
            played += 1
    assert played >= 1
    assert len(server.requests) == 4 + 2 * played  # the refused battle called nothing
    [paid] = rows(db, "SELECT sum(cost_usd) AS s FROM arena_battles WHERE task_id = 'cheap'",
                  [])
    assert 0 < paid["s"] <= 0.001


def test_a_failed_answer_leaves_nothing_to_vote_on(db: Database,
                                                   server: FakeOpenAIServer) -> None:
    server.responder = lambda req: (Reply(status=400, content="bad") if req.body["model"]
                                    == "endpoint-id-1" else answers(req))
    import_bundle(db, arena_bundle("ar", server.base_url))
    sid = signed_in(db, "rita", tasks=["ar"])
    outcome = arena.answer_battle(db, arena.start_battle(db, sid, "ar", "Hi"))
    assert outcome.assignment_id is None and "400" in outcome.message
    [stored] = rows(db, "SELECT status, cost_usd FROM arena_battles", [])
    assert stored["status"] == "failed" and stored["cost_usd"] > 0  # the other call was paid
    assert rows(db, "SELECT * FROM prompts WHERE category = 'arena'", []) == []


def test_the_draw_favours_models_with_few_battles_and_follows_weights() -> None:
    models = tuple({"name": n, "model": n} for n in ("a", "b", "c"))
    settings = rules.ArenaSettings(models=models)
    rng = random.Random(3)
    counts = {"a": 0, "b": 0, "c": 0}
    for _ in range(3000):
        first, second = rules.draw_pair(settings, {"a": 50, "b": 0, "c": 0}, rng)
        assert first != second
        counts[first] += 1
        counts[second] += 1
    assert counts["a"] < counts["b"] / 5 and counts["a"] < counts["c"] / 5
    weighted = rules.ArenaSettings(models=models, weights={"c": 4.0}, balance=0.0)
    counts = {"a": 0, "b": 0, "c": 0}
    for _ in range(3000):
        for name in rules.draw_pair(weighted, {"a": 50}, rng):
            counts[name] += 1
    # in 14 of 15 battles against 8 of 15 (test_the_draw_follows_its_rule_by_simulation)
    assert counts["c"] > 1.5 * counts["a"] and counts["c"] > 1.5 * counts["b"]


def test_identity_words_find_names_and_vendors_as_whole_words() -> None:
    words = rules.identity_words({"name": "house-model", "model": "openai/gpt-4o-mini"})
    assert "OpenAI" in words and "house-model" in words
    assert rules.names_itself("I was trained by openai.", words) == ["OpenAI"]
    assert rules.names_itself("Reopening the GPTQ file", words) == []


def two_model_arena(tmp_path: Path) -> tuple[Path, str]:
    """Model configs `small` and `large` beside a task.toml path, and the start of its
    `[arena]` table naming them."""
    (tmp_path / "models").mkdir()
    for n in ("small", "large"):
        (tmp_path / "models" / f"{n}.toml").write_text(
            f'name = "{n}"\nmodel = "m-{n}"\nbase_url = "http://127.0.0.1:9/v1"\n')
    base = 'name = "t"\n[arena]\nmodels = ["models/small.toml", "models/large.toml"]\n'
    return tmp_path / "task.toml", base


def test_arena_in_task_toml_reads_model_configs_and_names_bad_keys(tmp_path: Path) -> None:
    task_file, base = two_model_arena(tmp_path)
    config = parse_task_config(base + "calls_per_hour = 10\nweights = { large = 2.0 }\n",
                               str(task_file))
    settings = rules.arena_settings(config.arena)
    assert settings is not None and settings.names == ["small", "large"]
    assert settings.calls_per_hour == 10 and settings.weights == {"large": 2.0}
    cases = {
        base + "max_promt_chars = 3\n": "arena.max_promt_chars",
        'name = "t"\n[arena]\nmodels = ["models/nope.toml", "models/large.toml"]\n':
            "arena.models",
        'name = "t"\n[arena]\nmodels = ["models/small.toml"]\n': "arena.models",
        base + "weights = { huge = 2.0 }\n": "arena.weights",
        base + "calls_per_hour = 0\n": "arena.calls_per_hour",
        base + "vendors = { large = \"Acme\" }\n": "arena.vendors",
        base + "balance = -1\n": "arena.balance",
    }
    for text, field in cases.items():
        with pytest.raises(ValidationError) as info:
            parse_task_config(text, str(task_file))
        assert info.value.field == field, text
        assert "task.toml" in str(info.value)


def test_the_documented_arena_example_loads(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "arena.md").read_text()
    example = doc.split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "models").mkdir()
    for name in ("small", "large", "current"):
        (tmp_path / "models" / f"{name}.toml").write_text(
            f'name = "{name}"\nmodel = "id-{name}"\nbase_url = "http://127.0.0.1:9/v1"\n')
    config = parse_task_config(example, str(tmp_path / "task.toml"))
    settings = rules.arena_settings(config.arena)
    assert settings is not None
    assert settings.names == ["small", "large", "current"]
    assert settings.weights == {"current": 0.5} and settings.max_cost_usd == 20.0
    assert settings.vendors == {"large": ["Acme AI"]}
    assert all("api_key" not in m or m["api_key_env"] for m in settings.models)


def test_a_stream_broken_midway_starts_the_side_again_without_the_lost_text() -> None:
    """The client's on_delta hook: pieces as they come, and None when an attempt restarts,
    so a side never shows text from a broken attempt in front of the retried answer."""
    import asyncio

    from judge_app.judges.client import ChatClient

    broken = (b'data: {"choices": [{"delta": {"content": "Half an ans"}}]}\n\n'
              b'data: {"error": {"message": "overloaded"}}\n\n')
    whole = (b'data: {"choices": [{"delta": {"content": "Whole "}}]}\n\n'
             b'data: {"choices": [{"delta": {"content": "answer"}, "finish_reason": "stop"}]}'
             b'\n\ndata: [DONE]\n\n')

    def responder(req: Request) -> Reply:
        return Reply(raw_body=broken if req.number == 1 else whole)

    live = arena.LiveBattle()
    events: list[str | None] = []

    def on_delta(piece: str | None) -> None:
        events.append(piece)
        live.add(0, piece)

    async def ask(url: str) -> Any:
        async with ChatClient(model="m", base_url=url, api_key="x", stream=True,
                              backoff_base_s=0.01) as client:
            return await client.complete([{"role": "user", "content": "hi"}],
                                         on_delta=on_delta)

    with FakeOpenAIServer(responder) as server:
        result = asyncio.run(ask(server.base_url))
    assert events == [None, "Half an ans", None, "Whole ", "answer"]
    assert live.texts() == ("Whole answer", "") and result.text == "Whole answer"


def test_a_follow_up_is_answered_by_each_model_with_its_own_earlier_answer(
        db: Database, server: FakeOpenAIServer) -> None:
    import_bundle(db, arena_bundle("ar", server.base_url, calls_per_hour=4))
    sid = signed_in(db, "rita", tasks=["ar"])
    battle = arena.start_battle(db, sid, "ar", "Name a colour.")
    first = arena.answer_battle(db, battle)
    follow = arena.follow_up(db, sid, battle.battle_id, "And a fruit?")
    assert (follow.left, follow.right) == (battle.left, battle.right)
    outcome = arena.answer_battle(db, follow)
    assert outcome.assignment_id == first.assignment_id
    assert [t[0] for t in outcome.turns] == ["Name a colour.", "And a fruit?"]
    assert outcome.turns[0][1:] == (first.left_text, first.right_text)
    # Each side was sent its own earlier answer, then the follow-up.
    sent = {r.body["model"]: r.messages for r in server.requests[2:]}
    for config, earlier in ((battle.left, first.left_text), (battle.right, first.right_text)):
        assert sent[config.model] == [
            {"role": "user", "content": "Name a colour."},
            {"role": "assistant", "content": earlier},
            {"role": "user", "content": "And a fruit?"}]
    # Stored as a two-turn prompt with two-turn outputs (the same ids), figures summed.
    [prompt] = rows(db, "SELECT messages FROM prompts WHERE category = 'arena'", [])
    assert [m["content"] for m in json.loads(prompt["messages"])] == [
        "Name a colour.", "And a fruit?"]
    outputs = rows(db, "SELECT output_id, model, response, latency_ms, cost_usd, metadata "
                   "FROM outputs WHERE prompt_id = ?", [battle.prompt_id])
    assert len(outputs) == 2
    for out in outputs:
        turns = json.loads(out["metadata"])["generation"]["turns"]
        assert len(json.loads(out["response"])) == len(turns) == 2
        assert out["latency_ms"] == pytest.approx(sum(t["latency_ms"] for t in turns))
        assert out["cost_usd"] == pytest.approx(sum(t["cost_usd"] for t in turns))
    [stored] = rows(db, "SELECT status, cost_usd FROM arena_battles", [])
    assert stored["status"] == "answered"
    assert stored["cost_usd"] == pytest.approx(sum(o["cost_usd"] for o in outputs))
    # Two turns used the rater's four calls an hour.
    with pytest.raises(arena.ArenaLimit):
        arena.follow_up(db, sid, battle.battle_id, "And a third?")
    assert outcome.assignment_id is not None
    arena.vote(db, sid, battle.battle_id, VerdictInput(
        assignment_id=outcome.assignment_id, choice="tie", verdict_id=None))
    with pytest.raises(ValidationError, match="has a vote"):
        arena.follow_up(db, sid, battle.battle_id, "One more?")
    other = signed_in(db, "olga", tasks=["ar"])
    with pytest.raises(PermissionDenied):
        arena.follow_up(db, other, battle.battle_id, "Mine?")


def age_turns(db: Database, battle_id: str, seconds: float) -> None:
    """Make the battle and its turns look `seconds` older (a server that died that long
    ago)."""
    with db.transaction() as cur:
        cur.execute("SELECT turn, created_at FROM arena_turns WHERE battle_id = ?", [battle_id])
        for turn, at in cur.fetchall():
            cur.execute("UPDATE arena_turns SET created_at = ? WHERE battle_id = ? AND turn = ?",
                        [at - timedelta(seconds=seconds), battle_id, turn])
        cur.execute("SELECT created_at FROM arena_battles WHERE battle_id = ?", [battle_id])
        [(at,)] = cur.fetchall()
        cur.execute("UPDATE arena_battles SET created_at = ? WHERE battle_id = ?",
                    [at - timedelta(seconds=seconds), battle_id])


def committed(db: Database, task_id: str) -> float:
    from judge_app.storage import arena as store

    with db.cursor() as cur:
        return store.committed_usd(cur, task_id)


def test_a_battle_whose_server_died_is_given_up_and_its_budget_released(
        db: Database, server: FakeOpenAIServer) -> None:
    """A battle left 'answering' (its process died before answering) holds its reservation
    only until arena.abandon_after_s: then the next start or page gives it up, once."""
    import_bundle(db, arena_bundle("ar", server.base_url, max_cost_usd=0.0012,
                                   answer_timeout_s=30, abandon_after_s=45))
    sid = signed_in(db, "rita", tasks=["ar"])
    dead = arena.start_battle(db, sid, "ar", "Lost question")  # its server dies: no answer
    assert committed(db, "ar") == pytest.approx(dead.reserved_usd) and dead.reserved_usd > 0
    with pytest.raises(arena.ArenaLimit, match="budget"):  # the reservation holds the budget
        arena.start_battle(db, sid, "ar", "Next question")
    notice = arena.last_battle_notice(db, sid, "ar")
    assert notice is not None and notice[0] == "info" and "still being answered" in notice[1]
    age_turns(db, dead.battle_id, 40)  # not yet past abandon_after_s: still held
    assert arena.give_up_abandoned(db, "ar") == 0
    assert committed(db, "ar") == pytest.approx(dead.reserved_usd)
    age_turns(db, dead.battle_id, 10)  # 50 s: past it
    notice = arena.last_battle_notice(db, sid, "ar")  # the page, reloaded, gives it up
    assert notice is not None and notice[0] == "warning"
    assert "not answered" in notice[1] and "type it again" in notice[1]
    [row] = rows(db, "SELECT status, message, cost_usd FROM arena_battles", [])
    assert row["status"] == "failed" and row["message"].startswith("abandoned")
    assert committed(db, "ar") == 0.0
    assert arena.give_up_abandoned(db, "ar") == 0  # given up once
    # The budget is free again: the next battle starts, is answered and voted on.
    battle = arena.start_battle(db, sid, "ar", "Next question")
    outcome = arena.answer_battle(db, battle)
    assert outcome.assignment_id is not None
    arena.vote(db, sid, battle.battle_id, VerdictInput(
        assignment_id=outcome.assignment_id, choice="tie", verdict_id=None))
    assert arena.last_battle_notice(db, sid, "ar") is None  # voted: nothing to say
    assert len(rows(db, "SELECT * FROM verdicts WHERE source = 'human'", [])) == 1
    assert rows(db, "SELECT count(*) AS n FROM prompts WHERE category = 'arena'",
                [])[0]["n"] == 1  # the dead battle stored nothing
    # A draw does not count the given-up battle.
    with db.cursor() as cur:
        from judge_app.storage import arena as store

        per_model = store.battles_per_model(cur, "ar")
    assert sum(per_model.values()) == 2


def test_an_abandoned_follow_up_keeps_the_earlier_turn_and_its_vote(
        db: Database, server: FakeOpenAIServer) -> None:
    """A follow-up whose server died: the battle goes back to its answered first turn, which
    the rater can still vote on; a late answer (a server that was only slow) then changes
    nothing that was voted on, and stores no second verdict."""
    import_bundle(db, arena_bundle("ar", server.base_url, answer_timeout_s=5))
    sid = signed_in(db, "rita", tasks=["ar"])
    battle = arena.start_battle(db, sid, "ar", "Name a colour.")
    first = arena.answer_battle(db, battle)
    follow = arena.follow_up(db, sid, battle.battle_id, "And a fruit?")
    [row] = rows(db, "SELECT status, reserved_usd FROM arena_battles", [])
    assert row["status"] == "answering" and committed(db, "ar") > row["reserved_usd"]
    # The battle and its first turn are old, the follow-up just sent: it is not given up.
    old = stored_now() - timedelta(seconds=400)
    with db.transaction() as cur:
        cur.execute("UPDATE arena_battles SET created_at = ?", [old])
        cur.execute("UPDATE arena_turns SET created_at = ? WHERE turn = 1", [old])
    assert arena.give_up_abandoned(db, "ar") == 0
    age_turns(db, battle.battle_id, 66)  # abandon_after_s: 5 + 60
    notice = arena.last_battle_notice(db, sid, "ar")
    assert notice is not None and "follow-up was not answered" in notice[1]
    [row] = rows(db, "SELECT status, cost_usd, message FROM arena_battles", [])
    assert row["status"] == "answered" and row["message"].startswith("abandoned")
    assert committed(db, "ar") == pytest.approx(row["cost_usd"])  # the first turn's cost
    assert first.assignment_id is not None
    arena.vote(db, sid, battle.battle_id, VerdictInput(
        assignment_id=first.assignment_id, choice="left", verdict_id=None))
    late = arena.answer_battle(db, follow)  # the slow server finishes after all
    assert late.assignment_id is None and "has a vote" in late.message
    [prompt] = rows(db, "SELECT messages FROM prompts WHERE category = 'arena'", [])
    assert len(json.loads(prompt["messages"])) == 1  # what was voted on
    [verdict] = rows(db, "SELECT outcome FROM verdicts WHERE source = 'human'", [])
    assert verdict["outcome"] in ("a", "b")


def test_a_late_answer_after_the_battle_was_given_up_is_still_stored_once(
        db: Database, server: FakeOpenAIServer) -> None:
    """A server that was slow, not dead, answers after another gave its battle up: the
    answers it paid for are stored (once), the battle can be voted on, the cost counts."""
    import_bundle(db, arena_bundle("ar", server.base_url))
    sid = signed_in(db, "rita", tasks=["ar"])
    battle = arena.start_battle(db, sid, "ar", "Slow question")
    age_turns(db, battle.battle_id, 400)
    assert arena.give_up_abandoned(db, "ar") == 1
    outcome = arena.answer_battle(db, battle)
    assert outcome.assignment_id is not None
    [row] = rows(db, "SELECT status, message, cost_usd FROM arena_battles", [])
    assert row["status"] == "answered" and row["message"] is None and row["cost_usd"] > 0
    assert committed(db, "ar") == pytest.approx(row["cost_usd"])
    assert len(rows(db, "SELECT * FROM outputs WHERE prompt_id = ?", [battle.prompt_id])) == 2
    assert arena.give_up_abandoned(db, "ar") == 0


def test_a_live_server_gives_a_hanging_turn_up_after_answer_timeout_s(
        db: Database) -> None:
    """A stream that hangs: the server still alive ends the turn itself at
    arena.answer_timeout_s (failed, reservation released) instead of waiting forever."""
    with FakeOpenAIServer(answers, stream_interval_ms=400, chunk_tokens=1) as slow:
        import_bundle(db, arena_bundle("ar", slow.base_url, answer_timeout_s=1))
        sid = signed_in(db, "rita", tasks=["ar"])
        battle = arena.start_battle(db, sid, "ar", "Take your time")
        live = arena.LiveBattle()
        outcome = arena.answer_battle(db, battle, live)
    assert outcome.assignment_id is None and "answer_timeout_s" in outcome.message
    assert any(live.texts())  # it was streaming when it was given up
    [row] = rows(db, "SELECT status FROM arena_battles", [])
    assert row["status"] == "failed" and committed(db, "ar") == 0.0


def test_a_process_killed_mid_stream_leaves_a_battle_that_is_given_up(
        db: Database) -> None:
    """A real process answering a battle, SIGKILLed while both answers stream: its battle
    holds the budget until abandon_after_s, then the next start gives it up and goes on."""
    script = (
        "import sys\n"
        "from judge_app.services import arena\n"
        "from judge_app.storage.schema import open_database\n"
        "db = open_database(sys.argv[1])\n"
        "battle = arena.start_battle(db, sys.argv[2], 'ar', 'Explain tides slowly')\n"
        "print(battle.battle_id, flush=True)\n"
        "arena.answer_battle(db, battle)\n"
        "print('finished', flush=True)\n")
    with FakeOpenAIServer(answers, stream_interval_ms=300, chunk_tokens=1) as slow:
        import_bundle(db, arena_bundle("ar", slow.base_url, max_cost_usd=0.0012,
                                       answer_timeout_s=3, abandon_after_s=4))
        sid = signed_in(db, "rita", tasks=["ar"])
        proc = subprocess.Popen([sys.executable, "-c", script, db.target, sid],
                                cwd=Path(__file__).resolve().parents[1],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            battle_id = proc.stdout.readline().strip()
            deadline = time.monotonic() + 60
            while len(slow.requests) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(0.5)  # both answers are streaming (a piece every 0.3 s)
            assert proc.poll() is None
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        [row] = rows(db, "SELECT battle_id, status FROM arena_battles", [])
        assert row == {"battle_id": battle_id, "status": "answering"}
        assert committed(db, "ar") > 0
        with pytest.raises(arena.ArenaLimit, match="budget"):  # still held
            arena.start_battle(db, sid, "ar", "Next question")
        time.sleep(4.1)  # abandon_after_s
        battle = arena.start_battle(db, sid, "ar", "Next question")  # fits: released
        assert committed(db, "ar") == pytest.approx(battle.reserved_usd)
    [dead] = rows(db, "SELECT status, message FROM arena_battles WHERE battle_id = ?",
                  [battle_id])
    assert dead["status"] == "failed" and dead["message"].startswith("abandoned")
    assert rows(db, "SELECT * FROM prompts WHERE category = 'arena'", []) == []


def exact_pair_chances(names: list[str], weights: dict[str, float], balance: float,
                       battles: dict[str, int]) -> dict[frozenset[str], float]:
    """The rule written out: p_i = weight_i / (1 + battles_i) ** balance, normalised; the
    first model drawn by p, the second by p among the rest; an unordered pair's chance."""
    raw = {n: weights.get(n, 1.0) / (1 + battles.get(n, 0)) ** balance for n in names}
    total = sum(raw.values())
    p = {n: v / total for n, v in raw.items()}
    return {frozenset((i, j)): p[i] * p[j] / (1 - p[i]) + p[j] * p[i] / (1 - p[j])
            for n, i in enumerate(names) for j in names[n + 1:]}


@pytest.mark.parametrize(("weights", "balance", "battles"), [
    ({}, 0.0, {"a": 90, "b": 3}),                        # uniform: counts and weights ignored
    ({"c": 4.0, "d": 0.5}, 0.0, {"a": 90}),               # weights alone
    ({}, 1.0, {"a": 50, "b": 10, "c": 0, "d": 2}),       # the default: few battles favoured
    ({"a": 3.0}, 2.0, {"a": 50, "b": 10, "c": 0, "d": 2}),  # both, a stronger preference
])
def test_the_draw_follows_its_rule_by_simulation(weights: dict[str, float], balance: float,
                                                 battles: dict[str, int]) -> None:
    """20,000 seeded draws: every pair's share within 4.5 standard errors of its chance,
    and each model shown on the left about half the times it is drawn (no side hint)."""
    names = ["a", "b", "c", "d"]
    settings = rules.ArenaSettings(models=tuple({"name": n, "model": n} for n in names),
                                   weights=weights, balance=balance)
    rules.check_settings(settings)
    rng, draws = random.Random(20261202), 20_000
    pairs: dict[frozenset[str], int] = {}
    left = dict.fromkeys(names, 0)
    drawn = dict.fromkeys(names, 0)
    for _ in range(draws):
        first, second = rules.draw_pair(settings, battles, rng)
        assert first != second
        pairs[frozenset((first, second))] = pairs.get(frozenset((first, second)), 0) + 1
        left[first] += 1
        drawn[first] += 1
        drawn[second] += 1
    for pair, chance in exact_pair_chances(names, weights, balance, battles).items():
        se = (chance * (1 - chance) / draws) ** 0.5
        assert abs(pairs.get(pair, 0) / draws - chance) < 4.5 * se + 1e-9, (pair, chance)
    for n in names:
        if drawn[n] >= 200:
            share, se = left[n] / drawn[n], (0.25 / drawn[n]) ** 0.5
            assert abs(share - 0.5) < 4.5 * se, (n, share)
    if not weights and balance == 0:  # the uniform option: every pair a sixth
        assert all(abs(k / draws - 1 / 6) < 0.015 for k in pairs.values())


def test_a_stronger_balance_favours_models_with_few_battles_more() -> None:
    models = tuple({"name": n, "model": n} for n in ("old", "mid", "new"))
    battles = {"old": 40, "mid": 10, "new": 0}
    shares = []
    for balance in (0.0, 0.5, 1.0, 3.0):
        settings = rules.ArenaSettings(models=models, balance=balance)
        rng = random.Random(7)
        with_new = sum("new" in rules.draw_pair(settings, battles, rng) for _ in range(6000))
        shares.append(with_new / 6000)
    assert abs(shares[0] - 2 / 3) < 0.03  # uniform: in two of the three pairs
    assert shares == sorted(shares) and shares[-1] > 0.95


def test_bad_draw_and_timeout_settings_name_the_file_and_key(tmp_path: Path) -> None:
    task_file, base = two_model_arena(tmp_path)
    cases = {
        "weights = 3\n": ("arena.weights", "a table of model name"),
        "weights = { small = nan }\n": ("arena.weights", "above 0"),
        "weights = { small = inf }\n": ("arena.weights", "above 0"),
        "weights = { small = true }\n": ("arena.weights", "above 0"),
        "weights = { small = 0 }\n": ("arena.weights", "above 0"),
        'balance = "strong"\n': ("arena.balance", "between 0"),
        "balance = 11\n": ("arena.balance", "between 0"),
        "balance = nan\n": ("arena.balance", "between 0"),
        "calls_per_hour = 2.5\n": ("arena.calls_per_hour", "whole number"),
        "answer_timeout_s = 0\n": ("arena.answer_timeout_s", "seconds"),
        "answer_timeout_s = 30\nabandon_after_s = 30\n": ("arena.abandon_after_s",
                                                         "above answer_timeout_s"),
        "abandon_after_s = 100\n": ("arena.abandon_after_s", "above answer_timeout_s (300)"),
        "max_cost_usd = -1\n": ("arena.max_cost_usd", "0 or more"),
    }
    for text, (field, words) in cases.items():
        with pytest.raises(ValidationError) as info:
            parse_task_config(base + text, str(task_file))
        assert info.value.field == field, text
        assert "task.toml" in str(info.value) and words in str(info.value), str(info.value)
    config = parse_task_config(base + "balance = 0\nanswer_timeout_s = 30\n"
                               "abandon_after_s = 45\nweights = { small = 2 }\n",
                               str(task_file))
    settings = rules.arena_settings(config.arena)
    assert settings is not None and settings.abandoned_after_s == 45
    assert settings.weights == {"small": 2} and settings.balance == 0
    default = rules.arena_settings(parse_task_config(base, str(task_file)).arena)
    assert default is not None and default.abandoned_after_s == 300 + rules.ABANDON_MARGIN_S


def test_servers_giving_up_at_once_give_each_battle_up_once(
        db: Database, server: FakeOpenAIServer) -> None:
    """Four threads (each its own connection on PostgreSQL, as four app servers would) sweep
    at the same moment: three dead battles, each given up exactly once."""
    import threading

    import_bundle(db, arena_bundle("ar", server.base_url))
    sid = signed_in(db, "rita", tasks=["ar"])
    dead = [arena.start_battle(db, sid, "ar", f"lost {n}") for n in range(3)]
    alive = arena.start_battle(db, sid, "ar", "still answering")
    for battle in dead:
        age_turns(db, battle.battle_id, 400)
    barrier = threading.Barrier(4)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        barrier.wait()
        try:
            counts.append(arena.give_up_abandoned(db, "ar"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sum(counts) == 3
    statuses = {r["battle_id"]: r["status"] for r in rows(
        db, "SELECT battle_id, status FROM arena_battles", [])}
    assert statuses == {**{b.battle_id: "failed" for b in dead}, alive.battle_id: "answering"}
    assert committed(db, "ar") == pytest.approx(alive.reserved_usd)
