from __future__ import annotations

from pathlib import Path

import pytest

from judge_app.errors import SchemaError
from judge_app.storage.db import Database
from judge_app.storage.schema import known_migrations, migrate, open_database, pending


def test_fresh_database_is_fully_migrated(tmp_path: Path) -> None:
    db = open_database(tmp_path / "a.duckdb")
    assert pending(db) == []
    with db.cursor() as cur:
        versions = [r[0] for r in cur.execute("SELECT version FROM schema_migrations").fetchall()]
    assert versions == [m.version for m in known_migrations()]
    assert migrate(db) == []  # idempotent


def test_refuses_database_newer_than_code(tmp_path: Path) -> None:
    db = open_database(tmp_path / "b.duckdb")
    with db.cursor() as cur:
        cur.execute("INSERT INTO schema_migrations VALUES (999, 'future', 'x', now())")
    with pytest.raises(SchemaError, match="999"):
        pending(Database(tmp_path / "b.duckdb"))


def test_detects_edited_migration(tmp_path: Path) -> None:
    db = open_database(tmp_path / "c.duckdb")
    with db.cursor() as cur:
        cur.execute("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1")
    with pytest.raises(SchemaError, match="different content"):
        pending(db)


def test_pending_lists_what_is_missing(tmp_path: Path) -> None:
    db = Database(tmp_path / "d.duckdb")
    assert [m.version for m in pending(db)] == [m.version for m in known_migrations()]
