"""Judge use-cases shared by the CLI and the admin page: runs and escalation to people."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judge_app.errors import NotFoundError
from judge_app.judges import DEFAULT_MARGIN
from judge_app.judges.config import load_config
from judge_app.judges.owner import owner_alive
from judge_app.judges.plan import CallEstimate
from judge_app.services.judge_runs import plan_run
from judge_app.services.queue import load_task_config
from judge_app.storage import judges as store
from judge_app.storage.db import Database, local_path_of


@dataclass(frozen=True)
class Escalation:
    escalated: int
    inconsistent: int
    unsure: int
    already: int  # pairs that qualified but were escalated before
    eligible: int  # qualifying pairs not escalated yet, before --max-pairs


def escalate(db: Database, task_id: str, rater_id: str, *, max_pairs: int | None = None,
             margin: float = DEFAULT_MARGIN) -> Escalation:
    """Put the pairs the judge was inconsistent or unsure about first in the human queue.

    Unsure: |2p - 1| < margin, p being the judge's probability that output a is better.
    Inconsistent pairs come first, then the least sure; --max-pairs caps the number.
    """
    load_task_config(db, task_id)
    with db.cursor() as cur:
        verdicts = store.judge_verdicts(cur, task_id, rater_id)
        before = store.escalated_pairs(cur, task_id)
    if not verdicts:
        raise NotFoundError(f"judge '{rater_id}' has no verdicts in task '{task_id}'")
    candidates: list[dict[str, Any]] = []
    for v in verdicts:
        p = v["probability"]
        sure = abs(2 * p - 1) if p is not None else None
        if v["consistent"] is False:
            candidates.append({**v, "reason": "inconsistent", "margin": sure})
        elif sure is not None and sure < margin:
            candidates.append({**v, "reason": "unsure", "margin": sure})
    candidates.sort(key=lambda c: (c["reason"] != "inconsistent",
                                   c["margin"] if c["margin"] is not None else 0.0,
                                   c["pair_id"]))
    fresh = [c for c in candidates if c["pair_id"] not in before]
    chosen = fresh[:max_pairs] if max_pairs is not None else fresh
    with db.transaction() as cur:
        store.insert_escalations(cur, [
            {"task_id": task_id, "pair_id": c["pair_id"], "rater_id": rater_id,
             "reason": c["reason"], "margin": c["margin"]} for c in chosen])
    return Escalation(
        escalated=len(chosen),
        inconsistent=sum(c["reason"] == "inconsistent" for c in chosen),
        unsure=sum(c["reason"] == "unsure" for c in chosen),
        already=len(candidates) - len(fresh), eligible=len(fresh),
    )


def list_runs(db: Database, task_id: str | None = None) -> list[dict[str, Any]]:
    """Runs, newest first, with progress = answered calls (cached included) / planned.

    A 'running' row whose process is gone (killed, crashed, machine restarted) is reported
    as 'interrupted': it resumes from its stored answers when the same command runs again.
    """
    with db.cursor() as cur:
        runs = store.list_runs(cur, task_id)
    for run in runs:
        if run["status"] == "running" and not owner_alive(run):
            run["status"] = "interrupted"
            where = f"process {run['pid']}" + (f" on {run['host']}" if run["host"] else "")
            run["message"] = (f"interrupted: its {where} is gone; run the same judge-app judge "
                              "command (or Start run) again to resume from the stored answers")
        total = run["total_calls"] or 0
        answered = run["cached_calls"] + run["done_calls"]
        run["progress"] = answered / total if total else 1.0
    return runs


@dataclass(frozen=True)
class RunEstimate:
    """What a run of a judge on a task would do, before it calls anything."""

    judge: str
    model: str
    endpoint: str  # credentials masked
    pairs: int
    planned_calls: int
    cached_calls: int
    calls: CallEstimate  # the calls still to make: tokens and cost


def estimate(db: Database, task_id: str, judge_file: str | Path) -> RunEstimate:
    """What a run of this judge on this task would do: calls, cached, tokens, cost."""
    plan = plan_run(db, task_id, load_config(judge_file))
    return RunEstimate(judge=plan.config.rater_id, model=plan.config.model, endpoint=plan.endpoint,
                       pairs=len(plan.pairs), planned_calls=len(plan.calls),
                       cached_calls=len(plan.cached), calls=plan.estimate())


def start_run(db_path: str | Path, task_id: str, judge_file: str | Path, *,
              max_cost: float | None = None, concurrency: int | None = None,
              ) -> tuple[int, Path]:
    """Start `judge-app judge` as its own process (for the admin page): it survives the page,
    the browser tab and a restart of the app server. Returns its pid and its log file; its
    progress is in judge_runs. ``db_path`` may be a PostgreSQL URL (its log goes to db/)."""
    target = str(db_path)
    beside = local_path_of(db_path)
    beside.parent.mkdir(parents=True, exist_ok=True)
    log = beside.with_name(f"{beside.name}.judge-{task_id}-{int(time.time())}.log")
    # A URL may hold a password: it goes in the environment, never on the command line,
    # where any user of the machine can read it (ps).
    env = {**os.environ, "JUDGE_APP_DB": target}
    args = [sys.executable, "-m", "judge_app.cli", "judge", "--task", task_id,
            "--judge", str(judge_file), "--quiet"]
    if max_cost is not None:
        args += ["--max-cost", str(max_cost)]
    if concurrency is not None:
        args += ["--concurrency", str(concurrency)]
    with open(log, "ab") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    return proc.pid, log
