"""The rater's next pair, read while they read the one on screen (services.rating.take_ahead).

A vote then stores its verdict and takes that pair while it is being drawn. The work starts
a moment after the pair is sent (``DELAY_S``): started at once, it competed for the CPU with
sending the pair and with the browser drawing it, and the vote's wait did not shrink
(measured in benchmarks/README.md, the rater's wait). A rater reads for seconds; a vote that
comes sooner starts the work at once and waits for it (it is what the vote would do itself).
The result waits in the tab's session state, tied to the assignment it follows; any failure
leaves the vote to take its next pair itself, as without this. Nothing is written ahead: a
rater who leaves holds no pair but the one on screen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import streamlit as st

from judge_app.services import rating
from judge_app.services.database import Database
from judge_app.services.rating import Ahead, RatingView

KEY = "taken_ahead"  # session state: the _Reading of the assignment on screen
DELAY_S = 0.25  # after the pair is sent, before the next is read
WAIT_S = 10.0  # a vote waits at most this long for the pair read ahead
THREAD_NAME = "judge-app-ahead"
VOTE_THREAD_NAME = "judge-app-vote"
_log = logging.getLogger(__name__)
T = TypeVar("T")


class _Reading:
    """The pair after ``shown``, read in a thread of its own after DELAY_S, or at once when
    the vote asks for it sooner."""

    def __init__(self, db: Database, session_id: str, shown: RatingView) -> None:
        assert shown.pair is not None
        self.assignment_id = shown.pair.assignment_id
        self.ahead: Future[Ahead] = Future()
        self._now = threading.Event()
        threading.Thread(target=self._read, args=(db, session_id, shown), name=THREAD_NAME,
                         daemon=True).start()

    def _read(self, db: Database, session_id: str, shown: RatingView) -> None:
        self._now.wait(DELAY_S)
        self.ahead.set_running_or_notify_cancel()
        try:
            self.ahead.set_result(rating.take_ahead(db, session_id, shown))
        except BaseException as exc:  # noqa: BLE001 - handed to the vote, which decides
            self.ahead.set_exception(exc)

    def result(self) -> Ahead:
        self._now.set()
        return self.ahead.result(timeout=WAIT_S)


def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """``fn`` run in a thread of its own (a vote stored while the next pair is drawn)."""
    future: Future[T] = Future()

    def run() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - raised again where the result is read
            future.set_exception(exc)

    threading.Thread(target=run, name=VOTE_THREAD_NAME, daemon=True).start()
    return future


def prepare(db: Database, session_id: str, shown: RatingView) -> None:
    """Start reading the pair after ``shown``, once per pair on screen."""
    if shown.pair is None:
        return
    held = st.session_state.get(KEY)
    if held is None or held.assignment_id != shown.pair.assignment_id:
        st.session_state[KEY] = _Reading(db, session_id, shown)


def drop() -> None:
    """Forget the pair read ahead: an undo changed what the rater has done, so its progress
    (and which pair comes next) no longer holds."""
    st.session_state.pop(KEY, None)


def take(assignment_id: str) -> Ahead | None:
    """What was read ahead after ``assignment_id``; None if there is none to use."""
    held: _Reading | None = st.session_state.pop(KEY, None)
    if held is None or held.assignment_id != assignment_id:
        return None
    try:
        return held.result()
    except Exception:  # noqa: BLE001 - the vote takes its next pair itself
        _log.warning("reading the next pair ahead failed; the vote takes it", exc_info=True)
        return None
