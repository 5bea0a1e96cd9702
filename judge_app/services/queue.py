"""What a rater sees next: a blinded pair with its left/right order fixed when assigned."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from judge_app.core.pairing import choose_left_side, choose_next_pair, draw_kind
from judge_app.core.types import Message, TaskConfig, task_config_from_dict
from judge_app.errors import NotFoundError, PermissionDenied
from judge_app.services import sessions
from judge_app.services.lookup import task_not_found
from judge_app.storage import catalog, judges, queue, raters, verdicts
from judge_app.storage.db import Database

_task_locks: dict[str, threading.Lock] = {}
_task_locks_guard = threading.Lock()


def _lock_for(task_id: str) -> threading.Lock:
    with _task_locks_guard:
        return _task_locks.setdefault(task_id, threading.Lock())


@dataclass(frozen=True)
class BlindPair:
    """Everything the pair page may show before the vote: no model, output or pair id."""

    assignment_id: str
    task_id: str
    prompt: list[Message]
    left: list[Message]
    right: list[Message]
    reference: str | None


@dataclass(frozen=True)
class Progress:
    done: int
    remaining: int

    @property
    def total(self) -> int:
        return self.done + self.remaining


# Task settings change only on an import with --replace; every click reads them, so they
# are kept for a few seconds (imports in this process forget them at once).
CONFIG_TTL_SECONDS = 5.0
_configs: dict[tuple[str, str], tuple[float, TaskConfig]] = {}


def load_task_config(db: Database, task_id: str) -> TaskConfig:
    key = (str(db.path.resolve()), task_id)
    cached = _configs.get(key)
    if cached is not None and time.monotonic() - cached[0] < CONFIG_TTL_SECONDS:
        return cached[1]
    with db.cursor() as cur:
        task = catalog.get_task(cur, task_id)
        if task is None:
            raise task_not_found(cur, task_id)
    config = task_config_from_dict(task["config"])
    _configs[key] = (time.monotonic(), config)
    return config


def forget_task_config(task_id: str) -> None:
    for key in [k for k in _configs if k[1] == task_id]:
        _configs.pop(key, None)


def check_may_work(db: Database, rater_id: str, task_id: str) -> dict[str, Any]:
    """The rater row, if this rater exists, is enabled and may work on the task."""
    with db.cursor() as cur:
        rater, allowed = raters.access(cur, rater_id, task_id)
    if rater is None or rater["disabled"]:
        raise PermissionDenied("this rater is unknown or disabled")
    if not allowed:
        raise PermissionDenied(f"rater '{rater_id}' is not assigned to task '{task_id}'")
    return rater


def next_assignment(db: Database, rater_id: str, task_id: str, *,
                    session_id: str | None = None) -> BlindPair | None:
    """The rater's open assignment, or a new one; None when nothing is left for them.

    From the browser, ``session_id`` is the rater's session, checked again inside the
    transaction that creates an assignment (services.sessions)."""
    if session_id is None:
        check_may_work(db, rater_id, task_id)
    config = load_task_config(db, task_id)
    with db.cursor() as cur:  # most calls: the item on screen again, no lock needed
        row = queue.open_assignment(cur, rater_id, task_id)
    if row is None:
        with _lock_for(task_id), db.transaction() as cur:
            if session_id is not None and sessions.check(
                    cur, session_id, task_id)["rater_id"] != rater_id:
                raise PermissionDenied("this session belongs to another rater")
            row = queue.open_assignment(cur, rater_id, task_id) or _new_assignment(
                cur, config, rater_id, task_id
            )
    return blind_view(db, row) if row else None


def _new_assignment(cur: Any, config: TaskConfig, rater_id: str, task_id: str) -> Any:
    done = queue.count_done(cur, rater_id, task_id)
    gold = queue.gold_candidates(cur, task_id, rater_id) if config.gold_rate > 0 else []
    # No swapped re-test in a task that reveals models: the rater has seen who wrote what.
    retest = config.retest_rate > 0 and not config.reveal_models
    retests = queue.retest_candidates(cur, task_id, rater_id) if retest else []
    kind = draw_kind(
        config, rater_id, done, gold_available=bool(gold), retest_available=bool(retests)
    )
    retest_of = None
    if kind == "gold":
        pair = choose_next_pair(dict.fromkeys(gold, 0), set(), 1, rater_id, config.seed)
        left = choose_left_side(config.seed, rater_id, str(pair), kind)
    elif kind == "retest":
        earlier = retests[0]
        pair, retest_of = earlier["pair_id"], earlier["assignment_id"]
        left = "b" if earlier["left_side"] == "a" else "a"
    else:  # pairs a judge escalated to people come first
        candidates = judges.escalated_candidates(
            cur, task_id, rater_id, config.overlap) or queue.candidate_pairs(
            cur, task_id, rater_id, config.overlap)
        pair = choose_next_pair(candidates, set(), config.overlap, rater_id, config.seed)
        if pair is None:
            return None
        left = choose_left_side(config.seed, rater_id, pair, kind)
    row = {
        "assignment_id": uuid.uuid4().hex, "task_id": task_id, "pair_id": pair,
        "rater_id": rater_id, "left_side": left, "kind": kind, "retest_of": retest_of,
    }
    queue.insert_assignment(cur, row)
    return row


def blind_view(db: Database, assignment: dict[str, Any]) -> BlindPair:
    config = load_task_config(db, assignment["task_id"])
    with db.cursor() as cur:
        pair = catalog.get_pair_view(cur, assignment["pair_id"])
    if pair is None:
        raise NotFoundError(f"pair of assignment {assignment['assignment_id']} is missing")
    left_a = assignment["left_side"] == "a"
    return BlindPair(
        assignment_id=assignment["assignment_id"],
        task_id=assignment["task_id"],
        prompt=pair["messages"],
        left=pair["response_a"] if left_a else pair["response_b"],
        right=pair["response_b"] if left_a else pair["response_a"],
        reference=pair["reference"] if config.show_reference else None,
    )


def progress(db: Database, rater_id: str, task_id: str) -> Progress:
    config = load_task_config(db, task_id)
    with db.cursor() as cur:
        done = queue.count_done(cur, rater_id, task_id)
        remaining = queue.count_open_pairs(cur, task_id, rater_id, config.overlap)
        remaining += queue.count_open_assignments(cur, rater_id, task_id)
    return Progress(done, remaining)


def reveal(db: Database, rater_id: str, assignment_id: str) -> dict[str, str] | None:
    """Model names behind left and right, only after the vote and only if the task allows."""
    with db.cursor() as cur:
        assignment = queue.get_assignment(cur, assignment_id)
        if assignment is None or assignment["rater_id"] != rater_id:
            raise PermissionDenied("not your assignment")
        task = catalog.get_task(cur, assignment["task_id"])
        if task is None or not task_config_from_dict(task["config"]).reveal_models:
            return None
        if verdicts.standing_verdict_for_assignment(cur, assignment_id) is None:
            return None
        pair = catalog.get_pair_view(cur, assignment["pair_id"])
    assert pair is not None
    left_a = assignment["left_side"] == "a"
    return {
        "left": pair["model_a"] if left_a else pair["model_b"],
        "right": pair["model_b"] if left_a else pair["model_a"],
    }
