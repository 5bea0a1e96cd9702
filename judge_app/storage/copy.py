"""Copying every row of one judge_app database into another (DuckDB <-> PostgreSQL).

Both databases are at the same schema version (open_database migrated both with this code),
so each table is copied column by column as it is, ids and times included; verdicts stay
append-only facts, with their retractions. The target must be empty: a copy is a move of a
deployment, not a merge (imports merge). ``schema_migrations`` is not copied: each database
keeps its own record of the migrations applied to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import duckdb

from judge_app.storage.frames import registered
from judge_app.storage.rows import all_rows

# Every table with its key, in an order where what a row names comes first.
TABLES: tuple[tuple[str, str], ...] = (
    ("tasks", "task_id"), ("prompts", "task_id, prompt_id"), ("outputs", "output_id"),
    ("pairs", "pair_id"), ("raters", "rater_id"), ("rater_tasks", "rater_id, task_id"),
    ("assignments", "assignment_id"), ("verdicts", "verdict_id"), ("judge_runs", "run_id"),
    ("judge_calls", "call_key"), ("escalations", "task_id, pair_id"),
    ("rater_sessions", "session_hash"), ("app_settings", "key"),
)
CHUNK_ROWS = 20_000


def row_counts(cur: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per table (the figures a copy is checked by)."""
    counts = {}
    for table, _ in TABLES:
        row = cur.execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - constant
        counts[table] = int(row[0]) if row else 0
    return counts


def columns_of(cur: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    cur.execute(f"SELECT * FROM {table} LIMIT 0")  # noqa: S608 - a name from TABLES
    names = [str(d[0]) for d in cur.description or []]
    cur.fetchall()
    return names


def read_chunks(cur: duckdb.DuckDBPyConnection, table: str, key: str, columns: list[str],
                chunk_rows: int = CHUNK_ROWS) -> Iterator[list[dict[str, Any]]]:
    """The table's rows in key order, ``chunk_rows`` at a time (keyset pages: each page is one
    query, so neither database holds a cursor open across the copy)."""
    names = ", ".join(columns)
    keys = [k.strip() for k in key.split(",")]
    last: list[Any] | None = None
    while True:
        if last is None:
            where, params = "", [chunk_rows]
        else:  # (k1, k2) > (v1, v2): row comparison, the same on both databases
            where = f"WHERE ({key}) > ({', '.join('?' for _ in keys)}) "
            params = [*last, chunk_rows]
        cur.execute(
            f"SELECT {names} FROM {table} {where}ORDER BY {key} LIMIT ?",  # noqa: S608
            params)
        rows = all_rows(cur)
        if not rows:
            return
        yield rows
        last = [rows[-1][k] for k in keys]


def write_chunk(cur: duckdb.DuckDBPyConnection, table: str, columns: list[str],
                rows: list[dict[str, Any]]) -> int:
    """Insert rows as they are (every value a Python object: no float for a NULL-holding
    integer column); returns how many went in."""
    import pandas as pd

    frame = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in columns})
    names = ", ".join(columns)
    with registered(cur, f"copy_{table}", frame, like=table) as view:
        cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")  # noqa: S608
        done = cur.fetchone()
    return int(done[0]) if done else 0


def copy_rows(source: duckdb.DuckDBPyConnection, target: duckdb.DuckDBPyConnection,
              on_rows: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Every table's rows from ``source`` into ``target`` (the caller's transaction)."""
    copied = {}
    for table, key in TABLES:
        columns = columns_of(source, table)
        n = 0
        for rows in read_chunks(source, table, key, columns):
            n += write_chunk(target, table, columns, rows)
            if on_rows is not None:
                on_rows(table, len(rows))
        copied[table] = n
    return copied
