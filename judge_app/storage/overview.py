"""Reads for the admin console: coverage, per-rater progress and flagged items of a task."""

from __future__ import annotations

from typing import Any

import duckdb

from judge_app.storage.rows import all_rows as _rows


def coverage(cur: duckdb.DuckDBPyConnection, task_id: str, overlap: int) -> dict[str, int]:
    """Regular and gold pairs, human and judge verdicts, and pairs at the overlap target."""
    cur.execute(
        """
        WITH per_pair AS (
            SELECT pair_id, count(*) AS n FROM active_verdicts
            WHERE task_id = $task AND source = 'human' GROUP BY pair_id
        )
        SELECT
            count(*) FILTER (WHERE p.gold_outcome IS NULL) AS pairs,
            count(*) FILTER (WHERE p.gold_outcome IS NOT NULL) AS gold_pairs,
            count(*) FILTER (WHERE p.gold_outcome IS NULL AND coalesce(c.n, 0) >= $overlap)
                AS pairs_at_target,
            (SELECT count(*) FROM active_verdicts WHERE task_id = $task AND source = 'human')
                AS human_verdicts,
            (SELECT count(*) FROM active_verdicts WHERE task_id = $task AND source = 'judge')
                AS judge_verdicts,
            (SELECT count(*) FROM standing_verdicts WHERE task_id = $task AND flagged)
                AS flagged
        FROM pairs p LEFT JOIN per_pair c USING (pair_id)
        WHERE p.task_id = $task
        """,
        {"task": task_id, "overlap": overlap},
    )
    return {k: int(v or 0) for k, v in _rows(cur)[0].items()}


def verdicts_per_pair(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[int, int]:
    """How many regular pairs have 0, 1, 2, ... standing human verdicts: {verdicts: pairs}."""
    cur.execute(
        """
        WITH per_pair AS (
            SELECT pair_id, count(*) AS n FROM active_verdicts
            WHERE task_id = $task AND source = 'human' GROUP BY pair_id
        )
        SELECT coalesce(c.n, 0) AS verdicts, count(*) AS pairs
        FROM pairs p LEFT JOIN per_pair c USING (pair_id)
        WHERE p.task_id = $task AND p.gold_outcome IS NULL
        GROUP BY 1 ORDER BY verdicts
        """,
        {"task": task_id},
    )
    return {int(v): int(n) for v, n in cur.fetchall()}


def rater_progress(cur: duckdb.DuckDBPyConnection, task_id: str) -> list[dict[str, Any]]:
    """Per person on the task: verdicts, skips, median seconds per verdict, last activity."""
    cur.execute(
        """
        WITH mine AS (
            SELECT rater_id, outcome, duration_ms, created_at FROM standing_verdicts
            WHERE task_id = $task AND source = 'human' AND assignment_id IS NOT NULL
        )
        SELECT r.rater_id,
               count(m.outcome) AS verdicts,
               count(m.rater_id) - count(m.outcome) AS skipped,
               round(percentile_cont(0.5) WITHIN GROUP (ORDER BY m.duration_ms)
                     FILTER (WHERE m.outcome IS NOT NULL) / 100.0) / 10.0 AS median_seconds,
               max(m.created_at) AS last_activity,
               bool_or(r.disabled) AS disabled
        FROM raters r
        LEFT JOIN mine m USING (rater_id)
        WHERE r.source = 'human' AND (
            r.rater_id IN (SELECT rater_id FROM rater_tasks WHERE task_id = $task)
            OR r.rater_id IN (SELECT rater_id FROM mine))
        GROUP BY r.rater_id ORDER BY r.rater_id
        """,
        {"task": task_id},
    )
    return _rows(cur)


def flagged_items(cur: duckdb.DuckDBPyConnection, task_id: str) -> list[dict[str, Any]]:
    """Standing verdicts and skips a rater flagged as problematic, newest first."""
    cur.execute(
        """
        SELECT v.created_at, v.rater_id, v.prompt_id, v.model_a, v.model_b,
               coalesce(v.outcome, 'skipped') AS outcome, v.rationale,
               p.messages
        FROM standing_verdicts v
        JOIN prompts p ON p.task_id = v.task_id AND p.prompt_id = v.prompt_id
        WHERE v.task_id = $task AND v.flagged
        ORDER BY v.created_at DESC
        """,
        {"task": task_id},
    )
    return _rows(cur)


def first_task_with_verdicts(cur: duckdb.DuckDBPyConnection) -> str | None:
    """The first task, by name, that has a verdict with an outcome."""
    row = cur.execute(
        "SELECT min(task_id) FROM verdicts WHERE outcome IS NOT NULL").fetchone()
    return None if row is None or row[0] is None else str(row[0])
