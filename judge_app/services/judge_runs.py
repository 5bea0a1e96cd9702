"""Judge runs, the use-case: plan the calls a task needs, make the ones not cached, record
verdicts. The CLI (`judge-app judge`) and the admin page (through services/judges.py) come in
here; judges/ holds the parts that know no database (config, prompt, client, plan, cost).

Safety rules, in order of importance:
- every answered call is stored (group commit, judges/group_commit.py) before it counts; a
  worker hands its answer to the writer (one commit shared by every answer that arrived
  meanwhile), and a call holds one of `concurrency` slots from before it is sent until its
  answer is stored, so a SIGKILL re-pays at most `concurrency` calls; a re-run
  re-uses everything stored. "Stored" is, for a DuckDB file this process owns, a line
  fdatasync'd in the run's calls journal (storage/journal.py), moved into DuckDB about once
  a second and replayed by the file's next owner after a kill; a verdict is written only once
  its calls are in DuckDB;
- a call starts only if the budget holds even if it and every call in flight cost their worst
  case (see judges/cost.py);
- verdict ids are derived from the judge and the call keys, so re-running never duplicates a
  verdict, and a judge's verdict made with an older template is retracted, not left standing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from judge_app.core.clock import stored_now
from judge_app.core.redact import redact
from judge_app.core.terminal import shown
from judge_app.core.verdict_parsing import parse_answer
from judge_app.core.vocabulary import RunStatus
from judge_app.errors import JudgeAppError, ValidationError
from judge_app.judges.batch_api import BatchApi
from judge_app.judges.cache_key import call_key
from judge_app.judges.client import JudgeCallError, JudgeClient
from judge_app.judges.config import JudgeConfig
from judge_app.judges.cost import Budget, BudgetGate, cost_usd, estimate_prompt_tokens
from judge_app.judges.group_commit import GroupCommit, Row
from judge_app.judges.owner import current_owner
from judge_app.judges.plan import (
    RAW_CHOICE_OF_SHOWN,
    Plan,
    PlannedCall,
    combined_verdict,
    left_sides,
    shown_order,
)
from judge_app.judges.prompt import conversation_text
from judge_app.services import batches
from judge_app.services.budgets import SharedBudget, task_scope
from judge_app.services.queue import load_task_config
from judge_app.services.verdicts import JudgeVerdict, record_judge_verdicts
from judge_app.storage import judges as store
from judge_app.storage import raters
from judge_app.storage.db import Database, SessionLocks
from judge_app.storage.journal import CallJournal, flush_when_due, open_journal

VERDICT_INTERVAL_S = 1.0
NOTICE_INTERVAL_S = 10.0  # "retrying because ..." at most this often per kind of error
CLAIM_PREFIX = "judge_app:call:"  # PostgreSQL: the lock a process holds while paying a call
CLAIM_POLL_S = 0.2  # how often a call another process is paying for is looked at again


def plan_run(db: Database, task_id: str, config: JudgeConfig, *,
             models: list[str] | None = None, limit: int | None = None,
             environ: Mapping[str, str] | None = None) -> Plan:
    load_task_config(db, task_id)  # NotFoundError for an unknown task
    with db.cursor() as cur:
        rater = raters.get_rater(cur, config.rater_id)
        pairs = store.pairs_to_judge(cur, task_id, models)
    if rater is not None and rater["source"] != "judge":
        raise ValidationError(f"'{config.rater_id}' is already the name of a {rater['source']} "
                              "rater; give the judge another name", file=config.file or None,
                              field="name")
    skipped = 0
    if config.needs_reference:
        kept = [p for p in pairs if p["reference"]]
        skipped, pairs = len(pairs) - len(kept), kept
    if limit is not None:
        pairs = pairs[:limit]
    config_hash = config.config_hash(environ)
    calls = []
    for i, pair in enumerate(pairs):
        conversation = conversation_text(pair["messages"])
        reference = pair["reference"] if config.needs_reference else None
        for side in left_sides(config, pair["pair_id"]):
            first, second = shown_order(pair, side)
            key = call_key(config_hash, conversation=conversation, first=first, second=second,
                           reference=reference)
            calls.append(PlannedCall(key, i, side))
    with db.cursor() as cur:
        cached = store.cached_calls(cur, [c.key for c in calls])
    return Plan(task_id, config, config_hash, config.shown_endpoint(environ), pairs, calls,
                cached, skipped)


# ---------------------------------------------------------------- verdicts from calls

def verdict_for_pair(plan: Plan, pair: dict[str, Any], rows: Sequence[Mapping[str, Any]],
                     run_id: str) -> JudgeVerdict | None:
    combined = combined_verdict(rows)
    if combined is None:
        return None
    cfg = plan.config
    keys = sorted(r["call_key"] for r in rows)
    seed = "\x1f".join([cfg.rater_id, pair["pair_id"], *keys])
    verdict_id = "j" + hashlib.sha256(seed.encode()).hexdigest()[:31]
    single = rows[0] if len(rows) == 1 else None
    raw_choice = single["raw_choice"] if single is not None else None
    extra = {
        "judge_run_id": run_id, "judge_model": cfg.model, "judge_endpoint": plan.endpoint,
        "judge_template": cfg.template, "judge_config_hash": plan.config_hash,
        "input_tokens": sum(int(r["input_tokens"]) for r in rows),
        "output_tokens": sum(int(r["output_tokens"]) for r in rows),
        "cost_usd": sum(float(r["cost_usd"]) for r in rows),
        "latency_ms": (None if any(r["latency_ms"] is None for r in rows)  # Batch API
                       else sum(float(r["latency_ms"]) for r in rows)),
        "raw_answer": "\n\n".join(
            f"--- shown first: {r['left_side']} ---\n{r['raw_answer']}" for r in rows),
        "raw_choice": raw_choice,
    }
    return JudgeVerdict(
        task_id=plan.task_id, pair_id=pair["pair_id"], rater_id=cfg.rater_id,
        outcome=combined.outcome, verdict_id=verdict_id,
        left_side=single["left_side"] if single is not None else None,
        probability=combined.probability, consistent=combined.consistent,
        strength=combined.strength, extra=extra,
    )


# ---------------------------------------------------------------- the run

@dataclass
class RunSummary:
    run_id: str
    status: RunStatus
    message: str = ""
    planned_calls: int = 0
    cached_calls: int = 0
    new_calls: int = 0
    failed_calls: int = 0
    not_started: int = 0
    parse_failures: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    consistency: float | None = None  # share of pairs whose two orders agreed
    first_position_share: float | None = None  # share of decided calls picking the first shown
    cost_usd: float = 0.0  # paid in this run
    total_cost_usd: float = 0.0  # of all answers behind this run's verdicts, cached included
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    skipped_no_reference: int = 0
    elapsed_s: float = 0.0
    endpoint: str = ""  # credentials masked
    retries: dict[str, int] = field(default_factory=dict)  # kind of error -> retries
    batches: list[dict[str, Any]] = field(default_factory=list)  # --batch: one per batch
    batches_resumed: int = 0  # batches an earlier (killed) run had submitted
    failures: list[str] = field(default_factory=list)  # why calls failed (first ones)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class _Run:
    """One execution of a plan; holds the state its workers and its writer share."""

    def __init__(self, db: Database, plan: Plan, *, max_cost: float | None,
                 progress: bool, client_factory: Callable[[], JudgeClient] | None) -> None:
        self.db, self.plan, self.max_cost = db, plan, max_cost
        self.client_factory = client_factory or (lambda: JudgeClient.from_config(plan.config))
        cfg = plan.config
        self.budget = Budget(max_cost, cfg.input_price_per_million,
                             cfg.output_price_per_million, cfg.max_tokens)
        self.run_id = uuid.uuid4().hex
        self.results: dict[str, dict[str, Any]] = dict(plan.cached)
        self.calls_of_pair: dict[int, list[PlannedCall]] = {}
        for c in plan.calls:
            self.calls_of_pair.setdefault(c.pair, []).append(c)
        self.writer: GroupCommit | None = None  # made in execute(), in the event loop
        self.gate = BudgetGate(self.budget)  # one admission rule for judges and generation
        self.finished_workers = False
        self.stop_reason = ""
        self.fatal = False  # stopped by an error every call would hit (key, model, host)
        self.retries: dict[str, int] = {}
        self._noticed: dict[str, float] = {}
        self._unnoticed: dict[str, int] = {}
        self.failed: list[str] = []
        self.new_rows: list[dict[str, Any]] = []
        self.completed_pairs: set[int] = set()
        self.bar = tqdm(total=len(plan.to_call), unit="call", file=sys.stderr,
                        disable=not progress, dynamic_ncols=True)
        # PostgreSQL: other processes may run the same calls now; a call is claimed (a lock
        # every process sees) before it is paid for, and one stored meanwhile is taken as it is
        self.claims: SessionLocks | None = None
        self.adopted = 0
        self.journal: CallJournal | None = None  # DuckDB file owned here: storage/journal.py

    async def _claim(self, call: PlannedCall) -> bool:
        """Whether this run should pay for ``call``: False when another process stored its
        answer meanwhile (taken into this run's results). Waits while another process holds
        the call (it is paying for it now; its answer or its death releases it)."""
        claims = self.claims
        if claims is None:
            return True
        key = CLAIM_PREFIX + call.key
        while not await asyncio.to_thread(claims.try_lock, key):
            await asyncio.sleep(CLAIM_POLL_S)
        stored = await asyncio.to_thread(self._stored_call, call.key)
        if stored is None:
            return True
        await asyncio.to_thread(claims.unlock, key)
        self.results[call.key] = stored
        self.completed_pairs.add(call.pair)
        self.adopted += 1
        self.bar.update(1)
        return False

    def _stored_call(self, key: str) -> dict[str, Any] | None:
        with self.db.cursor() as cur:
            return store.cached_calls(cur, [key]).get(key)

    async def _release(self, call: PlannedCall) -> None:
        if self.claims is not None:
            await asyncio.to_thread(self.claims.unlock, CLAIM_PREFIX + call.key)

    # Workers ---------------------------------------------------------------
    async def work(self, client: JudgeClient, calls: Any, writer: GroupCommit) -> None:
        for call in calls:
            if self.stop_reason:
                return
            await writer.acquire()  # held until the answer is stored (the SIGKILL bound)
            handed = False
            try:
                if not await self._claim(call):
                    continue
                try:
                    handed = await self._pay(client, call, writer)
                finally:
                    if not handed:
                        await self._release(call)
            finally:
                if not handed:
                    writer.release()

    async def _pay(self, client: JudgeClient, call: PlannedCall, writer: GroupCommit) -> bool:
        """Make one call within the budget and hand its answer to the writer (True), which
        then holds the call's slot and claim until the answer is stored."""
        cfg = self.plan.config
        messages = self.plan.messages(call)
        chars = sum(len(m["content"]) for m in messages)
        reserved = await self.gate.admit(chars, lambda: bool(self.stop_reason))
        if reserved is None:
            self.stop_reason = self.stop_reason or (
                f"stopped before the call that could exceed --max-cost ${self.max_cost:g}")
            return False
        try:
            result = await client.complete(messages)
        except JudgeCallError as exc:
            await self.gate.settle(reserved, 0.0)
            self.failed.append(str(exc))
            if exc.fatal and not self.fatal:
                self.fatal = True
                self.stop_reason = f"stopped: {exc}"
            return False
        cost = cost_usd(result.input_tokens, result.output_tokens,
                        cfg.input_price_per_million, cfg.output_price_per_million)
        await self.gate.settle(reserved, cost, prompt_chars=chars,
                               input_tokens=result.input_tokens)
        parsed = parse_answer(result.text, cfg.format, result.logprobs)
        writer.put({
            "call_key": call.key, "run_id": self.run_id, "config_hash": self.plan.config_hash,
            "judge_model": cfg.model, "judge_endpoint": self.plan.endpoint,
            "task_id": self.plan.task_id, "pair_id": self.plan.pairs[call.pair]["pair_id"],
            "left_side": call.left_side, "raw_answer": result.text,
            "raw_choice": RAW_CHOICE_OF_SHOWN[parsed.outcome], "strength": parsed.strength,
            "probability": parsed.probability, "parse_error": parsed.error,
            "input_tokens": result.input_tokens, "output_tokens": result.output_tokens,
            "usage_estimated": result.usage_estimated, "cost_usd": cost,
            "latency_ms": result.latency_ms, "attempts": result.attempts,
            "finish_reason": result.finish_reason, "created_at": stored_now(),
            "_pair": call.pair,
        })
        return True

    def notice_retry(self, kind: str, message: str) -> None:
        """Say that calls are being retried and why, without flooding the terminal."""
        self.retries[kind] = self.retries.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._noticed.get(kind, -NOTICE_INTERVAL_S) < NOTICE_INTERVAL_S:
            self._unnoticed[kind] = self._unnoticed.get(kind, 0) + 1
            return
        self._noticed[kind] = now
        more = self._unnoticed.pop(kind, 0)
        extra = f" (and {more} more retries of this kind since the last notice)" if more else ""
        tqdm.write(shown(f"judge: {message}{extra}", one_line=True), file=sys.stderr)

    # Writers --------------------------------------------------------------
    def _store_calls(self, batch: list[Row]) -> None:
        """One group of answers (the writer's thread): one statement, atomic without
        BEGIN/COMMIT round trips; then the calls' claims go (PostgreSQL), never before."""
        rows = [{k: v for k, v in r.items() if k != "_pair"} for r in batch]
        if self.journal is not None:
            self.journal.append("judge_calls", rows)
            return
        self._store_direct("judge_calls", rows)
        if self.claims is not None:
            for row in rows:
                self.claims.unlock(CLAIM_PREFIX + row["call_key"])

    def _store_direct(self, table: str, rows: list[Row]) -> None:
        """The group commit itself: one autocommit statement."""
        with self.db.cursor() as cur:
            store.append_calls(cur, rows)

    def _stored(self, batch: list[Row]) -> None:
        """Counted only now that they are stored."""
        for row in batch:
            pair = row.pop("_pair")
            self.results[row["call_key"]] = row
            self.completed_pairs.add(pair)
        self.new_rows.extend(batch)
        self.bar.update(len(batch))
        self.bar.set_postfix_str(f"${self.budget.spent:.4f}", refresh=False)

    async def record_periodically(self) -> None:
        """Verdicts and the run's progress follow the stored calls about once a second, off
        the calls' path (each write there delays the workers waiting for it)."""
        while not self.finished_workers:
            await asyncio.sleep(VERDICT_INTERVAL_S)
            await flush_when_due(self.journal)
            pairs, self.completed_pairs = self.completed_pairs, set()
            journal = self.journal
            if journal is not None:  # a verdict never goes in before its calls
                waiting = {p for p in pairs if not all(
                    journal.in_db(c.key) for c in self.calls_of_pair.get(p, []))}
                self.completed_pairs |= waiting
                pairs -= waiting
            if pairs:
                await asyncio.to_thread(self._record_verdicts, sorted(pairs))
            await asyncio.to_thread(self._update_progress)

    def _update_progress(self) -> None:
        with self.db.transaction() as cur:
            store.update_run(cur, self.run_id, done_calls=len(self.new_rows),
                             failed_calls=len(self.failed), cost_usd=self.budget.spent)

    def answers(self, pair: int) -> list[dict[str, Any]]:
        """The pair's answered calls, oriented by this pair's own order (a stored answer may
        have been asked for another pair with the same texts)."""
        return [{**self.results[c.key], "left_side": c.left_side}
                for c in self.calls_of_pair.get(pair, []) if c.key in self.results]

    def _record_verdicts(self, pair_indexes: list[int]) -> int:
        items = []
        for i in pair_indexes:
            rows = self.answers(i)
            if not rows or len(rows) < len(self.calls_of_pair[i]):
                continue
            verdict = verdict_for_pair(self.plan, self.plan.pairs[i], rows, self.run_id)
            if verdict is not None:
                items.append(verdict)
        if not items:
            return 0
        added = record_judge_verdicts(self.db, items)
        keep = {v.pair_id: v.verdict_id for v in items}
        with self.db.transaction() as cur:
            standing = store.standing_verdict_ids(cur, self.plan.config.rater_id, self.plan.task_id,
                                                  sorted(keep))
            stale = [vid for pair, ids in standing.items() if pair in keep
                     for vid in ids if vid != keep[pair]]
            store.retract_verdicts(cur, stale)
        return added

    # Driver ----------------------------------------------------------------
    async def execute(self) -> None:
        calls = iter(self.plan.to_call)
        recorder = asyncio.create_task(self.record_periodically())
        async with self.client_factory() as client:
            writer = self.writer = GroupCommit(self._store_calls, on_stored=self._stored,
                                               concurrency=client.concurrency)
            writing = asyncio.create_task(writer.run())
            workers = [asyncio.create_task(self.work(client, calls, writer))
                       for _ in range(max(1, client.concurrency))]
            try:
                await asyncio.gather(*workers)
            finally:
                for w in workers:
                    w.cancel()
                writer.close()
                try:
                    await writing
                finally:
                    self.finished_workers = True
                    recorder.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await recorder
                    await flush_when_due(self.journal, final=True)



def _create_run_row(db: Database, run: _Run, max_cost: float | None) -> None:
    """The run's row, before any call: what `judge-app runs` lists and a resume finds."""
    plan, cfg = run.plan, run.plan.config
    with db.transaction() as cur:
        store.create_run(cur, {
            "run_id": run.run_id, "task_id": plan.task_id, "rater_id": cfg.rater_id,
            "config_hash": plan.config_hash, "config": cfg.describe(),
            "total_calls": len(plan.calls), "cached_calls": len(plan.cached),
            "max_cost_usd": max_cost, "endpoint": plan.endpoint, **current_owner(),
        })

def run_plan(db: Database, plan: Plan, *, max_cost: float | None = None,
             concurrency: int | None = None, progress: bool = False,
             environ: Mapping[str, str] | None = None,
             client_factory: Callable[[], JudgeClient] | None = None) -> RunSummary:
    """Make the plan's uncached calls and record the judge's verdicts; returns the summary."""
    cfg = plan.config
    secrets = cfg.secrets(environ)
    if plan.to_call:
        cfg.api_key(environ)  # a missing key fails before anything is recorded
        batches.refuse_if_open(db, "judge", plan.task_id, plan.config_hash)
    run = _Run(db, plan, max_cost=max_cost, progress=progress, client_factory=client_factory)
    if client_factory is None:
        run.client_factory = lambda: JudgeClient.from_config(
            cfg, environ=environ, concurrency=concurrency, on_retry=run.notice_retry)
    _create_run_row(db, run, max_cost)
    started = time.monotonic()
    status: RunStatus = "stopped"
    message = "interrupted"
    try:
        if plan.to_call:
            run.claims = db.session_locks()
            if run.claims is None:
                run.journal = open_journal(db, run.run_id, run._store_direct)
            if max_cost is not None:  # the cap holds with every capped run on the task now
                run.gate.ledger = SharedBudget.join(db, task_scope(plan.task_id), run.run_id,
                                                    max_cost)
            asyncio.run(run.execute())
        run._record_verdicts(sorted(run.calls_of_pair))  # cached pairs and any left behind
        unanswered = sum(1 for c in plan.calls if c.key not in run.results)
        status = "done" if unanswered == 0 else "failed" if run.fatal else "stopped"
        message = run.stop_reason or (
            f"{len(run.failed)} calls failed; first error: {run.failed[0]}" if run.failed
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
        with db.transaction() as cur:
            store.update_run(cur, run.run_id, status=status, message=message,
                             done_calls=len(run.new_rows), failed_calls=len(run.failed),
                             cost_usd=run.budget.spent, finished_at=stored_now())
    summary = summarise(run, status, message, time.monotonic() - started)
    summary.endpoint, summary.retries = plan.endpoint, dict(sorted(run.retries.items()))
    return summary


def summarise(run: _Run, status: RunStatus, message: str, elapsed: float) -> RunSummary:
    plan = run.plan
    counts: dict[str, int] = {}
    consistent = both = decided = first = parse_failures = 0
    keys = {c.key for c in plan.calls if c.key in run.results}
    total_cost = sum(float(run.results[k]["cost_usd"]) for k in keys)
    for pair, calls in run.calls_of_pair.items():
        rows = run.answers(pair)
        parse_failures += sum(1 for r in rows if r["raw_choice"] is None)
        for r in rows:
            if r["raw_choice"] in ("left", "right"):
                decided += 1
                first += r["raw_choice"] == "left"
        if len(rows) != len(calls):
            continue
        combined = combined_verdict(rows)
        if combined is None:
            continue
        counts[combined.outcome] = counts.get(combined.outcome, 0) + 1
        if combined.consistent is not None:
            both += 1
            consistent += combined.consistent
    latencies = [float(r["latency_ms"]) for r in run.new_rows if r["latency_ms"] is not None]
    answered = sum(1 for c in plan.calls if c.key in keys)
    return RunSummary(
        run_id=run.run_id, status=status, message=message, planned_calls=len(plan.calls),
        cached_calls=len(plan.cached), new_calls=len(run.new_rows),
        failed_calls=len(run.failed), not_started=len(plan.calls) - answered - len(run.failed),
        parse_failures=parse_failures, verdicts=dict(sorted(counts.items())),
        consistency=consistent / both if both else None,
        first_position_share=first / decided if decided else None,
        cost_usd=run.budget.spent, total_cost_usd=total_cost,
        latency_p50_ms=_percentile(latencies, 0.5), latency_p95_ms=_percentile(latencies, 0.95),
        skipped_no_reference=plan.skipped_no_reference, elapsed_s=elapsed,
    )


# ---------------------------------------------------------------- through the Batch API

def run_plan_batch(db: Database, plan: Plan, *, max_cost: float | None = None,
                   poll_s: float = batches.DEFAULT_POLL_S, progress: bool = False,
                   environ: Mapping[str, str] | None = None,
                   client_factory: Callable[[], JudgeClient] | None = None) -> RunSummary:
    """The plan's uncached calls through the Batch API (services/batches.py: resumable, never
    submitting a call twice), at the batch price; answers and verdicts land exactly as an
    online run's, with latency unknown (NULL)."""
    cfg = plan.config
    secrets = cfg.secrets(environ)
    open_row = batches.open_batch(db, "judge", plan.task_id, plan.config_hash)
    if plan.to_call or open_row is not None:
        cfg.api_key(environ)  # a missing key fails before anything is recorded
    run = _Run(db, plan, max_cost=max_cost, progress=False, client_factory=client_factory or (
        lambda: JudgeClient.from_config(cfg, environ=environ, concurrency=1,
                                        on_retry=run.notice_retry)))
    pair_index = {p["pair_id"]: i for i, p in enumerate(plan.pairs)}
    _create_run_row(db, run, max_cost)
    price_in, price_out = batches.batch_prices(cfg)
    spec = batches.BatchSpec("judge", plan.task_id, plan.config_hash, run.run_id,
                             plan.endpoint, cfg.max_tokens, price_in, price_out, poll_s,
                             progress)

    def next_calls(excluded: set[str], client: JudgeClient) -> list[batches.BatchCall]:
        out = []
        for call in plan.to_call:
            if call.key in run.results or call.key in excluded:
                continue
            messages = plan.messages(call)
            out.append(batches.BatchCall(
                call.key, client.batch_body(messages),
                {"pair_id": plan.pairs[call.pair]["pair_id"], "left_side": call.left_side},
                sum(len(m["content"]) for m in messages), estimate_prompt_tokens(messages)))
        return out

    def land(answers: list[batches.Answer]) -> None:
        rows = []
        for a in answers:
            result = a.result
            parsed = parse_answer(result.text, cfg.format, result.logprobs)
            rows.append({
                "call_key": a.custom_id, "run_id": run.run_id,
                "config_hash": plan.config_hash, "judge_model": cfg.model,
                "judge_endpoint": plan.endpoint, "task_id": plan.task_id,
                "pair_id": a.context["pair_id"], "left_side": a.context["left_side"],
                "raw_answer": result.text, "raw_choice": RAW_CHOICE_OF_SHOWN[parsed.outcome],
                "strength": parsed.strength, "probability": parsed.probability,
                "parse_error": parsed.error, "input_tokens": result.input_tokens,
                "output_tokens": result.output_tokens,
                "usage_estimated": result.usage_estimated, "cost_usd": a.cost_usd,
                "latency_ms": None, "attempts": 1, "finish_reason": result.finish_reason,
                "created_at": stored_now(),
            })
        run._store_calls(rows)  # one statement; an answer stored before is kept as it is
        for row in rows:
            run.results.setdefault(row["call_key"], row)
        run.new_rows.extend(rows)
        pairs = sorted({pair_index[r["pair_id"]] for r in rows if r["pair_id"] in pair_index})
        run._record_verdicts(pairs)

    async def execute() -> batches.BatchReport:
        async with run.client_factory() as client:
            runner = batches.BatchRunner(db, spec, BatchApi(client), land)
            return await runner.run(lambda excluded: next_calls(excluded, client), max_cost)

    started = time.monotonic()
    status: RunStatus = "stopped"
    message = "interrupted"
    report = batches.BatchReport()
    try:
        report = asyncio.run(execute())
        run.budget.spent = report.cost_usd
        run.failed = [f"pair {c.get('pair_id')} ({c.get('left_side')} shown first): {why}"
                      for c, why in report.failed]
        run._record_verdicts(sorted(run.calls_of_pair))  # cached pairs and any left behind
        unanswered = sum(1 for c in plan.calls if c.key not in run.results)
        status = "done" if unanswered == 0 else "stopped"
        message = "; ".join(x for x in (
            report.stop_reason, *(b["message"] for b in report.batches)) if x)
    except JudgeAppError as exc:
        status, message = "failed", str(exc)
        raise
    finally:
        message = redact(message, secrets)
        with db.transaction() as cur:
            store.update_run(cur, run.run_id, status=status, message=message,
                             done_calls=len(run.new_rows), failed_calls=len(run.failed),
                             cost_usd=run.budget.spent, finished_at=stored_now())
    summary = summarise(run, status, message, time.monotonic() - started)
    summary.endpoint = plan.endpoint
    summary.batches, summary.batches_resumed = report.batches, report.resumed
    summary.failures = [redact(f, secrets) for f in run.failed]
    return summary
