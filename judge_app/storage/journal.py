"""The calls journal: where a run that owns its DuckDB file keeps answered calls durable
before they are in the database.

Why: a DuckDB autocommit per group of answers costs 1.0-1.5 ms of CPU a call, more than the
whole budget of a call (benchmarks/README.md); an appended, ``fdatasync``'d line costs about
0.1 ms. So, when this process owns the file (storage/db.py), each group of answered calls is
appended as one JSON line to ``<db>.calls-journal/<run id>-<segment>.jsonl`` and flushed to
disk before the group's workers may start another call (the SIGKILL bound: at most the calls
in flight are paid and not durable). About once a second, and at the end of the run, the
journaled rows go into DuckDB in one statement per table (a plain INSERT, or ``ON CONFLICT
DO NOTHING`` when a key is stored already), and only then is their segment deleted.

Whoever opens the file next as its owner replays the segments left behind (a killed run)
before anything reads the calls tables: idempotent, so a crash mid-replay or a replay twice
changes nothing. A last line without its newline, or one that is not JSON, is a write that
was torn by the kill: it was never acknowledged (its ``fdatasync`` had not returned), so its
calls were still in flight, and it is skipped.

PostgreSQL, and runs working through another process's owner, never journal: other
processes must see their rows at once (claims, cache lookups).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from judge_app.storage.copy import columns_of
from judge_app.storage.frames import append_new_rows

if TYPE_CHECKING:
    import duckdb

    from judge_app.storage.db import Database
    from judge_app.storage.owner import Owner

Row = dict[str, Any]
JOURNAL_SUFFIX = ".calls-journal"
FLUSH_ENV = "JUDGE_APP_JOURNAL_FLUSH_S"  # seconds between moves into DuckDB (tests: long)
DEFAULT_FLUSH_S = 1.0
TABLES = frozenset({"judge_calls", "generation_calls"})  # the only tables a journal fills


def journal_dir(db_file: Path) -> Path:
    """The folder beside the database file that holds its journals."""
    return db_file.with_name(db_file.name + JOURNAL_SUFFIX)


def flush_interval() -> float:
    raw = os.environ.get(FLUSH_ENV, "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_FLUSH_S
    except ValueError:
        return DEFAULT_FLUSH_S


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, date):
        return {"$d": value.isoformat()}
    raise TypeError(f"cannot journal a {type(value).__name__}")


def _decode(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        if "$dt" in obj:
            return datetime.fromisoformat(obj["$dt"])
        if "$d" in obj:
            return date.fromisoformat(obj["$d"])
    return obj


def encode_group(table: str, rows: list[Row]) -> bytes:
    """One group of rows as one line: the unit that is acknowledged, or torn, whole."""
    return (json.dumps({"table": table, "rows": rows}, default=_encode,
                       separators=(",", ":")) + "\n").encode()


def read_groups(path: Path) -> list[tuple[str, list[Row]]]:
    """The complete groups of a segment; a torn or unreadable line is skipped (never
    acknowledged), with a note on stderr when it is not the last one."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    groups: list[tuple[str, list[Row]]] = []
    for n, line in enumerate(lines):
        last = n == len(lines) - 1  # no newline after it: torn by the kill, or empty
        if last or not line.strip():
            continue
        try:
            group = json.loads(line, object_hook=_decode)
            table, rows = group["table"], group["rows"]
        except (ValueError, KeyError, TypeError):
            print(f"warning: {path}: line {n + 1} is not a journaled group; skipped",
                  file=sys.stderr)
            continue
        if table not in TABLES or not isinstance(rows, list):
            print(f"warning: {path}: line {n + 1} names no calls table; skipped",
                  file=sys.stderr)
            continue
        groups.append((table, rows))
    return groups


def insert_groups(cur: duckdb.DuckDBPyConnection, groups: list[tuple[str, list[Row]]],
                  known: dict[str, list[str]]) -> int:
    """Insert journaled rows, keeping any key already stored: one statement per table, in
    autocommit (each all or nothing; a plain INSERT unless a key is stored already, the
    cheap path). Columns are the table's own (a journal written before a migration fits)."""
    by_table: dict[str, list[Row]] = {}
    for table, rows in groups:
        by_table.setdefault(table, []).extend(rows)
    added = 0
    for table, rows in by_table.items():
        if table not in TABLES:  # never a name from a file into SQL unchecked
            continue
        if table not in known:  # looked up once per run
            known[table] = columns_of(cur, table)
        have = known[table]
        columns = [c for c in have if any(c in r for r in rows)]
        added += append_new_rows(cur, table, columns, rows)
    return added


def replay(conn: duckdb.DuckDBPyConnection, db_file: Path) -> int:
    """Move every journal left beside ``db_file`` into it, then delete it; run by the file's
    new owner before anything reads the calls tables. Returns the rows added."""
    folder = journal_dir(db_file)
    if not folder.is_dir():
        return 0
    segments = sorted(folder.glob("*.jsonl"))
    if not segments:
        return 0
    groups = [g for seg in segments for g in read_groups(seg)]
    cur = conn.cursor()
    try:
        added = insert_groups(cur, groups, {})
    finally:
        cur.close()
    for seg in segments:  # only now: their rows are committed
        seg.unlink(missing_ok=True)
    return added


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CallJournal:
    """One run's journal: `append` a group (durable when it returns), `flush` into DuckDB.

    Appends happen only while the owner the run started under still holds the file (a unit
    of work of that owner); once it let go, groups are stored through ``fallback`` (the
    group commit), so no row is ever written to a segment that a new owner may have
    replayed and deleted."""

    def __init__(self, db: Database, owner: Owner, run_id: str,
                 fallback: Callable[[str, list[Row]], None]) -> None:
        self.db, self.owner, self.run_id = db, owner, run_id
        self.folder = journal_dir(owner.path)
        self.interval = flush_interval()
        self._fallback = fallback
        self._lock = threading.Lock()  # appends against a segment's rotation
        self._flushing = threading.Lock()  # one flush at a time (the periodic one, the last)
        self._segment = 0
        self._fd: int | None = None
        self._path: Path | None = None
        # segments written and not yet in DuckDB: (path, groups), oldest first
        self._closed: list[tuple[Path, list[tuple[str, list[Row]]]]] = []
        self._groups: list[tuple[str, list[Row]]] = []
        self._columns: dict[str, list[str]] = {}  # the table's columns, looked up once
        self.pending: set[str] = set()  # call keys journaled, not yet in DuckDB
        self._last_flush = time.monotonic()

    def due(self) -> bool:
        """Whether the flush interval has passed since the last flush."""
        return time.monotonic() - self._last_flush >= self.interval

    def in_db(self, key: str) -> bool:
        """Whether a call this run answered is in DuckDB (not only in the journal)."""
        return key not in self.pending

    def append(self, table: str, rows: list[Row]) -> None:
        """Make one group durable (the writer's thread); returns once it is on disk."""
        if not self.owner.enter():
            self._fallback(table, rows)
            return
        try:
            line = encode_group(table, rows)
            with self._lock:
                if self._fd is None:
                    self._open_segment()
                assert self._fd is not None
                view = memoryview(line)
                while view:  # a regular file may take fewer bytes than asked
                    view = view[os.write(self._fd, view):]
                os.fdatasync(self._fd)
                self._groups.append((table, rows))
                self.pending.update(r["call_key"] for r in rows)
        finally:
            self.owner.leave()

    def _open_segment(self) -> None:
        self.folder.mkdir(exist_ok=True)
        self._segment += 1
        path = self.folder / f"{self.run_id}-{self._segment:06d}.jsonl"
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._path = path
        _fsync_dir(self.folder)  # the new name survives a power cut, not only a kill

    def _rotate(self) -> None:
        with self._lock:
            if self._fd is not None and self._path is not None:
                os.close(self._fd)
                self._closed.append((self._path, self._groups))
            self._fd, self._path, self._groups = None, None, []

    def flush(self) -> None:
        """Move every group appended so far into DuckDB (one statement per table), then
        delete their segments; their calls count as in DuckDB from then on."""
        with self._flushing:
            self._rotate()
            if not self._closed:
                return
            groups = [g for _, segment in self._closed for g in segment]
            with self.db.cursor() as cur:
                insert_groups(cur, groups, self._columns)
            for path, _ in self._closed:  # only now: their rows are committed
                path.unlink(missing_ok=True)
            self._closed.clear()
            self._last_flush = time.monotonic()
            self.pending.difference_update(r["call_key"] for _, rows in groups for r in rows)


async def flush_when_due(journal: CallJournal | None, *, final: bool = False) -> None:
    """A run's journaled calls into DuckDB, when due (or at the end of the run), off the
    event loop."""
    if journal is not None and (final or journal.due()):
        await asyncio.to_thread(journal.flush)


def open_journal(db: Database, run_id: str,
                 fallback: Callable[[str, list[Row]], None]) -> CallJournal | None:
    """A journal for this run when this process owns the DuckDB file; None otherwise
    (PostgreSQL, or a run through another process's owner: they keep the group commit)."""
    if db.dialect.is_postgres:
        return None
    owner = db.local_owner()
    if owner is None:
        return None
    return CallJournal(db, owner, run_id, fallback)
