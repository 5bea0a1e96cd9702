"""The rater's next pair, taken while they read the one on screen (services.rating.take_ahead).

A vote then only stores its verdict before the next pair is drawn. The work starts a moment
after the pair is sent (``DELAY_S``): started at once, it competed for the CPU with sending
the pair and with the browser drawing it, and the vote's wait did not shrink (measured in
benchmarks/README.md, the rater's wait). A rater reads for seconds; a vote that comes sooner
starts the work at once and waits for it (it is what the vote would do itself). The result
waits in the tab's session state, tied to the assignment it follows; any failure leaves the
vote to take its next pair itself, as without this.
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
from judge_app.services.rating import RatingView

KEY = "taken_ahead"  # session state: the _Ahead of the assignment on screen
DELAY_S = 0.25  # after the pair is sent, before the next is taken
WAIT_S = 10.0  # a vote waits at most this long for the pair taken ahead
THREAD_NAME = "judge-app-ahead"
_log = logging.getLogger(__name__)
T = TypeVar("T")


class _Ahead:
    """The pair after ``shown``, taken in a thread of its own after DELAY_S, or at once when
    the vote asks for it sooner."""

    def __init__(self, db: Database, session_id: str, shown: RatingView) -> None:
        assert shown.pair is not None
        self.assignment_id = shown.pair.assignment_id
        self.view: Future[RatingView] = Future()
        self._now = threading.Event()
        threading.Thread(target=self._take, args=(db, session_id, shown), name=THREAD_NAME,
                         daemon=True).start()

    def _take(self, db: Database, session_id: str, shown: RatingView) -> None:
        self._now.wait(DELAY_S)
        self.view.set_running_or_notify_cancel()
        try:
            self.view.set_result(rating.take_ahead(db, session_id, shown))
        except BaseException as exc:  # noqa: BLE001 - handed to the vote, which decides
            self.view.set_exception(exc)

    def result(self) -> RatingView:
        self._now.set()
        return self.view.result(timeout=WAIT_S)


def in_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """``fn`` run in a thread of its own (a vote stored while the next pair is drawn)."""
    future: Future[T] = Future()

    def run() -> None:
        future.set_running_or_notify_cancel()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - raised again where the result is read
            future.set_exception(exc)

    threading.Thread(target=run, name="judge-app-vote", daemon=True).start()
    return future


def prepare(db: Database, session_id: str, shown: RatingView) -> None:
    """Start taking the pair after ``shown``, once per pair on screen."""
    if shown.pair is None:
        return
    held = st.session_state.get(KEY)
    if held is None or held.assignment_id != shown.pair.assignment_id:
        st.session_state[KEY] = _Ahead(db, session_id, shown)


def take(assignment_id: str) -> RatingView | None:
    """The view taken ahead after ``assignment_id``; None if there is none to use."""
    held: _Ahead | None = st.session_state.pop(KEY, None)
    if held is None or held.assignment_id != assignment_id:
        return None
    try:
        return held.result()
    except Exception:  # noqa: BLE001 - the vote takes its next pair itself
        _log.warning("taking the next pair ahead failed; the vote takes it", exc_info=True)
        return None
