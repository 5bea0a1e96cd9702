"""Raters (people and judges) and which tasks they may work on."""

from __future__ import annotations

from typing import Any

import duckdb

from judge_app.core.vocabulary import Source
from judge_app.storage.rows import all_rows as _rows
from judge_app.storage.rows import one_row

_FIELDS = "rater_id, source, is_admin, disabled, created_at"


def get_rater(cur: duckdb.DuckDBPyConnection, rater_id: str) -> dict[str, Any] | None:
    cur.execute(f"SELECT {_FIELDS} FROM raters WHERE rater_id = ?", [rater_id])  # noqa: S608
    return one_row(cur)


def rater_by_token_hash(cur: duckdb.DuckDBPyConnection, token_hash: str) -> dict[str, Any] | None:
    cur.execute(f"SELECT {_FIELDS} FROM raters WHERE token_hash = ?", [token_hash])  # noqa: S608
    return one_row(cur)


def insert_rater(
    cur: duckdb.DuckDBPyConnection, rater_id: str, source: Source, is_admin: bool,
    token_hash: str | None,
) -> None:
    cur.execute(
        "INSERT INTO raters (rater_id, source, is_admin, token_hash) VALUES (?, ?, ?, ?)",
        [rater_id, source, is_admin, token_hash],
    )


def ensure_raters(cur: duckdb.DuckDBPyConnection, raters: list[tuple[str, Source]]) -> int:
    """Create (rater_id, source) rows that do not exist yet, without login tokens."""
    if not raters:
        return 0
    ids = [r[0] for r in raters]
    present = {r[0] for r in cur.execute(
        "SELECT rater_id FROM raters WHERE rater_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        [ids]).fetchall()}
    missing = [r for r in raters if r[0] not in present]
    for rater_id, source in missing:
        cur.execute("INSERT INTO raters (rater_id, source) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [rater_id, source])
    return len(missing)


def login_raters(cur: duckdb.DuckDBPyConnection, rater_ids: list[str]) -> list[str]:
    """Those of `rater_ids` that are people who log in (a link was issued, or an admin)."""
    if not rater_ids:
        return []
    rows = cur.execute(
        "SELECT rater_id FROM raters WHERE rater_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) "
        "AND (token_hash IS NOT NULL OR is_admin) ORDER BY rater_id", [rater_ids]).fetchall()
    return [str(r[0]) for r in rows]


def set_token_hash(cur: duckdb.DuckDBPyConnection, rater_id: str, token_hash: str) -> None:
    cur.execute("UPDATE raters SET token_hash = ? WHERE rater_id = ?", [token_hash, rater_id])


def set_disabled(cur: duckdb.DuckDBPyConnection, rater_id: str, disabled: bool) -> None:
    cur.execute("UPDATE raters SET disabled = ? WHERE rater_id = ?", [disabled, rater_id])


def list_raters(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cur.execute(
        f"SELECT {_FIELDS}, token_hash IS NOT NULL AS has_login, "  # noqa: S608
        "coalesce((SELECT string_agg(task_id, ',' ORDER BY task_id) FROM rater_tasks t "
        "WHERE t.rater_id = r.rater_id), '') AS tasks "
        "FROM raters r ORDER BY source, rater_id"
    )
    return _rows(cur)


def assign_task(cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str) -> None:
    cur.execute(
        "INSERT INTO rater_tasks (rater_id, task_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [rater_id, task_id],
    )


def tasks_of_rater(cur: duckdb.DuckDBPyConnection, rater_id: str) -> list[str]:
    rows = cur.execute(
        "SELECT task_id FROM rater_tasks WHERE rater_id = ? ORDER BY task_id", [rater_id]
    ).fetchall()
    return [r[0] for r in rows]


def access(
    cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str
) -> tuple[dict[str, Any] | None, bool]:
    """The rater row and whether they may work on the task (admins may work on any)."""
    cur.execute(
        f"SELECT {_FIELDS}, is_admin OR EXISTS (SELECT 1 FROM rater_tasks t "  # noqa: S608
        "WHERE t.rater_id = r.rater_id AND t.task_id = ?) AS allowed "
        "FROM raters r WHERE rater_id = ?",
        [task_id, rater_id],
    )
    rows = _rows(cur)
    if not rows:
        return None, False
    allowed = bool(rows[0].pop("allowed"))
    return rows[0], allowed


# Browser sessions: one row per signed-in tab family, stored by the hash of its id.

def insert_session(
    cur: duckdb.DuckDBPyConnection, session_hash: str, rater_id: str, token_hash: str,
    expires_at: Any,
) -> None:
    cur.execute(
        "INSERT INTO rater_sessions (session_hash, rater_id, token_hash, expires_at) "
        "VALUES (?, ?, ?, ?)", [session_hash, rater_id, token_hash, expires_at],
    )


def session_access(
    cur: duckdb.DuckDBPyConnection, session_hash: str, now: Any, task_id: str | None = None,
) -> dict[str, Any] | None:
    """The rater of a live session (enabled, same login token, not expired), with whether
    they may work on the task; None when the session does not count (any more).

    Three primary-key lookups, not one join: on tables this small DuckDB's join plan costs
    more (about 6 ms against 2 ms), and every rater write runs this check."""
    row = cur.execute(
        "SELECT rater_id, token_hash FROM rater_sessions WHERE session_hash = ? "
        "AND expires_at > ?", [session_hash, now]).fetchone()
    if row is None:
        return None
    cur.execute(f"SELECT {_FIELDS}, token_hash FROM raters WHERE rater_id = ?",  # noqa: S608
                [row[0]])
    found = _rows(cur)
    if not found or found[0]["disabled"] or found[0].pop("token_hash") != row[1]:
        return None
    rater = found[0]
    rater["allowed"] = bool(rater["is_admin"]) or (task_id is not None and cur.execute(
        "SELECT 1 FROM rater_tasks WHERE rater_id = ? AND task_id = ?",
        [rater["rater_id"], task_id]).fetchone() is not None)
    return rater


def delete_session(cur: duckdb.DuckDBPyConnection, session_hash: str) -> None:
    cur.execute("DELETE FROM rater_sessions WHERE session_hash = ?", [session_hash])


def delete_sessions_of(cur: duckdb.DuckDBPyConnection, rater_id: str) -> None:
    cur.execute("DELETE FROM rater_sessions WHERE rater_id = ?", [rater_id])


def get_token_hash(cur: duckdb.DuckDBPyConnection, rater_id: str) -> str | None:
    row = cur.execute("SELECT token_hash FROM raters WHERE rater_id = ?", [rater_id]).fetchone()
    return None if row is None else row[0]


def get_setting(cur: duckdb.DuckDBPyConnection, key: str) -> str | None:
    row = cur.execute("SELECT value FROM app_settings WHERE key = ?", [key]).fetchone()
    return None if row is None else str(row[0])


def set_setting(cur: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    cur.execute("DELETE FROM app_settings WHERE key = ?", [key])
    cur.execute("INSERT INTO app_settings (key, value) VALUES (?, ?)", [key, value])
