"""Registering DataFrames as views for bulk SQL (DuckDB's fast path for many rows)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import duckdb

from judge_app.storage.dialect import dialect_of

if TYPE_CHECKING:  # imported where a frame is built, so reads need no pandas
    import pandas as pd
    import pyarrow as pa


def finish_pending(cur: duckdb.DuckDBPyConnection) -> None:
    """Complete an unfinished result where DuckDB needs it (``complete()`` exists from 2.0)."""
    complete = getattr(cur, "complete", None)
    if complete is not None:
        complete()


@contextmanager
def registered(cur: duckdb.DuckDBPyConnection, name: str, frame: pd.DataFrame | pa.Table,
               like: str | None = None) -> Iterator[str]:
    """Expose ``frame`` as view ``name`` for the duration of the block.

    DuckDB 2 refuses (un)registering while a result is unfinished (after ``fetchone()``), so
    pending results are completed first. PostgreSQL copies the frame into a temporary table
    whose columns take the types of table ``like``'s columns of the same names (a frame's
    text cannot go into a json or bigint column without them).
    """
    finish_pending(cur)
    if like is not None and dialect_of(cur).is_postgres:
        cur.register(name, frame, like=like)  # type: ignore[call-arg]
    else:
        cur.register(name, frame)
    try:
        yield name
    finally:
        finish_pending(cur)
        cur.unregister(name)


def insert_new_rows(
    cur: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[dict[str, Any]]
) -> int:
    """Insert rows, skipping those whose key is already stored; returns how many were added.

    A few rows go in one multi-row VALUES statement (a DataFrame costs milliseconds to set
    up); many go through a DataFrame, DuckDB's bulk path. ``table`` and ``columns`` are the
    callers' constants, never input.
    """
    if not rows:
        return 0
    names = ", ".join(columns)
    if len(rows) <= 64:
        values = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * len(rows))
        cur.execute(
            f"INSERT INTO {table} ({names}) VALUES {values} ON CONFLICT DO NOTHING",  # noqa: S608
            [row.get(c) for row in rows for c in columns],
        )
    else:
        frame = _frame(cur, columns, rows)
        with registered(cur, f"incoming_{table}", frame, like=table) as view:
            cur.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {view} "  # noqa: S608
                "ON CONFLICT DO NOTHING"
            )
            # Read the count here: leaving the block completes (and so discards) the result.
            inserted = cur.fetchone()
        return int(inserted[0]) if inserted else 0
    inserted = cur.fetchone()
    return int(inserted[0]) if inserted else 0


def _frame(cur: duckdb.DuckDBPyConnection, columns: list[str], rows: list[dict[str, Any]],
           ) -> pd.DataFrame | pa.Table:
    """The rows as a frame to register: on DuckDB an Arrow table built column by column
    (about half the CPU of a DataFrame for a generation run's outputs and pairs); a
    DataFrame on PostgreSQL (its temporary-table copy reads one), or when a column mixes
    types Arrow cannot hold together."""
    if not dialect_of(cur).is_postgres:
        import pyarrow as pa

        try:
            return pa.table({c: [row.get(c) for row in rows] for c in columns})
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    import pandas as pd

    return pd.DataFrame(rows).reindex(columns=columns)


def append_new_rows(
    cur: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[dict[str, Any]]
) -> int:
    """insert_new_rows for an autocommit statement whose keys are almost never stored yet
    (a runner's group commit, a calls journal moved into DuckDB): a plain INSERT first, since
    DuckDB's ON CONFLICT costs about 4 ms of CPU per statement (measured: 2 ms plain, 6-7 ms
    with ON CONFLICT, one row of 20 columns); only when a key is already stored (another run
    paid first, a replay) the rows go again through insert_new_rows. Up to 64 rows as VALUES,
    more from a registered frame. Never inside a transaction: the refused statement would
    abort it. PostgreSQL's ON CONFLICT costs nothing extra: it goes straight to
    insert_new_rows. ``table`` and ``columns`` are the callers' constants, never input."""
    if not rows or dialect_of(cur).is_postgres:
        return insert_new_rows(cur, table, columns, rows)
    names = ", ".join(columns)
    try:
        if len(rows) <= 64:
            values = ", ".join(["(" + ", ".join("?" * len(columns)) + ")"] * len(rows))
            cur.execute(
                f"INSERT INTO {table} ({names}) VALUES {values}",  # noqa: S608
                [row.get(c) for row in rows for c in columns],
            )
        else:
            with registered(cur, f"incoming_{table}", _frame(cur, columns, rows)) as view:
                cur.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")  # noqa: S608
    except duckdb.ConstraintException:
        return insert_new_rows(cur, table, columns, rows)
    return len(rows)
