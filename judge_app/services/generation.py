"""Generation runs, the use-case: answer every prompt of a task that a model has no output
for, through its OpenAI-compatible endpoint, and store each answer as an output of that model
(with its pairs against the other models' outputs of the prompt, as an import makes them).
The CLI (`judge-app generate`) comes in here; judges/ holds the parts that know no database
(the model config, the one chat client both judges and generation use, cost and budget).

The guarantees of judge runs (services/judge_runs.py), for the same reasons:
- every answered call is stored (group commit, judges/group_commit.py) before it counts; a
  worker hands its answer to the writer (one commit shared by every answer that arrived
  meanwhile), and a call holds one of `concurrency` slots from before it is sent until its
  answer is stored, so a SIGKILL re-pays at most `concurrency` calls; a re-run re-uses
  every stored answer (the cache key is the config hash and the exact messages sent,
  core/generation.call_key). On a DuckDB file this process owns, "stored" is a line
  fdatasync'd in the run's calls journal (storage/journal.py), moved into DuckDB about once a
  second and replayed by the file's next owner after a kill; an output is written only once
  the calls it is made of are in DuckDB;
- a call starts only if the budget holds even if it and every call in flight cost their worst
  case (judges/cost.Budget);
- output ids are derived from task, prompt and model (core/ids.output_id) and pair ids from
  the pair's outputs, so a re-run never duplicates an output or a pair.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from judge_app.core import generation as gen
from judge_app.core.clock import stored_now
from judge_app.core.ids import canonical_json, output_id, text_hash
from judge_app.core.pairing import generate_pairs
from judge_app.core.redact import redact
from judge_app.core.terminal import shown
from judge_app.core.types import Message, TaskConfig
from judge_app.core.vocabulary import RunStatus
from judge_app.errors import JudgeAppError
from judge_app.judges.batch_api import BatchApi
from judge_app.judges.client import ChatClient, JudgeCallError
from judge_app.judges.cost import Budget, BudgetGate, cost_usd, estimate_prompt_tokens
from judge_app.judges.group_commit import GroupCommit, Row
from judge_app.judges.model_config import ModelConfig
from judge_app.judges.owner import current_owner, owner_alive
from judge_app.services import batches
from judge_app.services.budgets import SharedBudget, task_scope
from judge_app.services.judge_runs import CLAIM_POLL_S, CLAIM_PREFIX
from judge_app.services.queue import load_task_config
from judge_app.storage import generation as store
from judge_app.storage.db import Database, SessionLocks
from judge_app.storage.journal import CallJournal, flush_when_due, open_journal

PROGRESS_INTERVAL_S = 1.0
# finished outputs (and their pairs) are written this often; fewer, larger groups cost less
# CPU per output (measured: every 0.5 s 0.40 ms, every 2 s 0.26 ms)
OUTPUT_INTERVAL_S = 1.0
NOTICE_INTERVAL_S = 10.0  # "retrying because ..." at most this often per kind of error


# ---------------------------------------------------------------- the plan

@dataclass
class PromptJob:
    prompt_id: str
    turns: gen.Turns
    cached_turns: int  # leading turns already answered (their keys chain on the answers)


@dataclass
class Estimate:
    prompts: int
    calls: int  # turns to send (not cached)
    cached_calls: int
    input_tokens: int  # of the messages known before the run (earlier answers not counted)
    max_input_tokens: int  # with every earlier answer at max_tokens
    max_output_tokens: int
    input_cost_usd: float
    max_cost_usd: float


@dataclass
class GenerationPlan:
    task_id: str
    task: TaskConfig
    config: ModelConfig
    config_hash: str
    endpoint: str  # credentials masked
    jobs: list[PromptJob]
    cached: dict[str, dict[str, Any]]
    models_by_prompt: dict[str, list[str]]

    @property
    def calls(self) -> int:
        return sum(len(j.turns.questions) for j in self.jobs)

    @property
    def cached_calls(self) -> int:
        return sum(j.cached_turns for j in self.jobs)

    def estimate(self) -> Estimate:
        cfg = self.config
        tokens = worst = calls = 0
        for job in self.jobs:
            known = job.turns.head + job.turns.questions[:1]
            for n, question in enumerate(job.turns.questions):
                if n:
                    known = [*known, {"role": "assistant", "content": ""}, question]
                if n < job.cached_turns:
                    continue
                calls += 1
                tokens += estimate_prompt_tokens(known)
                worst += (n - job.cached_turns) * cfg.max_tokens
        max_output = calls * cfg.max_tokens
        return Estimate(
            prompts=len(self.jobs), calls=calls, cached_calls=self.cached_calls,
            input_tokens=tokens, max_input_tokens=tokens + worst, max_output_tokens=max_output,
            input_cost_usd=cost_usd(tokens, 0, cfg.input_price_per_million, 0.0),
            max_cost_usd=cost_usd(tokens + worst, max_output, cfg.input_price_per_million,
                                  cfg.output_price_per_million),
        )


def plan_generation(db: Database, task_id: str, config: ModelConfig, *,
                    limit: int | None = None, environ: Mapping[str, str] | None = None,
                    ) -> GenerationPlan:
    """The prompts of the task with no output of this model, and which of their turns are
    answered already (cached from an earlier or killed run)."""
    task = load_task_config(db, task_id)  # NotFoundError for an unknown task
    config_hash = config.config_hash(environ)
    with db.cursor() as cur:
        prompts = store.prompts_to_answer(cur, task_id, config.name)
        cached = store.cached_calls(cur, config_hash)
        models = store.models_by_prompt(cur, task_id)
    if limit is not None:
        prompts = prompts[:limit]
    jobs = []
    for prompt in prompts:
        turns = gen.turns(prompt["messages"], config.system)
        jobs.append(PromptJob(prompt["prompt_id"], turns, _cached_turns(turns, config_hash,
                                                                        cached)))
    return GenerationPlan(task_id, task, config, config_hash, config.shown_endpoint(environ),
                          jobs, cached, models)


def _cached_turns(turns: gen.Turns, config_hash: str, cached: dict[str, Any]) -> int:
    conversation = list(turns.head)
    for n, question in enumerate(turns.questions):
        conversation.append(question)
        row = cached.get(gen.call_key(config_hash, conversation))
        if row is None:
            return n
        conversation.append({"role": "assistant", "content": row["answer"]})
    return len(turns.questions)


# ---------------------------------------------------------------- outputs and pairs

def output_row(plan: GenerationPlan, prompt_id: str, calls: list[dict[str, Any]],
               ) -> dict[str, Any]:
    """A finished prompt's output row from its answered turns (stored or new)."""
    cfg, task_id = plan.config, plan.task_id
    response = canonical_json([{"role": "assistant", "content": c["answer"]} for c in calls])
    flags = sorted({f for c in calls for f in gen.flags(c["answer"], c["finish_reason"])})
    finish = next((c["finish_reason"] for c in reversed(calls)
                   if c["finish_reason"] not in ("stop", None)), calls[-1]["finish_reason"])
    last = calls[-1]
    # A Batch API answer has no latency: the output's is then unknown (NULL), not a guess
    latency = (None if any(c["latency_ms"] is None for c in calls)
               else sum(float(c["latency_ms"]) for c in calls))
    numbers = (latency, sum(float(c["cost_usd"]) for c in calls),
               sum(int(c["input_tokens"]) for c in calls),
               sum(int(c["output_tokens"]) for c in calls))
    model_version = last["response_model"] or cfg.model
    batch = {"batch_api": True} if latency is None else {}  # why latency is unknown
    metadata = canonical_json({"generation": {**batch,
        "config_hash": plan.config_hash, "endpoint": plan.endpoint,
        "request": cfg.request_settings(), "response_model": last["response_model"],
        "system_fingerprint": last["system_fingerprint"], "flags": flags,
        "usage_estimated": any(bool(c["usage_estimated"]) for c in calls),
        "turns": [{k: c[k] for k in ("latency_ms", "ttft_ms", "input_tokens", "output_tokens",
                                      "cost_usd", "finish_reason", "attempts", "call_key")}
                  for c in calls],
    }})
    return {
        "output_id": output_id(task_id, prompt_id, cfg.name), "task_id": task_id,
        "prompt_id": prompt_id, "model": cfg.name, "model_version": model_version,
        "response": response, "response_text": "\n\n".join(c["answer"] for c in calls),
        "latency_ms": numbers[0], "cost_usd": numbers[1], "input_tokens": numbers[2],
        "output_tokens": numbers[3], "metadata": metadata,
        "content_hash": text_hash(response, model_version, *numbers, metadata),
        "ttft_ms": calls[0]["ttft_ms"], "finish_reason": finish, "_flags": flags,
    }


def design_pairs(task_id: str, config: TaskConfig, models_by_prompt: Mapping[str, list[str]],
                 ) -> list[dict[str, Any]]:
    """The pairs the task's design makes from these outputs, as rows: the rule an import
    follows (core/pairing.generate_pairs, ids from core/ids)."""
    return [{"pair_id": p.pair_id, "task_id": task_id, "prompt_id": p.prompt_id,
             "output_a": output_id(task_id, p.prompt_id, p.model_a),
             "output_b": output_id(task_id, p.prompt_id, p.model_b),
             "model_a": p.model_a, "model_b": p.model_b, "gold_outcome": None}
            for p in generate_pairs(task_id, config, models_by_prompt)]


# ---------------------------------------------------------------- the run

@dataclass
class GenerationSummary:
    run_id: str
    status: RunStatus
    message: str = ""
    prompts: int = 0  # planned: prompts without an output of the model
    outputs_new: int = 0
    pairs_new: int = 0
    calls_planned: int = 0
    calls_cached: int = 0
    calls_new: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (prompt_id, reason)
    not_started: int = 0  # prompts left unanswered without a failure (budget, a fatal stop)
    flags: dict[str, int] = field(default_factory=dict)  # flag -> outputs carrying it
    input_tokens: int = 0  # of this run's new calls
    output_tokens: int = 0
    cost_usd: float = 0.0  # paid in this run
    latency_p50_ms: float | None = None  # per new call
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None
    elapsed_s: float = 0.0
    endpoint: str = ""
    retries: dict[str, int] = field(default_factory=dict)
    batches: list[dict[str, Any]] = field(default_factory=list)  # --batch: one per batch
    batches_resumed: int = 0  # batches an earlier (killed) run had submitted


class _Run:
    """One execution of a plan; holds the state its workers and its writer share."""

    def __init__(self, db: Database, plan: GenerationPlan, *, max_cost: float | None,
                 progress: bool, client_factory: Callable[[], ChatClient]) -> None:
        self.db, self.plan, self.max_cost = db, plan, max_cost
        self.client_factory = client_factory
        cfg = plan.config
        self.budget = Budget(max_cost, cfg.input_price_per_million,
                             cfg.output_price_per_million, cfg.max_tokens)
        self.run_id = uuid.uuid4().hex
        self.results: dict[str, dict[str, Any]] = dict(plan.cached)
        self.models = {k: list(v) for k, v in plan.models_by_prompt.items()}
        self.answered: dict[str, dict[str, Any]] = {}  # this run's answers, stored or not yet
        self.calling: dict[str, asyncio.Future[dict[str, Any] | None]] = {}  # key -> its call
        # finished prompts: (output row, its call keys); written once every call is stored
        self.pending_outputs: list[tuple[dict[str, Any], list[str]]] = []
        self.writer: GroupCommit | None = None  # made in execute(), in the event loop
        self.workers_done = asyncio.Event()
        self.gate = BudgetGate(self.budget)  # the judges' admission rule
        self.finished_workers = False
        self.stop_reason = ""
        self.fatal = False
        self.failed: list[tuple[str, str]] = []
        self.new_calls: list[dict[str, Any]] = []
        self.outputs: list[dict[str, Any]] = []
        self.pairs_new = 0
        self.retries: dict[str, int] = {}
        self._noticed: dict[str, float] = {}
        self.bar = tqdm(total=plan.calls - plan.cached_calls, unit="call", file=sys.stderr,
                        disable=not progress, dynamic_ncols=True)
        # PostgreSQL: other processes may answer the same prompts now; a call is claimed (a
        # lock every process sees) before it is paid for, as in judge runs
        self.claims: SessionLocks | None = None
        self.adopted = 0
        self.journal: CallJournal | None = None  # DuckDB file owned here: storage/journal.py

    # Workers ---------------------------------------------------------------
    async def work(self, client: ChatClient, jobs: Any) -> None:
        for job in jobs:
            if self.stop_reason:
                return
            conversation: list[Message] = list(job.turns.head)
            answered = []
            for n, question in enumerate(job.turns.questions, start=1):
                conversation.append(question)
                key = gen.call_key(self.plan.config_hash, conversation)
                row = self.results.get(key) or self.answered.get(key)
                if row is None:
                    # The next turn may be sent before this answer is stored: the writer
                    # stores in arrival order (one statement a group), so a stored turn
                    # always has its earlier turns stored, and a resume never re-asks them.
                    row = await self.call_once(client, job.prompt_id, n, conversation, key)
                if row is None:
                    break
                answered.append(row)
                conversation.append({"role": "assistant", "content": row["answer"]})
            else:
                self.pending_outputs.append((output_row(self.plan, job.prompt_id, answered),
                                             [r["call_key"] for r in answered]))

    async def call_once(self, client: ChatClient, prompt_id: str, turn: int,
                        messages: list[Message], key: str) -> dict[str, Any] | None:
        """The call, unless a worker is already making the same one (two prompts with the
        same text): then its answer, paid once."""
        waiting = self.calling.get(key)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future: asyncio.Future[dict[str, Any] | None] = (
            asyncio.get_running_loop().create_future())
        self.calling[key] = future
        row = None
        try:
            row = await self.claimed_call(client, prompt_id, turn, messages, key)
        finally:
            del self.calling[key]
            future.set_result(row)
        return row

    async def claimed_call(self, client: ChatClient, prompt_id: str, turn: int,
                           messages: list[Message], key: str) -> dict[str, Any] | None:
        """The call under its claim: waits while another process pays for it, and takes the
        answer another process stored meanwhile instead of paying again."""
        claims = self.claims
        if claims is None:
            return await self.call(client, prompt_id, turn, messages, key)
        lock = CLAIM_PREFIX + key
        while not await asyncio.to_thread(claims.try_lock, lock):
            await asyncio.sleep(CLAIM_POLL_S)
        handed = False  # to the writer, which lets the claim go once the answer is stored
        try:
            stored = await asyncio.to_thread(self._stored_call, key)
            if stored is not None:
                self.results[key] = stored
                self.adopted += 1
                self.bar.update(1)
                return stored
            row = await self.call(client, prompt_id, turn, messages, key)
            handed = row is not None
            return row
        finally:
            if not handed:
                await asyncio.to_thread(claims.unlock, lock)

    def _stored_call(self, key: str) -> dict[str, Any] | None:
        with self.db.cursor() as cur:
            return store.stored_call(cur, key)

    async def call(self, client: ChatClient, prompt_id: str, turn: int,
                   messages: list[Message], key: str) -> dict[str, Any] | None:
        """One paid call, handed to the writer (stored soon after; the call's slot is held
        until then); None when it failed or may not start."""
        if self.fatal:  # the key, the model or the host is refused: every call would fail
            return None
        writer = self.writer
        assert writer is not None
        await writer.acquire()  # held until the answer is stored (the SIGKILL bound)
        try:
            row = await self._pay(client, prompt_id, turn, messages, key)
        except BaseException:
            writer.release()
            raise
        if row is None:
            writer.release()
            return None
        self.answered[key] = row
        writer.put(row)
        return row

    async def _pay(self, client: ChatClient, prompt_id: str, turn: int,
                   messages: list[Message], key: str) -> dict[str, Any] | None:
        cfg = self.plan.config
        chars = sum(len(str(m.get("content", ""))) for m in messages)
        reserved = await self.gate.admit(chars, lambda: bool(self.stop_reason))
        if reserved is None:
            self.stop_reason = self.stop_reason or (
                f"stopped before the call that could exceed --max-cost ${self.max_cost:g}")
            return None
        try:
            result = await client.complete(list(messages))
        except JudgeCallError as exc:
            await self.gate.settle(reserved, 0.0)
            self.failed.append((prompt_id, f"turn {turn}: {exc}"))
            if exc.fatal and not self.fatal:
                self.fatal = True
                self.stop_reason = f"stopped: {exc}"
            return None
        cost = cost_usd(result.input_tokens, result.output_tokens,
                        cfg.input_price_per_million, cfg.output_price_per_million)
        await self.gate.settle(reserved, cost, prompt_chars=chars,
                               input_tokens=result.input_tokens)
        return {
            "call_key": key, "run_id": self.run_id, "config_hash": self.plan.config_hash,
            "model": cfg.name, "endpoint": self.plan.endpoint, "task_id": self.plan.task_id,
            "prompt_id": prompt_id, "turn": turn, "answer": result.text,
            "finish_reason": result.finish_reason, "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens, "usage_estimated": result.usage_estimated,
            "cost_usd": cost, "latency_ms": result.latency_ms, "ttft_ms": result.ttft_ms,
            "response_model": result.response_model,
            "system_fingerprint": result.system_fingerprint, "attempts": result.attempts,
            "created_at": stored_now(),
        }

    def notice_retry(self, kind: str, message: str) -> None:
        self.retries[kind] = self.retries.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._noticed.get(kind, -NOTICE_INTERVAL_S) >= NOTICE_INTERVAL_S:
            self._noticed[kind] = now
            tqdm.write(shown(f"generate: {message}", one_line=True), file=sys.stderr)

    # Writers ---------------------------------------------------------------
    def _stored(self, calls: list[Row]) -> None:
        """Counted only now that they are stored."""
        for row in calls:
            self.results[row["call_key"]] = row
        self.new_calls.extend(calls)
        self.bar.update(len(calls))
        self.bar.set_postfix_str(f"${self.budget.spent:.4f}", refresh=False)

    async def write_outputs(self) -> None:
        """Finished outputs and their new pairs, in one transaction about every
        OUTPUT_INTERVAL_S, off the calls' path: an output is rebuilt from its stored calls
        for free, so a kill before this write loses nothing paid."""
        while not self.finished_workers:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.workers_done.wait(), OUTPUT_INTERVAL_S)
            await flush_when_due(self.journal)
            await self.flush_outputs()

    def _in_db(self, key: str) -> bool:
        return key in self.results and (self.journal is None or self.journal.in_db(key))

    async def flush_outputs(self) -> None:
        """The finished outputs whose calls are all stored (an output is never kept without
        the answers it is made of); the others wait for the next flush."""
        outputs: list[dict[str, Any]] = []
        waiting: list[tuple[dict[str, Any], list[str]]] = []
        for out, keys in self.pending_outputs:
            if all(self._in_db(k) for k in keys):
                outputs.append(out)
            else:
                waiting.append((out, keys))
        self.pending_outputs = waiting
        if outputs:
            self.pairs_new += await asyncio.to_thread(self._store_outputs, outputs)
            self.outputs.extend(outputs)

    def _store_calls(self, calls: list[Row]) -> None:
        """One group of answers (the writer's thread): one statement, atomic without
        BEGIN/COMMIT; then the calls' claims go (PostgreSQL), never before. A DuckDB file
        owned here: one fdatasync'd line of the run's journal instead."""
        if self.journal is not None:
            self.journal.append("generation_calls", calls)
            return
        self._store_direct("generation_calls", calls)
        if self.claims is not None:
            for row in calls:
                self.claims.unlock(CLAIM_PREFIX + row["call_key"])

    def _store_direct(self, table: str, calls: list[Row]) -> None:
        """The group commit itself: one autocommit statement."""
        with self.db.cursor() as cur:
            store.insert_calls(cur, calls)

    def _store_outputs(self, outputs: list[dict[str, Any]]) -> int:
        touched = set()
        for out in outputs:
            models = self.models.setdefault(out["prompt_id"], [])
            if out["model"] not in models:
                models.append(out["model"])
            touched.add(out["prompt_id"])
        task = self.plan.task
        scope = self.models if task.design == "sampled" else {
            p: self.models[p] for p in touched}
        pairs = design_pairs(self.plan.task_id, task, scope)
        rows = [{k: v for k, v in o.items() if not k.startswith("_")} for o in outputs]
        with self.db.transaction() as cur:
            return store.insert_outputs(cur, rows, pairs)

    async def report_progress(self) -> None:
        while not self.finished_workers:
            await asyncio.sleep(PROGRESS_INTERVAL_S)
            await asyncio.to_thread(self._update_progress)

    def _update_progress(self) -> None:
        with self.db.transaction() as cur:
            store.update_run(cur, self.run_id, done_outputs=len(self.outputs),
                             new_calls=len(self.new_calls), failed_calls=len(self.failed),
                             cost_usd=self.budget.spent)

    async def execute(self, concurrency: int) -> None:
        jobs = iter(self.plan.jobs)
        client = self.client_factory()
        self.workers_done = asyncio.Event()
        writer = self.writer = GroupCommit(self._store_calls, on_stored=self._stored,
                                           concurrency=concurrency)
        writing = asyncio.create_task(writer.run())
        outputs = asyncio.create_task(self.write_outputs())
        reporter = asyncio.create_task(self.report_progress())
        try:
            async with client:
                await asyncio.gather(*(self.work(client, jobs) for _ in range(concurrency)))
        finally:
            writer.close()
            try:
                await writing
            finally:
                self.finished_workers = True
                self.workers_done.set()
                try:
                    await outputs
                    await flush_when_due(self.journal, final=True)
                    await self.flush_outputs()  # what finished during the last write
                finally:
                    reporter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reporter


def run_generation(db: Database, plan: GenerationPlan, *, max_cost: float | None = None,
                   concurrency: int | None = None, progress: bool = False,
                   environ: Mapping[str, str] | None = None,
                   client_factory: Callable[[], ChatClient] | None = None,
                   ) -> GenerationSummary:
    """Answer the plan's prompts and store the outputs; returns the summary."""
    cfg = plan.config
    secrets = cfg.secrets(environ)
    to_call = plan.calls - plan.cached_calls
    if to_call:
        cfg.api_key(environ)  # a missing key fails before anything is recorded
    workers = concurrency or cfg.concurrency
    run = _Run(db, plan, max_cost=max_cost, progress=progress,
               client_factory=client_factory or (lambda: ChatClient.for_model(
                   cfg, environ=environ, concurrency=workers, on_retry=run.notice_retry)))
    if to_call:
        batches.refuse_if_open(db, "generate", plan.task_id, plan.config_hash)
    _start_run_row(db, plan, run, max_cost)
    started = time.monotonic()
    status: RunStatus = "stopped"
    message = "interrupted"
    try:
        if plan.jobs:
            run.claims = db.session_locks()
            if run.claims is None:
                run.journal = open_journal(db, run.run_id, run._store_direct)
            if max_cost is not None:  # the cap holds with every capped run on the task now
                run.gate.ledger = SharedBudget.join(db, task_scope(plan.task_id), run.run_id,
                                                    max_cost)
            asyncio.run(run.execute(workers))
        done = {o["prompt_id"] for o in run.outputs}
        missing = len(plan.jobs) - len(done)
        status = "done" if missing == 0 else "failed" if run.fatal else "stopped"
        message = run.stop_reason or (
            f"{len(run.failed)} calls failed; first error: {run.failed[0][1]}" if run.failed
            else "")
    except JudgeAppError as exc:
        status, message = "failed", str(exc)
        raise
    finally:
        message = redact(message, secrets)
        run.bar.close()
        if run.claims is not None:
            run.claims.close()
        if isinstance(run.gate.ledger, SharedBudget):
            run.gate.ledger.leave()
        _finish_run_row(db, run, status, message)
    return _summarise(run, status, message, time.monotonic() - started, secrets)


def _start_run_row(db: Database, plan: GenerationPlan, run: _Run, max_cost: float | None,
                   ) -> None:
    cfg = plan.config
    with db.transaction() as cur:
        for dead in store.list_runs(cur, plan.task_id):  # killed runs cannot say so themselves
            if dead["status"] == "running" and not owner_alive(dead):
                store.update_run(cur, dead["run_id"], status="stopped", message=(
                    f"interrupted: its process is gone; resumed by run {run.run_id}"))
        store.create_run(cur, {
            "run_id": run.run_id, "task_id": plan.task_id, "model": cfg.name,
            "config_hash": plan.config_hash, "config": cfg.describe(),
            "total_prompts": len(plan.jobs), "max_cost_usd": max_cost,
            "endpoint": plan.endpoint, **current_owner(),
        })


def _finish_run_row(db: Database, run: _Run, status: RunStatus, message: str) -> None:
    with db.transaction() as cur:
        store.update_run(cur, run.run_id, status=status, message=message,
                         done_outputs=len(run.outputs), new_calls=len(run.new_calls),
                         failed_calls=len(run.failed), cost_usd=run.budget.spent,
                         finished_at=stored_now())


def list_runs(db: Database, task_id: str | None = None) -> list[dict[str, Any]]:
    """Generation runs, newest first; a 'running' row whose process is gone is reported as
    'interrupted' (the same judge-app generate command resumes it from the stored answers)."""
    with db.cursor() as cur:
        runs = store.list_runs(cur, task_id)
    for run in runs:
        if run["status"] == "running" and not owner_alive(run):
            run["status"] = "interrupted"
            run["message"] = ("interrupted: its process is gone; run the same judge-app "
                              "generate command again to resume from the stored answers")
    return runs


def _summarise(run: _Run, status: RunStatus, message: str, elapsed: float,
               secrets: list[str]) -> GenerationSummary:
    plan = run.plan
    latencies = [float(c["latency_ms"]) for c in run.new_calls if c["latency_ms"] is not None]
    ttfts = [float(c["ttft_ms"]) for c in run.new_calls if c["ttft_ms"] is not None]
    flags: dict[str, int] = {}
    for out in run.outputs:
        for flag in out["_flags"]:
            flags[flag] = flags.get(flag, 0) + 1
    return GenerationSummary(
        run_id=run.run_id, status=status, message=message, prompts=len(plan.jobs),
        outputs_new=len(run.outputs), pairs_new=run.pairs_new, calls_planned=plan.calls,
        calls_cached=plan.cached_calls, calls_new=len(run.new_calls),
        failed=[(p, redact(r, secrets)) for p, r in run.failed],
        not_started=len(plan.jobs) - len(run.outputs) - len({p for p, _ in run.failed}),
        flags=dict(sorted(flags.items())),
        input_tokens=sum(int(c["input_tokens"]) for c in run.new_calls),
        output_tokens=sum(int(c["output_tokens"]) for c in run.new_calls),
        cost_usd=run.budget.spent, latency_p50_ms=gen.percentile(latencies, 0.5),
        latency_p95_ms=gen.percentile(latencies, 0.95),
        latency_p99_ms=gen.percentile(latencies, 0.99),
        ttft_p50_ms=gen.percentile(ttfts, 0.5), ttft_p95_ms=gen.percentile(ttfts, 0.95),
        elapsed_s=elapsed, endpoint=plan.endpoint, retries=dict(sorted(run.retries.items())),
    )


# ---------------------------------------------------------------- through the Batch API

def run_generation_batch(db: Database, plan: GenerationPlan, *, max_cost: float | None = None,
                         poll_s: float = batches.DEFAULT_POLL_S, progress: bool = False,
                         environ: Mapping[str, str] | None = None,
                         client_factory: Callable[[], ChatClient] | None = None,
                         ) -> GenerationSummary:
    """Answer the plan's prompts through the Batch API (services/batches.py: resumable, never
    submitting a call twice), at the batch price; outputs land exactly as an online run's,
    with latency and time to first token unknown (NULL). A multi-turn prompt takes one batch
    per turn: a turn is sent once the answer before it is known."""
    cfg = plan.config
    secrets = cfg.secrets(environ)
    open_row = batches.open_batch(db, "generate", plan.task_id, plan.config_hash)
    if plan.calls - plan.cached_calls or open_row is not None:
        cfg.api_key(environ)  # a missing key fails before anything is recorded
    run = _Run(db, plan, max_cost=max_cost, progress=False,
               client_factory=client_factory or (lambda: ChatClient.for_model(
                   cfg, environ=environ, concurrency=1, on_retry=run.notice_retry)))
    _start_run_row(db, plan, run, max_cost)
    price_in, price_out = batches.batch_prices(cfg)
    spec = batches.BatchSpec("generate", plan.task_id, plan.config_hash, run.run_id,
                             plan.endpoint, cfg.max_tokens, price_in, price_out, poll_s,
                             progress)
    done: set[str] = set()

    def next_calls(excluded: set[str], client: ChatClient) -> list[batches.BatchCall]:
        out: dict[str, batches.BatchCall] = {}
        for job in plan.jobs:
            conversation: list[Message] = list(job.turns.head)
            for n, question in enumerate(job.turns.questions, start=1):
                conversation.append(question)
                key = gen.call_key(plan.config_hash, conversation)
                row = run.results.get(key)
                if row is None:
                    if key not in excluded and key not in out:
                        out[key] = batches.BatchCall(
                            key, client.batch_body(list(conversation)),
                            {"prompt_id": job.prompt_id, "turn": n},
                            sum(len(str(m.get("content", ""))) for m in conversation),
                            estimate_prompt_tokens(list(conversation)))
                    break
                conversation.append({"role": "assistant", "content": row["answer"]})
        return list(out.values())

    def land(answers: list[batches.Answer]) -> None:
        rows = [{
            "call_key": a.custom_id, "run_id": run.run_id, "config_hash": plan.config_hash,
            "model": cfg.name, "endpoint": plan.endpoint, "task_id": plan.task_id,
            "prompt_id": a.context["prompt_id"], "turn": int(a.context["turn"]),
            "answer": a.result.text, "finish_reason": a.result.finish_reason,
            "input_tokens": a.result.input_tokens, "output_tokens": a.result.output_tokens,
            "usage_estimated": a.result.usage_estimated, "cost_usd": a.cost_usd,
            "latency_ms": None, "ttft_ms": None, "response_model": a.result.response_model,
            "system_fingerprint": a.result.system_fingerprint, "attempts": 1,
            "created_at": stored_now(),
        } for a in answers]
        with db.cursor() as cur:  # one statement; an answer stored before is kept as it is
            store.insert_calls(cur, rows)
        for row in rows:
            run.results.setdefault(row["call_key"], row)
        run.new_calls.extend(rows)
        outputs = []
        for job in plan.jobs:
            if job.prompt_id in done:
                continue
            answered = _answered_turns(plan, job, run.results)
            if answered is not None:
                outputs.append(output_row(plan, job.prompt_id, answered))
                done.add(job.prompt_id)
        if outputs:
            run.pairs_new += run._store_outputs(outputs)
            run.outputs.extend(outputs)

    async def execute() -> batches.BatchReport:
        async with run.client_factory() as client:
            runner = batches.BatchRunner(db, spec, BatchApi(client), land)
            return await runner.run(lambda excluded: next_calls(excluded, client), max_cost)

    started = time.monotonic()
    status: RunStatus = "stopped"
    message = "interrupted"
    report = batches.BatchReport()
    try:
        land([])  # prompts whose every turn is cached get their output now
        report = asyncio.run(execute())
        run.budget.spent = report.cost_usd
        run.failed = [(str(c.get("prompt_id")), f"turn {c.get('turn')}: {why}")
                      for c, why in report.failed]
        missing = len(plan.jobs) - len(run.outputs)
        status = "done" if missing == 0 else "stopped"
        message = "; ".join(x for x in (
            report.stop_reason, *(b["message"] for b in report.batches)) if x)
    except JudgeAppError as exc:
        status, message = "failed", str(exc)
        raise
    finally:
        message = redact(message, secrets)
        _finish_run_row(db, run, status, message)
    summary = _summarise(run, status, message, time.monotonic() - started, secrets)
    summary.batches = report.batches
    summary.batches_resumed = report.resumed
    return summary


def _answered_turns(plan: GenerationPlan, job: PromptJob, results: Mapping[str, Any],
                    ) -> list[dict[str, Any]] | None:
    """The job's answered turns in order, when every turn is answered."""
    conversation: list[Message] = list(job.turns.head)
    answered = []
    for question in job.turns.questions:
        conversation.append(question)
        row = results.get(gen.call_key(plan.config_hash, conversation))
        if row is None:
            return None
        answered.append(row)
        conversation.append({"role": "assistant", "content": row["answer"]})
    return answered
