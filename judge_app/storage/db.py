"""Sharing one DuckDB file between processes.

DuckDB lets only one process open a file at a time, so every process holds the file only
while it has work in flight: the first unit of work opens the connection, the last one to
finish closes it once the process has been idle for a moment, and each unit of work uses its
own cursor (DuckDB cursors are safe to use from different threads).

A process that finds the file locked touches ``<db>.wait`` and retries with backoff; a
holder that sees a fresh wait marker stops starting new units of work, lets the ones in flight
finish, and closes the file, so the waiter gets its turn even while the holder is busy.
"""

from __future__ import annotations

import atexit
import os
import random
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from judge_app.errors import DatabaseBusy, DiskFull

DEFAULT_DB = Path("db/judge.duckdb")
# What a transaction that lost a race with another raises; callers retry on these, so the
# services need not know which database is underneath.
WRITE_CONFLICTS: tuple[type[Exception], ...] = (
    duckdb.TransactionException, duckdb.ConstraintException,
)
IDLE_CLOSE_SECONDS = 0.3
WAIT_MARKER_FRESH_SECONDS = 1.0


def resolve_db_path(cli_value: str | os.PathLike[str] | None) -> Path:
    """--db, else $JUDGE_APP_DB, else db/judge.duckdb."""
    if cli_value:
        return Path(cli_value)
    env = os.environ.get("JUDGE_APP_DB")
    return Path(env) if env else DEFAULT_DB


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return "Could not set lock" in text or "Conflicting lock" in text


class _Holder:
    """Per-process state of one database file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.wait_marker = path.with_name(path.name + ".wait")
        self.cond = threading.Condition()
        self.conn: duckdb.DuckDBPyConnection | None = None
        self.in_flight = 0
        self.yielding = False
        self.last_release = 0.0
        self.opens = 0  # how many times this process opened the file (for tests and benchmarks)
        self._closer: threading.Thread | None = None

    def _someone_waits(self) -> bool:
        try:
            age = time.time() - self.wait_marker.stat().st_mtime
        except FileNotFoundError:
            return False
        return age < WAIT_MARKER_FRESH_SECONDS

    def _signal_waiting(self) -> None:
        try:
            self.wait_marker.touch()
        except OSError:
            pass

    def acquire(self, timeout: float) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + timeout
        delay = 0.005
        signalled = False
        with self.cond:
            while True:
                if self.conn is not None and not self.yielding:
                    if self._someone_waits():
                        self.yielding = True
                        self._close_if_idle()
                        continue
                    self.in_flight += 1
                    return self.conn
                if self.conn is not None:  # yielding: let the units in flight finish
                    self.cond.wait(0.05)
                    continue
                if self.yielding:
                    # We just handed the file over: give the waiter a moment to take it.
                    self.yielding = False
                    self.cond.wait(0.05)
                try:
                    self.conn = duckdb.connect(str(self.path))
                    self.opens += 1
                    self._start_closer()
                    if signalled:  # our own marker; other waiters touch it again soon
                        self.wait_marker.unlink(missing_ok=True)
                    continue
                except duckdb.Error as exc:
                    if not _is_lock_error(exc):
                        raise
                if time.monotonic() > deadline:
                    raise DatabaseBusy(
                        f"{self.path} stayed locked by another process for {timeout:.0f} s; "
                        "is a stuck judge-app process holding it?"
                    )
                self._signal_waiting()
                signalled = True
                self.cond.wait(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.2)

    def release(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.last_release = time.monotonic()
            if self.yielding:
                self._close_if_idle()
            self.cond.notify_all()

    def _close_if_idle(self) -> None:
        if self.in_flight == 0 and self.conn is not None:
            self.conn.close()
            self.conn = None
            self.cond.notify_all()

    def _start_closer(self) -> None:
        if self._closer is not None and self._closer.is_alive():
            return
        self._closer = threading.Thread(target=self._close_when_idle, daemon=True)
        self._closer.start()

    def _close_when_idle(self) -> None:
        """Hand the file back to the system when nobody in this process needs it."""
        while True:
            time.sleep(IDLE_CLOSE_SECONDS / 3)
            with self.cond:
                if self.conn is None:
                    return
                idle = time.monotonic() - self.last_release > IDLE_CLOSE_SECONDS
                if self.in_flight == 0 and (idle or self._someone_waits()):
                    self._close_if_idle()
                    return

    def close(self) -> None:
        with self.cond:
            while self.in_flight:
                self.cond.wait(0.05)
            self._close_if_idle()


_holders: dict[Path, _Holder] = {}
_holders_lock = threading.Lock()


def _holder_for(path: Path) -> _Holder:
    key = path.resolve()
    with _holders_lock:
        holder = _holders.get(key)
        if holder is None:
            holder = _holders[key] = _Holder(key)
        return holder


@atexit.register
def _close_all() -> None:
    """Close files before the interpreter tears down threads that might still touch them."""
    with _holders_lock:
        holders = list(_holders.values())
    for holder in holders:
        with holder.cond:
            if holder.conn is not None:
                holder.conn.close()
                holder.conn = None


_FULL = ("No space left on device", "File too large", "Disk quota exceeded")


def _disk_full(exc: BaseException, path: Path) -> DiskFull | None:
    """DuckDB's write error on a full disk, as the app's error naming the file."""
    text = str(exc)
    if not isinstance(exc, duckdb.Error | OSError) or not any(s in text for s in _FULL):
        return None
    named = re.search(r'file "([^"]+)"', text)
    return DiskFull(named.group(1) if named else str(path),
                    "the transaction was rolled back; nothing of it was kept")


class Database:
    """Handle on one judge_app database file; cheap to create, safe to share across threads."""

    def __init__(self, path: str | os.PathLike[str], *, wait_seconds: float = 120.0) -> None:
        self.path = Path(path)
        self.wait_seconds = wait_seconds
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._holder = _holder_for(self.path)

    @contextmanager
    def cursor(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One unit of work in autocommit mode."""
        conn = self._holder.acquire(self.wait_seconds)
        try:
            cur = conn.cursor()
            try:
                yield cur
            finally:
                cur.close()
        finally:
            self._holder.release()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One unit of work that lands whole or not at all."""
        with self.cursor() as cur:
            cur.execute("BEGIN TRANSACTION")
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException as exc:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # the failed statement already ended the transaction
                full = _disk_full(exc, self.path)
                if full is not None:
                    raise full from exc
                raise

    @property
    def opens(self) -> int:
        return self._holder.opens

    def close(self) -> None:
        """Release the file now (waits for units of work in flight)."""
        self._holder.close()
