"""Numbered migrations shipped in the package, applied in order, each in one transaction.

DuckDB's are in migrations/, PostgreSQL's twins (same numbers and names, same end state, in
PostgreSQL's spelling) in migrations/postgresql/. A new migration NNN needs both files; the
version and checksum rules are the same for both (tests/test_postgres_schema.py checks that
the two folders list the same migrations)."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from judge_app.errors import DatabaseFileError, SchemaError
from judge_app.storage.db import Database
from judge_app.storage.dialect import DUCKDB, Dialect

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_migrated: set[Path] = set()
_migrated_lock = threading.Lock()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def known_migrations(dialect: Dialect = DUCKDB) -> list[Migration]:
    folder = resources.files("judge_app.storage") / "migrations"
    if dialect.is_postgres:
        folder = folder / "postgresql"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def applied_versions(db: Database) -> dict[int, str]:
    with db.cursor() as cur:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name VARCHAR NOT NULL, checksum VARCHAR NOT NULL, "
            "applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
        )
        rows = cur.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    return {int(v): str(c) for v, c in rows}


def pending(db: Database) -> list[Migration]:
    """Migrations this code has that the database lacks; refuses a database newer than the code."""
    applied = applied_versions(db)
    known = known_migrations(db.dialect)
    newest_known = known[-1].version if known else 0
    if applied and max(applied) > newest_known:
        raise SchemaError(
            f"{db.name} has schema version {max(applied)}, but this judge_app knows only up to "
            f"{newest_known}. Upgrade judge_app (pip install -U judge-app) to open it."
        )
    for m in known:
        if m.version in applied and applied[m.version] != m.checksum:
            raise SchemaError(
                f"{db.name}: migration {m.version:03d}_{m.name} was applied with different "
                "content than this judge_app ships; the database was made by another build."
            )
    return [m for m in known if m.version not in applied]


def migrate(db: Database) -> list[Migration]:
    """Bring the schema up to date; returns what was applied."""
    done = []
    for m in pending(db):
        with db.transaction() as cur:
            # Re-check inside the transaction: another process may have just applied it
            # (PostgreSQL: processes migrating at once take turns here).
            db.dialect.lock(cur, "judge_app:migrations")
            exists = cur.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", [m.version]
            ).fetchone()
            if exists:
                continue
            try:
                cur.execute(m.sql)
            except _refused_values() as exc:  # rolled back whole: nothing changed
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise SchemaError(
                    f"{db.name}: migration {m.version:03d}_{m.name} cannot upgrade this "
                    f"database, which holds a value it does not allow ({first}); the file "
                    "was left as it was") from exc
            cur.execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                [m.version, m.name, m.checksum],
            )
        done.append(m)
    return done


def _refused_values() -> tuple[type[Exception], ...]:
    """Errors of a migration that meets a value its constraints refuse, on either database."""
    found: list[type[Exception]] = [duckdb.ConstraintException]
    import sys

    if "psycopg" in sys.modules:  # loaded with a PostgreSQL database only
        from psycopg import errors as pg_errors

        found += [pg_errors.CheckViolation, pg_errors.NotNullViolation]
    return tuple(found)


_pg_handles: dict[str, Database] = {}


def connect(target: str | Path, *, wait_seconds: float = 120.0,
            create: bool = True) -> Database:
    """A handle, not migrated: a DuckDB file, or a PostgreSQL database for a URL.

    One PostgreSQL handle (and so one pool of connections) per URL and process: a page opens
    the database on every rerun, which must not mean a new connection each time. (DuckDB
    handles are cheap: the process's one connection lives in its owner, storage/db.py.)"""
    if isinstance(target, str) and target.startswith(("postgresql://", "postgres://")):
        from judge_app.storage.postgres import PgDatabase

        with _migrated_lock:
            handle = _pg_handles.get(target)
            if handle is None:
                handle = _pg_handles[target] = PgDatabase(
                    target, wait_seconds=wait_seconds, create=create)
        return handle
    return Database(target, wait_seconds=wait_seconds, create=create)


def open_database(path: str | Path, *, wait_seconds: float = 120.0,
                  create: bool = True) -> Database:
    """A ready-to-use database, migrated once per process; ``create=False`` refuses a missing
    file (a typo in --db must not make an empty database). ``path`` may be a PostgreSQL URL."""
    db = connect(path, wait_seconds=wait_seconds, create=create)
    key = Path(db.key)
    with _migrated_lock:
        if key not in _migrated:
            try:
                migrate(db)
            except duckdb.Error as exc:  # a file DuckDB opened but cannot read (truncated)
                db.close()
                first = (str(exc).splitlines() or [type(exc).__name__])[0]
                raise DatabaseFileError(
                    f"{db.path} cannot be read as a judge_app database (damaged or "
                    f"truncated?): {first}") from exc
            except BaseException:
                db.close()  # let go of a file this process could not make usable
                raise
            _migrated.add(key)
    return db
