"""What a rater sees next: a blinded pair with its left/right order fixed when assigned."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from judge_app.core.pairing import (
    choose_left_side,
    choose_next_pair,
    draw_purpose,
    purposes_in_reach,
)
from judge_app.core.types import Message, TaskConfig, task_config_from_dict
from judge_app.errors import NotFoundError, PermissionDenied
from judge_app.services import sessions
from judge_app.services.lookup import task_not_found
from judge_app.storage import catalog, judges, queue, raters, verdicts
from judge_app.storage.db import Database
from judge_app.storage.dialect import dialect_of

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
    key = (db.key, task_id)
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
        row, _, _ = queue.rater_state(cur, rater_id, task_id)
    if row is None:
        row, _ = take_next(db, config, rater_id, task_id, session_id=session_id)
    return blind_view(db, row, config) if row else None


def task_lock(task_id: str) -> threading.Lock:
    """Held while an assignment of the task is taken: overlap holds with raters at once."""
    return _lock_for(task_id)


def take_next(db: Database, config: TaskConfig, rater_id: str | None, task_id: str, *,
              session_id: str | None = None) -> tuple[dict[str, Any] | None, Progress]:
    """Under the task's lock: the rater's open assignment, else a new one (None when nothing
    is left), and their progress counted in the same queries.

    With ``session_id``, the session is checked inside the transaction and names the rater
    (``rater_id`` None) or must be ``rater_id``'s."""
    with _lock_for(task_id), db.transaction() as cur:
        if session_id is not None:
            owner = sessions.check(cur, session_id, task_id)["rater_id"]
            if rater_id is not None and owner != rater_id:
                raise PermissionDenied("this session belongs to another rater")
            rater_id = owner
        assert rater_id is not None
        return take_next_in(cur, config, rater_id, task_id, db.key)


def take_next_in(cur: Any, config: TaskConfig, rater_id: str, task_id: str, db_key: str,
                 besides: str | None = None, *, store: bool = True,
                 ) -> tuple[dict[str, Any] | None, Progress]:
    """take_next inside the caller's transaction, which holds task_lock(task_id) and has
    checked the rater. ``db_key`` names the database for adaptive scheduling's cached fit.

    ``besides``: an open assignment to pass over (the one on screen, when the next is read
    ahead while the rater reads it); it still counts among the open ones. ``store`` False:
    a new assignment is chosen but not written (peek_next), and no lock is needed."""
    if store:
        queue.lock_task(cur, task_id)  # other processes (PostgreSQL) wait here too
    row, n_open, done = queue.rater_state(cur, rater_id, task_id, besides)
    open_pairs = None
    if row is None:  # its place in the rater's sequence: after all they hold open
        row, open_pairs = _new_assignment(cur, config, rater_id, task_id, done + n_open,
                                          db_key, store)
        n_open += row is not None
    if open_pairs is None:
        open_pairs = open_pairs_left(cur, db_key, config, task_id, rater_id)
    return row, Progress(done, open_pairs + n_open)


def open_pairs_left(cur: Any, db_key: str, config: TaskConfig, task_id: str,
                    rater_id: str) -> int:
    """Regular pairs the rater could still be given: none once an adaptive task's target is
    met (``db_key`` names the database for adaptive scheduling's cached fit)."""
    left = queue.count_open_pairs(cur, task_id, rater_id, config.overlap)
    if left and config.scheduling == "adaptive":
        from judge_app.services import adaptive

        if adaptive.target_met_in(cur, db_key, task_id, config):
            return 0
    return left


def _new_assignment(cur: Any, config: TaskConfig, rater_id: str, task_id: str, done: int,
                    db_key: str, store: bool = True) -> tuple[Any, int | None]:
    """A new assignment row (None: nothing left; stored unless ``store`` is False), and how
    many regular pairs the rater could still be given after it, when the candidate query
    counted them (else None)."""
    # Only the lookups this draw can use: the purpose's roll is known from `done` alone.
    maybe_gold, maybe_retest = purposes_in_reach(config, rater_id, done)
    gold = queue.gold_candidates(cur, task_id, rater_id) if maybe_gold else []
    # No swapped re-test in a task that reveals models: the rater has seen who wrote what.
    retest = maybe_retest and not config.reveal_models
    retests = queue.retest_candidates(cur, task_id, rater_id) if retest else []
    purpose = draw_purpose(
        config, rater_id, done, gold_available=bool(gold), retest_available=bool(retests)
    )
    retest_of, open_after = None, None
    if purpose == "gold":
        pair = choose_next_pair(dict.fromkeys(gold, 0), set(), 1, rater_id, config.seed)
        left = choose_left_side(config.seed, rater_id, str(pair), purpose)
    elif purpose == "retest":
        earlier = retests[0]
        pair, retest_of = earlier["pair_id"], earlier["assignment_id"]
        left = "b" if earlier["left_side"] == "a" else "a"
    else:  # pairs a judge escalated to people come first
        candidates = judges.escalated_candidates(cur, task_id, rater_id, config.overlap)
        if not candidates and config.scheduling == "adaptive":
            from judge_app.services import adaptive

            choice = adaptive.next_pair(cur, db_key, config, task_id, rater_id, done)
            pair, open_after = choice.pair_id, (0 if choice.met else None)
        else:
            if not candidates:
                candidates, open_pairs = queue.candidate_pairs(
                    cur, task_id, rater_id, config.overlap)
                # The pair taken leaves the open pairs for the rater's open assignments.
                open_after = max(0, open_pairs - 1) if candidates else 0
            pair = choose_next_pair(candidates, set(), config.overlap, rater_id, config.seed)
        if pair is None:
            return None, open_after
        left = choose_left_side(config.seed, rater_id, pair, purpose)
    row = {
        "assignment_id": uuid.uuid4().hex, "task_id": task_id, "pair_id": pair,
        "rater_id": rater_id, "left_side": left, "purpose": purpose, "retest_of": retest_of,
    }
    if store:
        queue.insert_assignment(cur, row)
    return row, open_after


@dataclass(frozen=True)
class Peek:
    """The assignment a vote on the pair on screen will give next, read while the rater
    reads it: one they already hold, or a new one not stored yet (``new``)."""

    row: dict[str, Any] | None  # None: nothing left after the pair on screen
    progress: Progress  # as it will be once the pair on screen has its verdict
    marks: tuple[int, int, int] | None  # a new row's storage.queue.draw_marks, else None

    @property
    def new(self) -> bool:
        return self.marks is not None


def peek_next(db: Database, config: TaskConfig, task_id: str, session_id: str,
              after: str) -> Peek:
    """What take_next will give once ``after`` has its verdict, without taking it: nothing
    is written, so a rater who leaves holds only the pair on screen and others may still be
    given the pair peeked (the vote then takes another: confirm_in)."""
    with db.transaction() as cur:
        # One snapshot, no write: the marks must count the very rows the draw saw.
        dialect_of(cur).read_one_snapshot(cur)
        rater_id = sessions.check(cur, session_id, task_id)["rater_id"]
        row, now = take_next_in(cur, config, rater_id, task_id, db.key, after, store=False)
        # A row read back (one the rater holds) carries created_at; a new one is not stored.
        marks = (queue.draw_marks(cur, row)
                 if row is not None and "created_at" not in row else None)
    return Peek(row, Progress(now.done + 1, max(0, now.remaining - 1)), marks)


def confirm_in(cur: Any, rater_id: str, task_id: str, peek: Peek) -> bool:
    """Inside the vote's transaction (task_lock held, the vote just stored): whether the
    peeked assignment is still the rater's next, storing it when new. False (nothing
    written) when anything changed meanwhile; the caller then takes the next pair the whole
    way (take_next_in).

    A new one still holds when the rows its draw was decided on are the same but for one,
    the vote's own or its twin from another tab (storage.queue.draw_marks): the rater holds
    nothing else open and never had the pair, and the pair's coverage is what it was."""
    if peek.row is None:
        return False
    queue.lock_task(cur, task_id)
    if peek.marks is None:  # one the rater held: still their oldest open one?
        held, _, _ = queue.rater_state(cur, rater_id, task_id)
        return held is not None and held["assignment_id"] == peek.row["assignment_id"]
    their_rows, *pair_rows = peek.marks
    if queue.draw_marks(cur, peek.row) != (their_rows + 1, *pair_rows):
        return False  # e.g. others took the pair meanwhile, or an undo in another tab
    queue.insert_assignment(cur, peek.row)
    return True


def blind_view(db: Database, assignment: dict[str, Any],
               config: TaskConfig | None = None) -> BlindPair:
    config = config or load_task_config(db, assignment["task_id"])
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
        _, n_open, done = queue.rater_state(cur, rater_id, task_id)
        remaining = open_pairs_left(cur, db.key, config, task_id, rater_id)
    return Progress(done, remaining + n_open)


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
    return sides(assignment["left_side"], pair["model_a"], pair["model_b"])


def sides(left_side: str, model_a: str, model_b: str) -> dict[str, str]:
    """The pair's models as the rater saw them: left and right."""
    left_a = left_side == "a"
    return {"left": model_a if left_a else model_b, "right": model_b if left_a else model_a}
