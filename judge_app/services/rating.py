"""What the pair page needs in one call, and the client id that makes a submit idempotent."""

from __future__ import annotations

from dataclasses import dataclass

from judge_app.core.types import TaskConfig
from judge_app.services import sessions
from judge_app.services.queue import (
    BlindPair,
    Progress,
    load_task_config,
    next_assignment,
    progress,
)
from judge_app.storage import queue as queue_store
from judge_app.storage import verdicts
from judge_app.storage.db import Database


@dataclass(frozen=True)
class RatingView:
    config: TaskConfig
    pair: BlindPair | None  # None: nothing left for this rater in this task
    progress: Progress


def rating_view(db: Database, session_id: str, task_id: str) -> RatingView:
    """The pair page of the rater behind a browser session (checked first)."""
    rater_id = sessions.require(db, session_id, task_id)["rater_id"]
    pair = next_assignment(db, rater_id, task_id, session_id=session_id)
    return RatingView(load_task_config(db, task_id), pair, progress(db, rater_id, task_id))


def task_settings(db: Database, task_id: str) -> TaskConfig:
    return load_task_config(db, task_id)


def done_count(db: Database, rater_id: str, task_id: str) -> int:
    """How many verdicts the rater has standing in the task."""
    with db.cursor() as cur:
        return queue_store.count_done(cur, rater_id, task_id)


def client_id(db: Database, assignment_id: str) -> str:
    """Same id for every rerun and double click on an assignment; a new one after each undo.

    Read from the database, so it survives a page refresh (session state does not).
    """
    with db.cursor() as cur:
        attempt = verdicts.count_retractions(cur, assignment_id)
    return f"{assignment_id}:{attempt}"
