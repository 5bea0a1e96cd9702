"""Append-only verdict rows: inserts, retractions and the reads that decide what is done."""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from judge_app.storage.dialect import dialect_of
from judge_app.storage.frames import insert_new_rows, registered
from judge_app.storage.rows import all_rows, one_row

VERDICT_COLUMNS = [
    "verdict_id", "task_id", "pair_id", "prompt_id", "assignment_id", "rater_id",
    "source", "output_a", "output_b", "model_a", "model_b", "left_side", "outcome",
    "raw_choice", "strength", "criteria", "rationale", "flagged", "probability", "consistent",
    "duration_ms", "judge_run_id", "judge_model", "judge_endpoint", "judge_template",
    "judge_config_hash", "input_tokens", "output_tokens", "cost_usd", "latency_ms",
    "raw_answer", "retracts", "created_at",
]
_ALL = ", ".join(VERDICT_COLUMNS)  # every column, in table order
_INSERT_ONE = (  # column names are this module's constants; values are parameters
    f"INSERT INTO verdicts ({', '.join(VERDICT_COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join('?' for _ in VERDICT_COLUMNS)})"
)


def lock_assignment(cur: duckdb.DuckDBPyConnection, assignment_id: str) -> None:
    """Hold the assignment until this transaction ends, across processes, so two tabs
    voting on it at once (each with its own verdict id) store one verdict: the second sees
    the first's row. (DuckDB: one owner process; its callers' task lock does this.)"""
    dialect_of(cur).lock(cur, f"judge_app:assignment:{assignment_id}")


def insert_verdict(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    """Insert one row whose id the caller looked up in the same transaction. A twin written
    meanwhile by another transaction raises a constraint error (db.WRITE_CONFLICTS), which the
    caller retries; no ON CONFLICT clause, which makes DuckDB's insert about twice as slow."""
    cur.execute(_INSERT_ONE, [row.get(c) for c in VERDICT_COLUMNS])


def insert_verdicts(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> int:
    """Insert many rows; those whose id is already there are skipped. Returns rows added."""
    return insert_new_rows(cur, "verdicts", VERDICT_COLUMNS, rows)


def existing_verdict_ids(cur: duckdb.DuckDBPyConnection, ids: list[str]) -> set[str]:
    """Which of these verdict ids are stored already."""
    with registered(cur, "probe_verdict_ids", pd.DataFrame({"verdict_id": ids})) as view:
        found = cur.execute(
            f"SELECT v.verdict_id FROM verdicts v JOIN {view} p USING (verdict_id)"  # noqa: S608
        ).fetchall()
    return {str(r[0]) for r in found}


def get_verdict(cur: duckdb.DuckDBPyConnection, verdict_id: str) -> dict[str, Any] | None:
    return _one(cur, "SELECT * FROM verdicts WHERE verdict_id = ?", [verdict_id])


def already_recorded(
    cur: duckdb.DuckDBPyConnection, verdict_id: str, assignment_id: str | None
) -> dict[str, Any] | None:
    """The row with this id, else the assignment's standing verdict or skip.

    One plain statement, the two lookups side by side (an OR of both conditions cannot use
    the primary key and scans every verdict: 16 ms at 1M rows), and the standing row picked
    here: an assignment has a few rows, and the same choice made in SQL (retractions
    matched, newest first) cost 5 ms of planning on every vote.
    """
    if assignment_id is None:
        return get_verdict(cur, verdict_id)
    cur.execute(
        f"SELECT 0 AS by_id, {_ALL} FROM verdicts WHERE verdict_id = $id UNION ALL "  # noqa: S608
        f"SELECT 1 AS by_id, {_ALL} FROM verdicts WHERE assignment_id = $assignment",
        {"id": verdict_id, "assignment": assignment_id},
    )
    rows = all_rows(cur)
    same_id = [row for row in rows if row.pop("by_id") == 0]
    return same_id[0] if same_id else _standing(rows)


def standing_verdict_for_assignment(
    cur: duckdb.DuckDBPyConnection, assignment_id: str
) -> dict[str, Any] | None:
    # Not the standing_verdicts view: its retraction check scans every verdict. An undo row
    # carries the assignment id of the row it takes back, so the assignment's rows suffice.
    cur.execute("SELECT * FROM verdicts WHERE assignment_id = ?", [assignment_id])
    return _standing(all_rows(cur))


def _standing(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest of one assignment's rows that is no retraction and not taken back."""
    taken_back = {row["retracts"] for row in rows if row["retracts"] is not None}
    standing = [row for row in rows
                if row["retracts"] is None and row["verdict_id"] not in taken_back]
    return max(standing, key=lambda row: (row["created_at"], row["verdict_id"]), default=None)


def last_standing_verdict(
    cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str
) -> dict[str, Any] | None:
    """The rater's most recent verdict or skip that has not been taken back (for undo)."""
    return _one(
        cur,
        "SELECT * FROM verdicts v WHERE assignment_id IS NOT NULL AND rater_id = $rater "
        "AND task_id = $task AND retracts IS NULL AND NOT EXISTS (SELECT 1 FROM verdicts r "
        "WHERE r.assignment_id IS NOT NULL AND r.rater_id = $rater AND r.task_id = $task "
        "AND r.retracts = v.verdict_id) "
        "ORDER BY created_at DESC, verdict_id DESC LIMIT 1",
        {"rater": rater_id, "task": task_id},
    )


def _one(
    cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | dict[str, Any]
) -> dict[str, Any] | None:
    cur.execute(sql, params)
    return one_row(cur)


def verdicts_by_id(cur: duckdb.DuckDBPyConnection, ids: list[str], columns: list[str],
                   ) -> dict[str, dict[str, Any]]:
    """The given columns (names from VERDICT_COLUMNS only) of the stored rows with these ids."""
    if not set(columns) <= set(VERDICT_COLUMNS):
        raise ValueError(f"not verdict columns: {sorted(set(columns) - set(VERDICT_COLUMNS))}")
    names = ", ".join(columns)
    with registered(cur, "probe_verdicts", pd.DataFrame({"verdict_id": ids})) as view:
        cur.execute(
            f"SELECT v.verdict_id, {names} FROM verdicts v "  # noqa: S608
            f"JOIN {view} p USING (verdict_id)"
        )
        found = cur.fetchall()
    return {str(r[0]): dict(zip(columns, r[1:], strict=True)) for r in found}
