"""What the pair page needs in one call, with as few queries as a vote allows.

A vote is the rater's hot path (thousands a day, each one a wait). While the rater reads a
pair, the page reads the next one ahead (``take_ahead``, in a thread of its own, writing
nothing); the vote (``submit``) then reads the assignment, stores the verdict and takes that
next assignment if it still holds, in one transaction that checks the session (one commit),
and the pair area draws the view read ahead without asking again. Otherwise the same
transaction takes the next assignment the whole way and its texts are read after it.
``tests/test_rater_work.py`` counts these statements.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from judge_app.core.types import TaskConfig
from judge_app.services import sessions, verdicts
from judge_app.services.queue import (
    BlindPair,
    Peek,
    Progress,
    blind_view,
    load_task_config,
    open_pairs_left,
    peek_next,
    take_next,
)
from judge_app.services.verdicts import VerdictInput
from judge_app.storage import queue as queue_store
from judge_app.storage.db import Database


@dataclass(frozen=True)
class RatingView:
    config: TaskConfig
    pair: BlindPair | None  # None: nothing left for this rater in this task
    progress: Progress


def rating_view(db: Database, session_id: str, task_id: str, *,
                shown: RatingView | None = None, after_vote: bool = False) -> RatingView:
    """The pair page of the rater behind a browser session (checked first).

    ``shown`` is the view this tab drew last: while its assignment is still the rater's open
    one, its texts and progress are drawn again without reading them (a click that changes
    no data, such as choosing an outcome). ``after_vote`` says the tab's assignment was just
    closed by a verdict or skip: the next one is taken at once, under the task's lock (an
    assignment still open, after an undo or from another tab, comes first there too).
    """
    config = load_task_config(db, task_id)
    if not after_vote:
        with db.cursor() as cur:  # the pair on screen again: no lock, no write
            rater_id = sessions.check(cur, session_id, task_id)["rater_id"]
            row, n_open, done = queue_store.rater_state(cur, rater_id, task_id)
            left = 0
            if row is not None:
                if shown is not None and shown.pair is not None and (
                        shown.pair.assignment_id == row["assignment_id"]):
                    return dataclasses.replace(shown, config=config)
                left = open_pairs_left(cur, db.key, config, task_id, rater_id)
        if row is not None:
            return RatingView(config, blind_view(db, row, config), Progress(done, left + n_open))
    row, progress = take_next(db, config, None, task_id, session_id=session_id)
    return RatingView(config, blind_view(db, row, config) if row else None, progress)


def submit(db: Database, session_id: str, v: VerdictInput, *,
           ahead: Ahead | None = None) -> tuple[dict[str, str] | None, RatingView]:
    """Record a vote and return what the page shows next: the models it reveals (when the
    task reveals them) and the next pair, taken in the vote's own transaction.

    ``ahead``: what take_ahead read while the rater read this pair. When its pair is still
    the rater's next, the vote takes it and returns its view as it is (the page may already
    be drawing it); otherwise the next pair is taken and read as without it."""
    peek = ahead.peek if ahead is not None and ahead.view.pair is not None else None
    voted = verdicts.record_and_next(db, session_id, v, peek=peek)
    if ahead is not None and peek is not None and voted.next_assignment is peek.row:
        return voted.revealed, ahead.view
    config = load_task_config(db, voted.verdict["task_id"])
    row = voted.next_assignment
    return voted.revealed, RatingView(config, blind_view(db, row, config) if row else None,
                                      voted.progress)


@dataclass(frozen=True)
class Ahead:
    """The pair a vote on the one on screen will most likely give next, read (not taken)
    while the rater reads: its view, drawn at once after the vote, and the peek the vote
    confirms."""

    view: RatingView
    peek: Peek


def take_ahead(db: Database, session_id: str, shown: RatingView) -> Ahead:
    """The pair the rater gets after the one on screen, read while they read it, with the
    progress as it will be once the pair on screen has its verdict. Off the vote's path, so
    that a vote waits only for its own writes (benchmarks/README.md, the rater's wait);
    nothing is held, so a rater who leaves keeps no pair from others."""
    assert shown.pair is not None
    config, task_id = shown.config, shown.pair.task_id
    peek = peek_next(db, config, task_id, session_id, shown.pair.assignment_id)
    view = blind_view(db, peek.row, config) if peek.row else None
    return Ahead(RatingView(config, view, peek.progress), peek)


def task_settings(db: Database, task_id: str) -> TaskConfig:
    return load_task_config(db, task_id)


def done_count(db: Database, rater_id: str, task_id: str) -> int:
    """How many verdicts the rater has standing in the task."""
    with db.cursor() as cur:
        return queue_store.count_done(cur, rater_id, task_id)
