"""What judge runs and generation runs store alike: progress written by the one process that
runs it, and the list with each run's heartbeat age. ``table`` and the column names are the
callers' constants, never input."""

from __future__ import annotations

from typing import Any

import duckdb

from judge_app.storage.dialect import dialect_of
from judge_app.storage.rows import all_rows

RUN_TIMES = ("pid_started", "started_at", "updated_at", "finished_at")


def update_run(cur: duckdb.DuckDBPyConnection, table: str, progress: tuple[str, ...],
               run_id: str, fields: dict[str, Any]) -> None:
    """Progress of a run (the ``progress`` columns given in ``fields``)."""
    names = [k for k in progress if k in fields]
    sets = ", ".join(f"{k} = ?" for k in names)
    cur.execute(
        f"UPDATE {table} SET {sets}, updated_at = current_timestamp "  # noqa: S608
        "WHERE run_id = ?",
        [fields[k] for k in names] + [run_id],
    )


def list_runs(cur: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...],
              task_id: str | None) -> list[dict[str, Any]]:
    """Newest first, with the seconds since each run last wrote its row."""
    age_ms = dialect_of(cur).ms_between("updated_at", "CAST(current_timestamp AS TIMESTAMP)")
    cur.execute(
        f"SELECT {', '.join(columns + RUN_TIMES)}, {age_ms} / 1000.0 "  # noqa: S608
        f"AS heartbeat_age_s FROM {table} WHERE CAST($task AS VARCHAR) IS NULL "
        "OR task_id = $task ORDER BY started_at DESC, run_id",
        {"task": task_id},
    )
    return all_rows(cur)
