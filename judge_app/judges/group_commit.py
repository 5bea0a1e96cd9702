"""The one writer of answered calls for judge runs and generation runs: a group commit that
workers hand their answers to and do not wait for, with the number of calls paid for but not
yet stored bounded.

Why: a worker that waits for its own answer's commit before its next call spends the commit's
time (a DuckDB statement plus the disk's flush, 5-30 ms on a busy machine) with no request
open, so a run reached only 60-70% of concurrency / latency (benchmarks/README.md).

What a SIGKILL can cost, exactly: a call takes a slot before it is sent (before it can be
paid for) and gives it back only when its answer is stored, or when it ended without an
answer. There are ``concurrency`` slots, so a kill re-pays at most ``concurrency`` calls,
the calls in flight, as before the group commit. What the writer
saves is the queue of one commit per worker: answers that arrive while a commit runs are
stored together by the next one, so a worker waits for one shared commit, not for the
commits of every worker ahead of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

Row = dict[str, Any]


def unstored_limit(concurrency: int) -> int:
    """The most calls a run can have paid for and not stored: what a SIGKILL can re-pay."""
    return max(1, concurrency)


class GroupCommit:
    """Answers go in with `put` (no waiting); `run` stores them in groups, in arrival order.

    ``store`` runs in a worker thread with one group of rows (one autocommit statement or
    one transaction); ``on_stored`` runs in the event loop afterwards, and only then are the
    group's slots given back."""

    def __init__(self, store: Callable[[list[Row]], None], *, concurrency: int,
                 on_stored: Callable[[list[Row]], None] | None = None) -> None:
        self.limit = unstored_limit(concurrency)  # paid for and not stored, at most
        self.unstored = 0
        self.max_unstored = 0
        self.commits = 0
        self._store, self._on_stored = store, on_stored
        self._slots = asyncio.Semaphore(self.limit)
        self._pending: list[Row] = []
        self._wake = asyncio.Event()
        self._closing = False
        self.error: BaseException | None = None

    async def acquire(self) -> None:
        """Take a slot before a call that may be paid for; raises the writer's error."""
        if self.error is not None:
            raise self.error
        await self._slots.acquire()
        if self.error is not None:
            self._slots.release()
            raise self.error
        self.unstored += 1
        self.max_unstored = max(self.max_unstored, self.unstored)

    def release(self) -> None:
        """Give back the slot of a call that ended without an answer to store."""
        self.unstored -= 1
        self._slots.release()

    def put(self, row: Row) -> None:
        """Hand an answered call (holding a slot) to the writer; returns at once."""
        self._pending.append(row)
        self._wake.set()

    async def run(self) -> None:
        """The writer: until `close`, store whatever arrived, one group at a time."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                try:
                    await asyncio.to_thread(self._store, batch)
                except BaseException as exc:
                    self._fail(exc)
                    raise
                self.commits += 1
                try:
                    if self._on_stored is not None:
                        self._on_stored(batch)
                finally:
                    self.unstored -= len(batch)
                    for _ in batch:
                        self._slots.release()
            if self._closing and not self._pending:
                return

    def _fail(self, exc: BaseException) -> None:
        """A failed store stops the run: no further call may start (it could not be kept)."""
        self.error = exc
        for _ in range(self.limit):  # wake every worker waiting for a slot: they raise
            self._slots.release()

    def close(self) -> None:
        """No more answers will come: `run` stores what is pending and returns."""
        self._closing = True
        self._wake.set()
