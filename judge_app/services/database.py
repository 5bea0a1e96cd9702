"""The database as the adapters (UI pages, CLI commands) hold it: a handle they open here and
pass to services, so no adapter imports storage."""

from __future__ import annotations

import os

from judge_app.storage.db import Database, resolve_db_target
from judge_app.storage.schema import open_database

__all__ = ["Database", "open_app_database"]


def open_app_database(path: str | os.PathLike[str] | None, *, create: bool = True) -> Database:
    """The database at `path` (else $JUDGE_APP_DB, else db/judge.duckdb), migrated;
    ``create=False`` refuses a missing file (a typo must not make an empty database).
    A ``postgresql://user@host/dbname`` URL opens that PostgreSQL database instead."""
    return open_database(resolve_db_target(path), create=create)
