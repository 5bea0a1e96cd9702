"""The live arena, the use-case: a rater types a prompt, two of the task's arena models
answer it (streamed), the rater votes blind, the names show after the vote.

A battle is stored as any other data: its prompt (category 'arena'), the two outputs (with
latency, time to first token, tokens and cost, as `judge-app generate` stores them:
services/generation.output_row), their pair and the rater's assignment, written in one
transaction once both answers are in; the vote is an ordinary verdict
(services/verdicts.record_verdict). So leaderboards, agreement and exports count arena votes,
and the 'arena' category slices them out. The arena_battles row (migration 007) holds what
only the arena needs: the models drawn, the money reserved and paid, self-identification.

Limits, checked before any call: the prompt length, the rater's calls in the last hour and
the task's arena budget (judges/cost.Budget's rule: both calls' worst case must fit).

A server that dies (or hangs) while answering cannot finish its battle, so nothing it holds
may depend on it: a live server gives a turn up after arena.answer_timeout_s, and any server
that starts a battle or shows the page gives up, in the database, battles still answering a
while after that (arena.abandon_after_s), which releases their reservation. No thread runs
in the background: this works the same with one app server or many on PostgreSQL.

Blinding: the page only ever gets the two texts (LiveBattle.texts); which model is on which
side stays in this module and the database until the vote.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from judge_app.core import arena as rules
from judge_app.core.clock import stored_now
from judge_app.core.ids import canonical_json, output_id, pair_id, text_hash
from judge_app.core.types import Message
from judge_app.errors import NotFoundError, PermissionDenied, ValidationError
from judge_app.judges.client import CallResult, ChatClient, JudgeCallError
from judge_app.judges.cost import Budget, cost_usd
from judge_app.judges.model_config import ModelConfig, parse_model_config
from judge_app.services import generation, sessions, verdicts
from judge_app.services.queue import load_task_config
from judge_app.storage import arena as store
from judge_app.storage.db import WRITE_CONFLICTS, Database

_start_lock = threading.Lock()  # budget and rate checks and the battle row: one at a time


class ArenaLimit(ValidationError):
    """A battle refused before any call: rate limit or budget."""


@dataclass(frozen=True)
class Battle:
    """A started battle. Server-side only: the page must never show `left` or `right`."""

    battle_id: str
    task_id: str
    rater_id: str
    prompt_id: str
    prompt: str
    left: ModelConfig
    right: ModelConfig
    reserved_usd: float
    # A follow-up (multi-turn): the earlier user turns, each side's earlier answered calls
    # (as services/generation.output_row takes them) and what they cost.
    earlier_prompts: tuple[str, ...] = ()
    earlier_calls: tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]] = ((), ())
    earlier_cost: float = 0.0
    answer_timeout_s: float = 300.0  # the task's arena.answer_timeout_s


@dataclass
class LiveBattle:
    """The two answers as they stream in, shared by the calling thread and the page."""

    pieces: tuple[list[str], list[str]] = field(default_factory=lambda: ([], []))
    done: threading.Event = field(default_factory=threading.Event)
    outcome: BattleOutcome | None = None
    error: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, side: int, piece: str | None) -> None:
        with self._lock:
            if piece is None:  # the attempt started again
                self.pieces[side].clear()
            else:
                self.pieces[side].append(piece)

    def texts(self) -> tuple[str, str]:
        """Both answers so far: all a page may show before the vote."""
        with self._lock:
            return "".join(self.pieces[0]), "".join(self.pieces[1])


@dataclass(frozen=True)
class BattleOutcome:
    battle_id: str
    assignment_id: str | None  # None: a call failed, nothing to vote on
    left_text: str
    right_text: str
    self_identified: list[str]  # identity words either answer gave
    message: str = ""
    turns: tuple[tuple[str, str, str], ...] = ()  # (prompt, left answer, right answer)


def settings_for(db: Database, task_id: str) -> rules.ArenaSettings | None:
    return rules.arena_settings(load_task_config(db, task_id).arena)


def arena_tasks(db: Database, tasks: list[str]) -> list[str]:
    """Those of the tasks that have an [arena]."""
    return [t for t in tasks if settings_for(db, t) is not None]


def model_config(values: Mapping[str, Any]) -> ModelConfig:
    """A stored arena model config, checked again (answers are always streamed)."""
    config = parse_model_config({k: v for k, v in values.items() if v is not None})
    return dataclasses.replace(config, stream=True)


def start_battle(db: Database, session_id: str, task_id: str, prompt: str, *,
                 rng: random.Random | None = None) -> Battle:
    """Check the prompt and the limits, draw two models, record the battle (with both
    calls' worst-case cost reserved); no call is made yet."""
    settings = settings_for(db, task_id)
    if settings is None:
        raise NotFoundError(f"task '{task_id}' has no arena (add [arena] to its task.toml)")
    text = rules.check_prompt(prompt, settings)
    rng = rng or random.Random()
    give_up_abandoned(db, task_id, settings)  # before: their reservations are free again
    with _start_lock, db.transaction() as cur:
        store.lock_budget(cur, task_id)  # other server processes take turns here too
        rater_id = str(sessions.check(cur, session_id, task_id)["rater_id"])
        now = stored_now()
        _check_rate(cur, settings, task_id, rater_id)
        left_name, right_name = rules.draw_pair(settings, store.battles_per_model(cur, task_id),
                                                rng)
        configs = {m["name"]: model_config(m) for m in settings.models}
        left, right = configs[left_name], configs[right_name]
        reserved = _reserve(cur, settings, task_id, (left, right), len(text))
        battle = Battle(uuid.uuid4().hex, task_id, rater_id, "", text, left, right, reserved,
                        answer_timeout_s=settings.answer_timeout_s)
        battle = dataclasses.replace(battle, prompt_id=f"arena-{battle.battle_id[:16]}")
        store.insert_battle(cur, {
            "battle_id": battle.battle_id, "task_id": task_id, "rater_id": rater_id,
            "prompt_id": battle.prompt_id, "left_model": left.name, "right_model": right.name,
            "reserved_usd": reserved, "created_at": now})
    return battle


def _give_up_abandoned(cur: Any, settings: rules.ArenaSettings, task_id: str) -> int:
    """Give up the task's battles whose server died or hangs (see the module's docstring);
    their reservations stop counting against the budget at once."""
    now = stored_now()
    return store.abandon_stale(
        cur, task_id, rules.abandoned_before(settings, now),
        f"{rules.ABANDONED}: no answer {settings.abandoned_after_s:g} s after it was sent "
        "(the server answering it stopped); nothing was stored and its reservation is "
        "released", now)


def give_up_abandoned(db: Database, task_id: str,
                      settings: rules.ArenaSettings | None = None) -> int:
    """The same in a transaction of its own, so that two servers (or two pages of one)
    giving the same battle up at once cannot fail a rater's start: the one that loses the
    race (DuckDB: a write conflict) looks again and finds it given up."""
    settings = settings or settings_for(db, task_id)
    if settings is None:
        return 0
    for _ in range(5):
        try:
            with db.transaction() as cur:
                return _give_up_abandoned(cur, settings, task_id)
        except WRITE_CONFLICTS:
            continue
    return 0  # others kept giving battles up meanwhile: the next read looks again


def last_battle_notice(db: Database, session_id: str, task_id: str) -> tuple[str, str] | None:
    """What the rater should know about their latest battle when the page opens afresh (a
    reload, or a server that died mid-answer): ("warning" | "info", text), or None. Gives up
    abandoned battles first, so the answer is never a battle that will not finish."""
    settings = settings_for(db, task_id)
    if settings is None:
        return None
    give_up_abandoned(db, task_id, settings)
    with db.cursor() as cur:
        rater_id = str(sessions.check(cur, session_id, task_id)["rater_id"])
        row = store.last_battle(cur, task_id, rater_id)
    if row is None or row["voted"]:
        return None
    status, message = str(row["status"]), str(row["message"] or "")
    if status == "answering":
        waited = (stored_now() - row["turn_at"]).total_seconds()
        left = max(0.0, settings.abandoned_after_s - waited)
        return ("info", f"Your last prompt (sent {waited:.0f} s ago) is still being answered "
                "by another window or server. If that stopped, it is given up "
                f"{left:.0f} s from now and its budget released; you may type a new prompt.")
    if message.startswith(rules.ABANDONED):
        what = ("Your last follow-up" if row["pair_id"] else "Your last prompt")
        rest = (" The earlier turns stand: vote on them on the pair page."
                if row["pair_id"] else " Please type it again.")
        return ("warning", f"{what} was not answered: the server answering it stopped "
                f"before the end, so nothing of it was stored.{rest}")
    if status == "answered" and row["pair_id"]:
        return ("info", "Your last battle was answered and waits for your vote: it is "
                "offered to you on the pair page (Rate pairs).")
    return None


def _check_rate(cur: Any, settings: rules.ArenaSettings, task_id: str, rater_id: str) -> None:
    """The rater's calls in the last hour (every turn of every battle: two calls)."""
    recent = store.turns_since(cur, task_id, rater_id, stored_now() - timedelta(hours=1))
    if (recent + 1) * rules.CALLS_PER_BATTLE > settings.calls_per_hour:
        raise ArenaLimit(
            f"you reached this arena's limit of {settings.calls_per_hour} calls an hour "
            f"({settings.calls_per_hour // rules.CALLS_PER_BATTLE} prompts); try again "
            "later", field="prompt")


def _reserve(cur: Any, settings: rules.ArenaSettings, task_id: str,
             configs: tuple[ModelConfig, ModelConfig], chars: int) -> float:
    """Both calls' worst case, if it fits in the arena's budget (judges/cost.Budget's rule
    on what is spent and reserved so far); ArenaLimit if not."""
    spent, reserved = store.committed_usd(cur, task_id), 0.0
    for config in configs:
        budget = Budget(settings.max_cost_usd, config.input_price_per_million,
                        config.output_price_per_million, config.max_tokens,
                        spent=spent + reserved)
        amount = budget.reserve(chars + len(config.system))
        if amount is None:
            raise ArenaLimit(
                f"the arena's budget of ${settings.max_cost_usd:g} for this task is "
                "spent; ask your evaluation lead to raise arena.max_cost_usd", field="prompt")
        reserved += amount
    return reserved


def _messages(config: ModelConfig, prompts: list[str], answers: list[str]) -> list[Message]:
    """The side's conversation: its own earlier answers between the user turns."""
    out: list[Message] = [{"role": "system", "content": config.system}] if config.system else []
    for n, prompt in enumerate(prompts):
        out.append({"role": "user", "content": prompt})
        if n < len(answers):
            out.append({"role": "assistant", "content": answers[n]})
    return out


def _conversation(battle: Battle, side: int) -> list[Message]:
    config = (battle.left, battle.right)[side]
    answers = [str(c["answer"]) for c in battle.earlier_calls[side]]
    return _messages(config, [*battle.earlier_prompts, battle.prompt], answers)


async def _answer_both(battle: Battle, live: LiveBattle, environ: Mapping[str, str] | None,
                       ) -> list[CallResult | str]:
    async def one(side: int, config: ModelConfig) -> CallResult | str:
        try:
            async with asyncio.timeout(battle.answer_timeout_s), \
                    ChatClient.for_model(config, environ=environ, concurrency=1) as client:
                return await client.complete(_conversation(battle, side),
                                             on_delta=lambda piece: live.add(side, piece))
        except JudgeCallError as exc:
            return str(exc)
        except TimeoutError:  # past this, another server may give the battle up
            return (f"no answer within {battle.answer_timeout_s:g} s "
                    "(the task's arena.answer_timeout_s)")

    return list(await asyncio.gather(one(0, battle.left), one(1, battle.right)))


def answer_battle(db: Database, battle: Battle, live: LiveBattle | None = None, *,
                  environ: Mapping[str, str] | None = None) -> BattleOutcome:
    """Both calls at once, streamed into `live`; then the prompt, outputs, pair and the
    rater's assignment in one transaction. A failed call leaves the battle 'failed' with
    what the other call cost, and nothing to vote on."""
    live = live or LiveBattle()
    try:
        results = asyncio.run(_answer_both(battle, live, environ))
        outcome = _store(db, battle, results, environ)
    except Exception as exc:
        live.error = str(exc)
        raise
    finally:
        live.done.set()
    live.outcome = outcome
    if outcome.assignment_id is None:
        live.error = outcome.message
    return outcome


def _cost(config: ModelConfig, result: CallResult) -> float:
    return cost_usd(result.input_tokens, result.output_tokens,
                    config.input_price_per_million, config.output_price_per_million)


def _store(db: Database, battle: Battle, results: list[CallResult | str],
           environ: Mapping[str, str] | None) -> BattleOutcome:
    configs = (battle.left, battle.right)
    paid = sum(_cost(c, r) for c, r in zip(configs, results, strict=True)
               if isinstance(r, CallResult))
    failures = [r for r in results if isinstance(r, str)]
    if failures and battle.earlier_prompts:  # a follow-up failed: the earlier turns stand
        message = "the follow-up could not be answered: " + failures[0]
        with db.transaction() as cur:
            store.update_battle(cur, battle.battle_id, status="answered",
                                cost_usd=battle.earlier_cost + paid, message=message)
        texts = [r.text if isinstance(r, CallResult) else "" for r in results]
        return BattleOutcome(battle.battle_id, None, texts[0], texts[1], [], message)
    if failures:
        message = "the answer could not be had: " + failures[0]
        with db.transaction() as cur:
            store.update_battle(cur, battle.battle_id, status="failed", cost_usd=paid,
                                message=message, finished_at=stored_now())
        texts = [r.text if isinstance(r, CallResult) else "" for r in results]
        return BattleOutcome(battle.battle_id, None, texts[0], texts[1], [], message)
    answered = [r for r in results if isinstance(r, CallResult)]
    task = load_task_config(db, battle.task_id)
    settings = rules.arena_settings(task.arena)
    vendors = settings.vendors if settings else {}
    named: list[str] = []
    outputs = []
    for side, (config, result) in enumerate(zip(configs, answered, strict=True)):
        words = rules.identity_words(dataclasses.asdict(config), vendors.get(config.name, ()))
        calls = [*battle.earlier_calls[side], _call(battle, config, result, environ)]
        for call in calls:
            named += rules.names_itself(str(call["answer"]), words)
        outputs.append(_output(battle, config, calls, environ, task))
    a, b = sorted((battle.left.name, battle.right.name))
    pid = pair_id(battle.task_id, battle.prompt_id, a, b)
    pair = {"pair_id": pid, "task_id": battle.task_id, "prompt_id": battle.prompt_id,
            "output_a": output_id(battle.task_id, battle.prompt_id, a),
            "output_b": output_id(battle.task_id, battle.prompt_id, b),
            "model_a": a, "model_b": b, "gold_outcome": None}
    assignment = {"assignment_id": f"arena-{battle.battle_id}", "task_id": battle.task_id,
                  "pair_id": pid, "rater_id": battle.rater_id,
                  "left_side": "a" if battle.left.name == a else "b"}
    prompts = [*battle.earlier_prompts, battle.prompt]
    messages = canonical_json([{"role": "user", "content": p} for p in prompts])
    prompt = {"task_id": battle.task_id, "prompt_id": battle.prompt_id, "messages": messages,
              "category": rules.ARENA_CATEGORY, "reference": None,
              "metadata": canonical_json({"arena": {
                  "battle_id": battle.battle_id, "rater_id": battle.rater_id,
                  "self_identified": sorted(set(named))}}),
              "content_hash": text_hash(messages)}
    with db.transaction() as cur:
        if battle.earlier_prompts and store.has_verdict(cur, pid):
            # Given up as abandoned meanwhile and voted on as it stood: the vote's texts stay.
            message = "the follow-up came too late: the battle has a vote already"
            store.update_battle(cur, battle.battle_id, message=message,
                                cost_usd=battle.earlier_cost + paid)
            return BattleOutcome(battle.battle_id, None, answered[0].text, answered[1].text,
                                 [], message)
        if battle.earlier_prompts:  # a follow-up: the same rows, one more turn
            store.update_battle_rows(cur, prompt, outputs)
        else:
            store.insert_battle_rows(cur, prompt, outputs, pair, assignment)
        store.update_battle(cur, battle.battle_id, status="answered",
                            cost_usd=battle.earlier_cost + paid,
                            self_identified=", ".join(sorted(set(named))) or None,
                            pair_id=pid, assignment_id=assignment["assignment_id"],
                            message=None, finished_at=stored_now())
    left_answers = [str(c["answer"]) for c in battle.earlier_calls[0]] + [answered[0].text]
    right_answers = [str(c["answer"]) for c in battle.earlier_calls[1]] + [answered[1].text]
    return BattleOutcome(battle.battle_id, assignment["assignment_id"], answered[0].text,
                         answered[1].text, sorted(set(named)),
                         turns=tuple(zip(prompts, left_answers, right_answers, strict=True)))


def _call(battle: Battle, config: ModelConfig, result: CallResult,
          environ: Mapping[str, str] | None) -> dict[str, Any]:
    """One answered turn, as services/generation.output_row takes it."""
    side = 0 if config is battle.left else 1
    return {"answer": result.text, "finish_reason": result.finish_reason,
            "latency_ms": result.latency_ms, "ttft_ms": result.ttft_ms,
            "cost_usd": _cost(config, result), "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens, "response_model": result.response_model,
            "system_fingerprint": result.system_fingerprint,
            "usage_estimated": result.usage_estimated, "attempts": result.attempts,
            "call_key": text_hash(config.config_hash(environ),
                                  canonical_json(_conversation(battle, side)))}


def _output(battle: Battle, config: ModelConfig, calls: list[dict[str, Any]],
            environ: Mapping[str, str] | None, task: Any) -> dict[str, Any]:
    """The output row `judge-app generate` would store for these answered turns."""
    plan = generation.GenerationPlan(battle.task_id, task, config, config.config_hash(environ),
                                     config.shown_endpoint(environ), [], {}, {})
    row = generation.output_row(plan, battle.prompt_id, calls)
    row.pop("_flags", None)
    return row


def _earlier_calls(output: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """A stored arena output's answered turns, rebuilt from its response and metadata."""
    answers = json.loads(output["response"])
    meta = json.loads(output["metadata"])["generation"]
    calls = []
    for message, turn in zip(answers, meta["turns"], strict=True):
        calls.append({**turn, "answer": message["content"],
                      "response_model": meta["response_model"],
                      "system_fingerprint": meta["system_fingerprint"],
                      "usage_estimated": meta["usage_estimated"]})
    return tuple(calls)


def follow_up(db: Database, session_id: str, battle_id: str, prompt: str) -> Battle:
    """The next turn of a battle not voted on yet: both models answer it with their own
    earlier answers in the conversation. The same limits as a new battle apply."""
    with db.cursor() as cur:
        row = store.get_battle(cur, battle_id)
    if row is None:
        raise PermissionDenied("this battle does not belong to you")
    task_id = str(row["task_id"])
    settings = settings_for(db, task_id)
    if settings is None:
        raise NotFoundError(f"task '{task_id}' has no arena")
    text = rules.check_prompt(prompt, settings)
    give_up_abandoned(db, task_id, settings)
    with _start_lock, db.transaction() as cur:
        store.lock_budget(cur, task_id)  # other server processes take turns here too
        rater_id = str(sessions.check(cur, session_id, task_id)["rater_id"])
        row = store.get_battle(cur, battle_id)
        if row is None or row["rater_id"] != rater_id:
            raise PermissionDenied("this battle does not belong to you")
        if row["status"] != "answered" or store.has_verdict(cur, str(row["pair_id"])):
            raise ValidationError("this battle has a vote or is still answering; type a new "
                                  "prompt to start another", field="prompt")
        _check_rate(cur, settings, task_id, rater_id)
        earlier, outputs = store.battle_texts(cur, task_id, str(row["prompt_id"]))
        configs = {m["name"]: model_config(m) for m in settings.models}
        left, right = configs[str(row["left_model"])], configs[str(row["right_model"])]
        calls = (_earlier_calls(outputs[left.name]), _earlier_calls(outputs[right.name]))
        chars = len(text) + sum(len(p) for p in earlier) + sum(
            len(str(c["answer"])) for side in calls for c in side)
        reserved = _reserve(cur, settings, task_id, (left, right), chars)
        store.update_battle(cur, battle_id, status="answering", reserved_usd=reserved)
        store.insert_turn(cur, battle_id, len(earlier) + 1, task_id, rater_id, stored_now())
    return Battle(battle_id, task_id, rater_id, str(row["prompt_id"]), text, left, right,
                  reserved, tuple(earlier), calls, float(row["cost_usd"] or 0.0),
                  settings.answer_timeout_s)


def vote(db: Database, session_id: str, battle_id: str, v: verdicts.VerdictInput,
         ) -> dict[str, str]:
    """Record the rater's verdict on the battle (an ordinary verdict; a double submit stores
    it once) and return the names it reveals: {"left": ..., "right": ...}."""
    with db.cursor() as cur:
        battle = store.get_battle(cur, battle_id)
    if battle is None or battle["assignment_id"] != v.assignment_id:
        raise PermissionDenied("this battle does not belong to you")
    verdicts.record_verdict(db, session_id, v)  # checks the session and the rater
    with db.transaction() as cur:
        store.update_battle(cur, battle_id, status="voted")
    return {"left": str(battle["left_model"]), "right": str(battle["right_model"])}
