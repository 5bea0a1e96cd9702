"""Assignments: which pair a rater holds, with its left/right order fixed at creation."""

from __future__ import annotations

from typing import Any

import duckdb

_DONE = (
    "EXISTS (SELECT 1 FROM standing_verdicts v WHERE v.assignment_id = a.assignment_id)"
)


def _rows(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def get_assignment(cur: duckdb.DuckDBPyConnection, assignment_id: str) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM assignments WHERE assignment_id = ?", [assignment_id])
    rows = _rows(cur)
    return rows[0] if rows else None


def open_assignment(
    cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str
) -> dict[str, Any] | None:
    """The rater's oldest assignment in the task without a standing verdict or skip."""
    cur.execute(
        f"SELECT * FROM assignments a WHERE rater_id = ? AND task_id = ? AND NOT {_DONE} "  # noqa: S608
        "ORDER BY created_at, assignment_id LIMIT 1",
        [rater_id, task_id],
    )
    rows = _rows(cur)
    return rows[0] if rows else None


def count_open_assignments(cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str) -> int:
    """Assignments the rater holds without a standing verdict (more than one after an undo)."""
    row = cur.execute(
        f"SELECT count(*) FROM assignments a WHERE rater_id = ? AND task_id = ? "  # noqa: S608
        f"AND NOT {_DONE}",
        [rater_id, task_id],
    ).fetchone()
    return int(row[0]) if row else 0


def candidate_pairs(
    cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str, overlap: int, limit: int = 256
) -> dict[str, int]:
    """Regular pairs below the overlap target that this rater never had, fewest-covered first.

    Coverage counts assignments plus human verdicts that came with an import (no assignment).
    """
    cur.execute(
        """
        WITH coverage AS (
            SELECT pair_id, count(*) AS n FROM (
                SELECT pair_id FROM assignments WHERE task_id = $task AND kind = 'normal'
                UNION ALL
                SELECT pair_id FROM active_verdicts
                WHERE task_id = $task AND assignment_id IS NULL AND source = 'human'
            ) GROUP BY pair_id
        ),
        open_pairs AS (
            SELECT p.pair_id, coalesce(c.n, 0) AS n
            FROM pairs p LEFT JOIN coverage c USING (pair_id)
            WHERE p.task_id = $task AND p.gold_outcome IS NULL AND coalesce(c.n, 0) < $overlap
              AND p.pair_id NOT IN (
                  SELECT pair_id FROM assignments WHERE rater_id = $rater AND task_id = $task)
        )
        SELECT pair_id, n FROM open_pairs
        WHERE n = (SELECT min(n) FROM open_pairs)
        ORDER BY pair_id LIMIT $limit
        """,
        {"task": task_id, "rater": rater_id, "overlap": overlap, "limit": limit},
    )
    return {str(pid): int(n) for pid, n in cur.fetchall()}


def count_open_pairs(
    cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str, overlap: int
) -> int:
    """How many more regular pairs this rater could still be given."""
    cur.execute(
        """
        WITH coverage AS (
            SELECT pair_id, count(*) AS n FROM (
                SELECT pair_id FROM assignments WHERE task_id = $task AND kind = 'normal'
                UNION ALL
                SELECT pair_id FROM active_verdicts
                WHERE task_id = $task AND assignment_id IS NULL AND source = 'human'
            ) GROUP BY pair_id
        )
        SELECT count(*) FROM pairs p LEFT JOIN coverage c USING (pair_id)
        WHERE p.task_id = $task AND p.gold_outcome IS NULL AND coalesce(c.n, 0) < $overlap
          AND p.pair_id NOT IN (
              SELECT pair_id FROM assignments WHERE rater_id = $rater AND task_id = $task)
        """,
        {"task": task_id, "rater": rater_id, "overlap": overlap},
    )
    row = cur.fetchone()
    return int(row[0]) if row else 0


def gold_candidates(cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str) -> list[str]:
    rows = cur.execute(
        "SELECT pair_id FROM pairs WHERE task_id = $task AND gold_outcome IS NOT NULL "
        "AND pair_id NOT IN (SELECT pair_id FROM assignments WHERE rater_id = $rater "
        "AND task_id = $task) ORDER BY pair_id",
        {"task": task_id, "rater": rater_id},
    ).fetchall()
    return [r[0] for r in rows]


def retest_candidates(
    cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str
) -> list[dict[str, Any]]:
    """The rater's finished regular assignments that have not come back swapped yet."""
    cur.execute(
        f"""
        SELECT a.* FROM assignments a
        WHERE a.rater_id = $rater AND a.task_id = $task AND a.kind = 'normal' AND {_DONE}
          AND a.assignment_id NOT IN (
              SELECT retest_of FROM assignments
              WHERE rater_id = $rater AND task_id = $task AND retest_of IS NOT NULL)
        ORDER BY a.created_at, a.assignment_id
        """,  # noqa: S608
        {"task": task_id, "rater": rater_id},
    )
    return _rows(cur)


def insert_assignment(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO assignments (assignment_id, task_id, pair_id, rater_id, left_side, kind, "
        "retest_of) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [row["assignment_id"], row["task_id"], row["pair_id"], row["rater_id"],
         row["left_side"], row["kind"], row.get("retest_of")],
    )


def count_done(cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str) -> int:
    row = cur.execute(
        "SELECT count(*) FROM active_verdicts WHERE rater_id = ? AND task_id = ? "
        "AND assignment_id IS NOT NULL",
        [rater_id, task_id],
    ).fetchone()
    return int(row[0]) if row else 0
