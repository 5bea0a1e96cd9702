"""What the pair page needs in one call, with as few queries as a vote allows.

A vote is the rater's hot path (thousands a day, each one a wait). While the rater reads a
pair, the page takes the next one ahead (``take_ahead``, in a thread of its own); the vote
(``submit``) then reads the assignment and stores the verdict in one transaction that checks
the session (one commit), and the pair area draws the view taken ahead without asking again.
Without a view taken ahead, the same transaction also takes the next assignment and its texts
are read after it. ``tests/test_rater_work.py`` counts these statements.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from judge_app.core.types import TaskConfig
from judge_app.services import sessions, verdicts
from judge_app.services.queue import (
    BlindPair,
    Progress,
    blind_view,
    load_task_config,
    open_pairs_left,
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
           ahead: RatingView | None = None) -> tuple[dict[str, str] | None, RatingView]:
    """Record a vote and return what the page shows next: the models it reveals (when the
    task reveals them) and the next pair, taken in the vote's own transaction.

    ``ahead``: the view take_ahead gave while the rater read this pair. The vote then only
    stores the verdict and the page shows that view at once; a repeat (a second Enter, two
    tabs) or nothing taken ahead goes the whole way."""
    if ahead is not None and ahead.pair is not None:
        voted = verdicts.record_and_next(db, session_id, v, take=False)
        if voted.new:
            return voted.revealed, ahead
    voted = verdicts.record_and_next(db, session_id, v)
    config = load_task_config(db, voted.verdict["task_id"])
    row, progress = voted.next_assignment, voted.progress
    assert progress is not None
    return voted.revealed, RatingView(config, blind_view(db, row, config) if row else None,
                                      progress)


def take_ahead(db: Database, session_id: str, shown: RatingView) -> RatingView:
    """The pair the rater gets after the one on screen, taken while they read it (an
    assignment held like any other: it counts towards its pair's overlap), with the progress
    as it will be once the pair on screen has its verdict. Off the vote's path, so that a
    vote waits only for its own verdict (benchmarks/README.md, the rater's wait)."""
    assert shown.pair is not None
    config, task_id = shown.config, shown.pair.task_id
    row, now = take_next(db, config, None, task_id, session_id=session_id,
                         besides=shown.pair.assignment_id)
    return RatingView(config, blind_view(db, row, config) if row else None,
                      Progress(now.done + 1, max(0, now.remaining - 1)))


def task_settings(db: Database, task_id: str) -> TaskConfig:
    return load_task_config(db, task_id)


def done_count(db: Database, rater_id: str, task_id: str) -> int:
    """How many verdicts the rater has standing in the task."""
    with db.cursor() as cur:
        return queue_store.count_done(cur, rater_id, task_id)
