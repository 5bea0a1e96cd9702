"""Budget caps that hold across processes: the database ledger behind judges/cost.BudgetGate.

A run with a cap (``--max-cost``) on a task joins the task's open budget *window* (or opens
one); every run with a cap on that task working at the same time, in any process on any
machine, joins the same window. Each paid call reserves its worst case there first (one
conditional UPDATE: admitted only if the window's spent + reserved + this call stays within
the caller's own cap) and settles it with the real cost afterwards. So runs that overlap in
time spend together at most the largest of their caps, and each call is admitted only if
everything spent and reserved in its window stays within its own run's cap. When the last
member leaves, the window closes: a run started later gets a fresh budget, as before.

A member that dies (SIGKILL, power cut, a lost machine) cannot release what it reserved.
Whoever joins the window, or finds a call refused, first checks every member: on PostgreSQL a
member's process holds a session advisory lock named after it (the server drops it with the
dead connection, so the check is exact on any machine); on a DuckDB file (one machine) its
pid, host and process start time (judges/owner.owner_alive). A dead member is marked
'expired' and its reservations go back to the window. Its calls in flight at the time of
death (at most its concurrency) are counted at 0: whether the endpoint charged them is
unknown, the same bound as the answers a SIGKILL loses.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from judge_app.core.clock import stored_now
from judge_app.core.vocabulary import BudgetStep
from judge_app.judges.owner import current_owner, owner_alive
from judge_app.storage import budgets as store
from judge_app.storage.db import WRITE_CONFLICTS, Database, SessionLocks

LOCK_PREFIX = "judge_app:budget-member:"
RETRIES = 200
T = TypeVar("T")


def task_scope(task_id: str) -> str:
    """The window judge runs and generation runs on one task share."""
    return f"task:{task_id}"


class SharedBudget:
    """This process's membership of a budget window (judges/cost.Ledger)."""

    def __init__(self, db: Database, scope: str, holder: str, cap: float) -> None:
        self.db, self.scope, self.holder, self.cap = db, scope, holder, cap
        self.member_id = uuid.uuid4().hex
        self.window_no = 0
        self._steps = threading.Lock()
        self.locks: SessionLocks | None = db.session_locks()
        if self.locks is not None and not self.locks.try_lock(LOCK_PREFIX + self.member_id):
            raise RuntimeError("a fresh budget member's lock is taken")  # pragma: no cover

    @classmethod
    def join(cls, db: Database, scope: str, holder: str, cap: float) -> SharedBudget:
        """Join the scope's open window (releasing dead members' reservations first)."""
        member = cls(db, scope, holder, cap)
        try:
            member._join()
        except BaseException:
            member._close_locks()
            raise
        return member

    def _join(self) -> None:
        with self.db.cursor() as cur:
            last = store.current(cur, self.scope)
        if last is not None and not last.closed:
            self.expire_dead(last.window_no)
        row = {"member_id": self.member_id, "scope": self.scope, "holder": self.holder,
               "max_cost_usd": self.cap, **current_owner()}
        self.window_no = self._retrying(partial(_join, member=row))

    # judges/cost.Ledger -------------------------------------------------------------
    def reserve(self, amount: float) -> int | None:
        """None when reserved; else the calls in flight in the window (after releasing what
        dead members held, which may make room: then it tries once more)."""
        waiting = self._try(amount)
        if waiting is not None and self.expire_dead(self.window_no):
            waiting = self._try(amount)
        return waiting

    def _try(self, amount: float) -> int | None:
        return self._retrying(lambda cur: store.reserve(
            cur, self.scope, self.window_no, self.member_id, amount, self.cap, stored_now()))

    def settle(self, reserved: float, actual: float) -> None:
        self._retrying(lambda cur: store.settle(cur, self.scope, self.window_no,
                                                self.member_id, reserved, actual, stored_now()))

    # -------------------------------------------------------------------------------
    def leave(self) -> None:
        """Release what this member still holds; the last member out closes the window."""
        try:
            self._retrying(partial(_end, scope=self.scope, window_no=self.window_no,
                                   member_id=self.member_id, kind="leave"))
        finally:
            self._close_locks()

    def expire_dead(self, window_no: int) -> int:
        """End the window's dead members ('expire') and release their reservations; how
        many."""
        with self.db.cursor() as cur:
            members = store.active_members(cur, self.scope, window_no)
        dead = [m for m in members if m["member_id"] != self.member_id and not self._alive(m)]
        for m in dead:
            self._retrying(partial(_end, scope=self.scope, window_no=window_no,
                                   member_id=str(m["member_id"]), kind="expire"))
        return len(dead)

    def _alive(self, member: dict[str, Any]) -> bool:
        if self.locks is None:
            return owner_alive(member)
        key = LOCK_PREFIX + str(member["member_id"])
        if not self.locks.try_lock(key):
            return True
        self.locks.unlock(key)
        return False

    def _retrying(self, step: Callable[[Any], T]) -> T:
        """One transaction, run again when it lost a race with another one. This process's
        steps take turns (a thread lock): they would only conflict with each other."""
        with self._steps:
            return self._retrying_unlocked(step)

    def _retrying_unlocked(self, step: Callable[[Any], T]) -> T:
        for attempt in range(RETRIES):
            try:
                with self.db.transaction() as cur:
                    return step(cur)
            except WRITE_CONFLICTS:
                if attempt == RETRIES - 1:
                    raise
                time.sleep(min(0.05, 0.001 * 2 ** min(attempt, 6)) * random.random())
        raise AssertionError("unreachable")  # pragma: no cover

    def _close_locks(self) -> None:
        if self.locks is not None:
            self.locks.close()
            self.locks = None


def _join(cur: Any, member: dict[str, Any]) -> int:
    return store.join(cur, member, stored_now())


def _end(cur: Any, scope: str, window_no: int, member_id: str, kind: BudgetStep) -> bool:
    return store.end_member(cur, scope, window_no, member_id, kind, stored_now())


def window_totals(db: Database, scope: str) -> list[dict[str, Any]]:
    """Every window of a scope with its totals, oldest first (tests, diagnostics)."""
    with db.cursor() as cur:
        return store.windows(cur, scope)
