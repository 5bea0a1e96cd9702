"""Batch API runs, the resumable part shared by `judge-app generate --batch` and
`judge-app judge --batch` (services/generation.py and services/judge_runs.py say which calls
to send and how an answer lands; judges/batch_api.py speaks the protocol).

The one rule: the same calls are never submitted twice. So each step is recorded before the
next one starts, in api_batches:
1. the intent (the exact JSONL input and the calls it holds), state 'preparing', before any
   upload; a run killed here re-uses the file already uploaded under the batch's name, or
   uploads it;
2. the input file's id, state 'uploaded'; a run killed after it looks for a batch carrying
   its batch key in the metadata (the run may have died between creating the batch and
   recording its id) and creates one only if there is none;
3. the batch's id, state 'submitted': a run killed while waiting polls the same batch;
4. the results landed (idempotent: an answer already stored is kept as it is), state 'done'.
Any run of the same kind, task and config resumes the open batch before it submits anything
new. Lines that failed are left unanswered and never re-sent by the same run: running the
command again (with or without --batch) makes them, explicitly, in a new batch or online.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tqdm import tqdm

from judge_app.core.clock import stored_now
from judge_app.core.terminal import shown
from judge_app.errors import ValidationError
from judge_app.judges.batch_api import (
    METADATA_KEY,
    TERMINAL,
    BatchApi,
    file_name,
    input_line,
    read_lines,
)
from judge_app.judges.client import CallResult, JudgeCallError
from judge_app.judges.cost import Budget, cost_usd
from judge_app.storage import batches as store
from judge_app.storage.db import Database

DEFAULT_POLL_S = 30.0
# OpenAI's limits for one batch: 50,000 requests and a 200 MB input file. More calls go in
# several batches, one after another.
MAX_BATCH_CALLS = 50_000
MAX_BATCH_BYTES = 190_000_000


@dataclass(frozen=True)
class BatchCall:
    """One line of a batch: its custom_id is the call's content key."""

    custom_id: str
    body: dict[str, Any]
    context: dict[str, Any]  # what landing needs (prompt and turn, or pair and order)
    prompt_chars: int
    input_estimate: int  # tokens, for an answer that reports no usage


@dataclass(frozen=True)
class BatchSpec:
    kind: str  # 'generate' or 'judge'
    task_id: str
    config_hash: str
    run_id: str
    endpoint: str  # credentials masked
    max_tokens: int
    input_price_per_million: float  # the batch price
    output_price_per_million: float
    poll_s: float = DEFAULT_POLL_S
    progress: bool = False


@dataclass(frozen=True)
class Answer:
    """A landed answer: its call key, the context given when it was sent, result and cost."""

    custom_id: str
    context: dict[str, Any]
    result: CallResult
    cost_usd: float


Land = Callable[[list[Answer]], None]


@dataclass
class BatchReport:
    batches: list[dict[str, Any]] = field(default_factory=list)  # one summary per batch
    answered: int = 0
    failed: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (context, reason)
    cost_usd: float = 0.0
    stop_reason: str = ""
    resumed: int = 0  # batches an earlier run had recorded


def batch_prices(config: Any) -> tuple[float, float]:
    """The per-million prices of a batch call: the config's batch prices when it gives them,
    else half its online prices (OpenAI's Batch API discount)."""
    given_in = getattr(config, "batch_input_price_per_million", None)
    given_out = getattr(config, "batch_output_price_per_million", None)
    return (config.input_price_per_million / 2 if given_in is None else given_in,
            config.output_price_per_million / 2 if given_out is None else given_out)


def open_batch(db: Database, kind: str, task_id: str, config_hash: str) -> dict[str, Any] | None:
    with db.cursor() as cur:
        rows = store.open_batches(cur, kind, task_id, config_hash)
    return rows[0] if rows else None


def list_batches(db: Database, task_id: str | None = None) -> list[dict[str, Any]]:
    """Batch API batches (of a task), newest first: `judge-app runs` lists them."""
    with db.cursor() as cur:
        return store.list_batches(cur, task_id)


def refuse_if_open(db: Database, kind: str, task_id: str, config_hash: str) -> None:
    """An online run must not pay for calls an open batch is answering already."""
    row = open_batch(db, kind, task_id, config_hash)
    if row is not None:
        remote = row["remote_batch_id"] or "not yet created"
        raise ValidationError(
            f"a Batch API batch of these calls is still open (batch {remote}, state "
            f"{row['state']}): run the same command with --batch to land it first",
            field="--batch")


class BatchRunner:
    """Submits, waits for and lands batches until no call is left to send."""

    def __init__(self, db: Database, spec: BatchSpec, api: BatchApi, land: Land) -> None:
        self.db, self.spec, self.api, self.land = db, spec, api, land
        self.report = BatchReport()
        self._budget = Budget(None, spec.input_price_per_million,
                              spec.output_price_per_million, spec.max_tokens)

    def worst_case(self, calls: list[BatchCall]) -> float:
        return sum(self._budget.worst_case(c.prompt_chars) for c in calls)

    async def run(self, next_calls: Callable[[set[str]], list[BatchCall]],
                  max_cost: float | None) -> BatchReport:
        """Resume the open batch, if any; then batch what `next_calls` gives (calls failed
        in this run excluded), round after round (a multi-turn prompt's next turn can only
        be sent once the turn before is answered)."""
        locks = self.db.session_locks()  # PostgreSQL: other processes may run this too
        name = f"judge_app:batch:{self.spec.kind}:{self.spec.task_id}:{self.spec.config_hash}"
        if locks is not None and not await asyncio.to_thread(locks.try_lock, name):
            locks.close()
            raise ValidationError(
                "another process is running a --batch run of this task and config now; "
                "wait for it (it lands the same batch)", field="--batch")
        try:
            return await self._run(next_calls, max_cost)
        finally:
            if locks is not None:
                locks.close()  # closing the session releases its locks

    async def _run(self, next_calls: Callable[[set[str]], list[BatchCall]],
                   max_cost: float | None) -> BatchReport:
        spec, report = self.spec, self.report
        sent: set[str] = set()
        while True:
            row = await asyncio.to_thread(open_batch, self.db, spec.kind, spec.task_id,
                                          spec.config_hash)
            if row is not None:
                report.resumed += row["run_id"] != spec.run_id
            else:
                calls = _first_batch([c for c in next_calls(set(sent))
                                      if c.custom_id not in sent])
                if not calls:
                    return report
                worst = self.worst_case(calls)
                if max_cost is not None and report.cost_usd + worst > max_cost:
                    report.stop_reason = (
                        f"refused: the batch of {len(calls)} calls could cost up to "
                        f"${worst:.4f} at the batch price (every answer at max_tokens), more "
                        f"than the ${max(0.0, max_cost - report.cost_usd):.4f} left of "
                        f"--max-cost ${max_cost:g}; nothing was submitted")
                    return report
                row = await asyncio.to_thread(self._record_intent, calls, worst)
            sent.update(c["custom_id"] for c in row["calls"])
            status = await self._drive(row)
            if status != "completed":
                report.stop_reason = report.batches[-1]["message"]
                return report

    def _record_intent(self, calls: list[BatchCall], worst: float) -> dict[str, Any]:
        spec = self.spec
        row = {
            "batch_key": uuid.uuid4().hex, "kind": spec.kind, "task_id": spec.task_id,
            "config_hash": spec.config_hash, "run_id": spec.run_id, "endpoint": spec.endpoint,
            "calls": [{"custom_id": c.custom_id, "context": c.context,
                       "input_estimate": c.input_estimate} for c in calls],
            "input_jsonl": "".join(input_line(c.custom_id, c.body) + "\n" for c in calls),
            "estimated_cost_usd": worst,
        }
        with self.db.cursor() as cur:
            store.create_batch(cur, row)
        return {**row, "state": "preparing", "input_file_id": None, "remote_batch_id": None,
                "n_calls": len(calls)}

    def _update(self, key: str, **fields: Any) -> None:
        with self.db.cursor() as cur:
            store.update_batch(cur, key, **fields)

    async def _drive(self, row: dict[str, Any]) -> str:
        """Take one batch from wherever it stands to 'done'; returns the endpoint's status."""
        key, spec = row["batch_key"], self.spec
        file_id = row["input_file_id"]
        remote: dict[str, Any] | None = None
        try:
            if row["state"] == "preparing":  # uploaded already, if killed after the upload
                file_id = await self.api.upload(file_name(key), row["input_jsonl"].encode())
                await asyncio.to_thread(self._update, key, state="uploaded",
                                        input_file_id=file_id)
                row["state"] = "uploaded"
            if row["state"] == "uploaded":  # created already, if killed before recording it
                remote = await self.api.create(str(file_id), {
                    METADATA_KEY: key, "judge_app_kind": spec.kind,
                    "judge_app_task": spec.task_id[:500]})
        except JudgeCallError as exc:
            if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (
                    408, 409, 429):
                # refused outright (no Batch API there, a bad file): no batch was made, so
                # it is closed and the calls are free to go online or in another batch
                await asyncio.to_thread(self._update, key, state="done",
                                        message=f"not submitted: {exc}",
                                        finished_at=stored_now())
            raise
        batch_id = row["remote_batch_id"]
        if remote is not None:
            batch_id = str(remote["id"])
            await asyncio.to_thread(self._update, key, state="submitted",
                                    remote_batch_id=batch_id, remote_status=remote["status"])
        remote = await self._wait(key, str(batch_id), int(row["n_calls"] or len(row["calls"])))
        return await self._land(row, remote)

    async def _wait(self, key: str, batch_id: str, total: int) -> dict[str, Any]:
        bar = tqdm(total=total, unit="call", file=sys.stderr, disable=not self.spec.progress,
                   dynamic_ncols=True, desc=shown(f"batch {batch_id}", one_line=True))
        last: tuple[Any, ...] = ()
        try:
            while True:
                remote = await self.api.retrieve(batch_id)
                counts = remote.get("request_counts") or {}
                done, failed = int(counts.get("completed") or 0), int(counts.get("failed") or 0)
                status = str(remote.get("status"))
                bar.n = min(total, done + failed)
                bar.set_postfix_str(status, refresh=False)
                bar.refresh()
                if (status, done, failed) != last:
                    last = (status, done, failed)
                    await asyncio.to_thread(self._update, key, remote_status=status,
                                            completed_calls=done, failed_calls=failed)
                if status in TERMINAL:
                    return remote
                await asyncio.sleep(self.spec.poll_s)
        finally:
            bar.close()

    async def _land(self, row: dict[str, Any], remote: dict[str, Any]) -> str:
        spec, report = self.spec, self.report
        status = str(remote.get("status"))
        batch_id = str(remote.get("id"))
        calls = {c["custom_id"]: c for c in row["calls"]}
        estimates = {k: int(c.get("input_estimate") or 0) for k, c in calls.items()}
        lines = []
        for fid in (remote.get("output_file_id"), remote.get("error_file_id")):
            if fid:
                lines += read_lines(await self.api.content(str(fid)), estimates)
        answers: list[Answer] = []
        answered: set[str] = set()
        errors: dict[str, str] = {}
        for line in lines:
            call = calls.get(line.custom_id)
            if call is None or line.custom_id in errors or line.custom_id in answered:
                continue
            if line.result is None:
                errors[line.custom_id] = line.error or "no answer"
                continue
            r = line.result
            answered.add(line.custom_id)
            answers.append(Answer(line.custom_id, call["context"], r, cost_usd(
                r.input_tokens, r.output_tokens, spec.input_price_per_million,
                spec.output_price_per_million)))
        errors = {k: v for k, v in errors.items() if k not in answered}
        why = _batch_errors(remote)
        for custom_id in calls:
            if custom_id not in answered and custom_id not in errors:
                errors[custom_id] = f"no result: the batch ended {status}" + (
                    f" ({why})" if why else "")
        if answers:
            await asyncio.to_thread(self.land, answers)  # idempotent: stored answers stay
        cost = sum(a.cost_usd for a in answers)
        message = (f"batch {batch_id} {status}: {len(answers)} of {len(calls)} calls answered, "
                   f"{len(errors)} failed") + (f"; {why}" if why else "")
        if errors and status == "completed":
            first = next(iter(errors.values()))
            message += f"; first error: {first}"
        await asyncio.to_thread(
            self._update, row["batch_key"], state="done", remote_status=status,
            output_file_id=remote.get("output_file_id"),
            error_file_id=remote.get("error_file_id"), landed_calls=len(answers),
            cost_usd=cost, errors=[[k, errors[k]] for k in calls if k in errors], message=message,
            finished_at=stored_now())
        report.batches.append({"batch_key": row["batch_key"], "batch_id": batch_id,
                               "status": status, "calls": len(calls),
                               "answered": len(answers), "failed": len(errors),
                               "cost_usd": cost, "message": message})
        report.answered += len(answers)
        report.cost_usd += cost
        report.failed += [(c["context"], errors[k]) for k, c in calls.items() if k in errors]
        return status


def _first_batch(calls: list[BatchCall]) -> list[BatchCall]:
    """As many calls as one batch may hold (MAX_BATCH_CALLS lines, MAX_BATCH_BYTES)."""
    size = 0
    for n, call in enumerate(calls[:MAX_BATCH_CALLS]):
        size += len(input_line(call.custom_id, call.body).encode()) + 1
        if size > MAX_BATCH_BYTES and n:
            return calls[:n]
    return calls[:MAX_BATCH_CALLS]


def _batch_errors(remote: dict[str, Any]) -> str:
    """The reasons a batch gives as a whole (a batch that failed validation)."""
    errors = remote.get("errors") or {}
    data = errors.get("data") if isinstance(errors, dict) else None
    texts = [f"{e.get('code') or 'error'}: {e.get('message') or ''}".strip()
             for e in data or [] if isinstance(e, dict)]
    return "; ".join(texts[:3])
