"""Assignments: which pair a rater holds, with its left/right order fixed at creation."""

from __future__ import annotations

from typing import Any

import duckdb

from judge_app.storage.dialect import dialect_of
from judge_app.storage.rows import all_rows as _rows
from judge_app.storage.rows import one_row

# The rater flow reads only the rows it needs, never the whole standing_verdicts view (whose
# retraction check scans every verdict). Rows with an assignment id are people's verdicts,
# skips and their undos; an undo row carries the assignment id, rater and task of the row it
# takes back (services.verdicts.undo_last), so retractions are found among the same rows.
# Row groups of bulk judge verdicts have no assignment id and are skipped by zone maps.
_DONE = """
    done AS (  -- the rater's assignments with a standing verdict or skip
        SELECT v.assignment_id, v.outcome FROM verdicts v
        WHERE v.assignment_id IS NOT NULL AND v.rater_id = $rater AND v.task_id = $task
          AND v.retracts IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM verdicts r
              WHERE r.assignment_id IS NOT NULL AND r.rater_id = $rater AND r.task_id = $task
                AND r.retracts = v.verdict_id)
    )
"""
# Coverage of each pair: normal assignments plus standing human verdicts that came with an
# import (no assignment). Imported human rows and their retractions share task and source.
_COVERAGE = """
    imported AS (
        SELECT verdict_id, pair_id, retracts, outcome FROM verdicts
        WHERE task_id = $task AND source = 'human' AND assignment_id IS NULL
    ),
    coverage AS (
        SELECT pair_id, count(*) AS n FROM (
            SELECT pair_id FROM assignments WHERE task_id = $task AND purpose = 'normal'
            UNION ALL
            SELECT pair_id FROM imported
            WHERE outcome IS NOT NULL AND retracts IS NULL
              AND verdict_id NOT IN (SELECT retracts FROM imported WHERE retracts IS NOT NULL)
        ) AS covered GROUP BY pair_id
    )
"""


def lock_task(cur: duckdb.DuckDBPyConnection, task_id: str) -> None:
    """Hold the task's queue until this transaction ends, across processes: deciding which
    pair a rater gets reads the coverage and then writes an assignment, and two raters doing
    that at once must not both take a pair's last overlap slot. (DuckDB: its one owner
    process serialises this with services.queue.task_lock already.)"""
    dialect_of(cur).lock(cur, f"judge_app:task:{task_id}")


def get_assignment(cur: duckdb.DuckDBPyConnection, assignment_id: str) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM assignments WHERE assignment_id = ?", [assignment_id])
    return one_row(cur)


def assignment_with_pair(
    cur: duckdb.DuckDBPyConnection, assignment_id: str
) -> dict[str, Any] | None:
    """An assignment with its pair's prompt, output and model ids (no texts), and how often a
    verdict on it was taken back (``attempt``: numbers the rater's client ids)."""
    cur.execute(
        "SELECT a.*, p.prompt_id, p.output_a, p.output_b, p.model_a, p.model_b, "
        "(SELECT count(*) FROM verdicts v WHERE v.assignment_id = $id "
        "AND v.retracts IS NOT NULL) AS attempt "
        "FROM assignments a JOIN pairs p USING (pair_id) WHERE a.assignment_id = $id",
        {"id": assignment_id},
    )
    return one_row(cur)


def rater_state(
    cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str, besides: str | None = None
) -> tuple[dict[str, Any] | None, int, int]:
    """The rater's oldest open assignment in the task (no standing verdict or skip) other
    than ``besides``, how many assignments they hold open (``besides`` included), and how
    many verdicts they have standing: one query, since each of the three would cost a
    planned query of its own and the pair page needs all."""
    cur.execute(
        f"""
        WITH {_DONE},
        held AS (
            SELECT * FROM assignments WHERE rater_id = $rater AND task_id = $task
              AND assignment_id NOT IN (SELECT assignment_id FROM done)
        )
        SELECT o.*, (SELECT count(*) FROM held) AS n_open,
               (SELECT count(*) FROM done WHERE outcome IS NOT NULL) AS n_done
        FROM (SELECT 1) AS one
        LEFT JOIN (SELECT * FROM held WHERE assignment_id IS DISTINCT FROM $besides
                   ORDER BY created_at, assignment_id LIMIT 1) o ON true
        """,  # noqa: S608
        {"rater": rater_id, "task": task_id, "besides": besides},
    )
    row = _rows(cur)[0]
    n_open, n_done = int(row.pop("n_open")), int(row.pop("n_done"))
    return (row if row["assignment_id"] is not None else None), n_open, n_done


def candidate_pairs(
    cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str, overlap: int, limit: int = 256
) -> tuple[dict[str, int], int]:
    """Regular pairs below the overlap target that this rater never had, fewest-covered first,
    and how many such pairs there are in all (count_open_pairs, from the same scan).

    Coverage counts assignments plus human verdicts that came with an import (no assignment).
    """
    cur.execute(
        f"""
        WITH {_COVERAGE},
        open_pairs AS (
            SELECT p.pair_id, coalesce(c.n, 0) AS n
            FROM pairs p LEFT JOIN coverage c USING (pair_id)
            WHERE p.task_id = $task AND p.gold_outcome IS NULL AND coalesce(c.n, 0) < $overlap
              AND p.pair_id NOT IN (
                  SELECT pair_id FROM assignments WHERE rater_id = $rater AND task_id = $task)
        )
        SELECT pair_id, n, (SELECT count(*) FROM open_pairs) AS total FROM open_pairs
        WHERE n = (SELECT min(n) FROM open_pairs)
        ORDER BY pair_id LIMIT $limit
        """,  # noqa: S608
        {"task": task_id, "rater": rater_id, "overlap": overlap, "limit": limit},
    )
    rows = cur.fetchall()
    return {str(pid): int(n) for pid, n, _ in rows}, (int(rows[0][2]) if rows else 0)


def count_open_pairs(
    cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str, overlap: int
) -> int:
    """How many more regular pairs this rater could still be given."""
    cur.execute(
        f"""
        WITH {_COVERAGE}
        SELECT count(*) FROM pairs p LEFT JOIN coverage c USING (pair_id)
        WHERE p.task_id = $task AND p.gold_outcome IS NULL AND coalesce(c.n, 0) < $overlap
          AND p.pair_id NOT IN (
              SELECT pair_id FROM assignments WHERE rater_id = $rater AND task_id = $task)
        """,  # noqa: S608
        {"task": task_id, "rater": rater_id, "overlap": overlap},
    )
    row = cur.fetchone()
    return int(row[0]) if row else 0


def draw_marks(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> tuple[int, int, int]:
    """Counts of the rows a draw of ``row`` (a new assignment) was decided on: the rater's
    verdict rows in the task (any new assignment of theirs follows one of those), and the
    pair's regular assignments and imported human verdicts. All are append-only, so equal
    counts later mean the same rows, and a draw that was valid then is valid still
    (services.queue.confirm_in). Plain counts, no retractions matched: on the vote's path
    this costs a fraction of checking the draw anew. The rater's rows all have source
    'human', which lets a scan skip the row groups of judge verdicts."""
    cur.execute(
        "SELECT (SELECT count(*) FROM verdicts WHERE source = 'human' "
        "AND assignment_id IS NOT NULL AND rater_id = $rater AND task_id = $task), "
        "(SELECT count(*) FROM assignments WHERE task_id = $task AND pair_id = $pair "
        "AND purpose = 'normal'), "
        "(SELECT count(*) FROM verdicts WHERE source = 'human' AND assignment_id IS NULL "
        "AND task_id = $task AND pair_id = $pair)",
        {"rater": row["rater_id"], "task": row["task_id"], "pair": row["pair_id"]},
    )
    found = cur.fetchone()
    assert found is not None
    return int(found[0]), int(found[1]), int(found[2])


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
        WITH {_DONE}
        SELECT a.* FROM assignments a
        WHERE a.rater_id = $rater AND a.task_id = $task AND a.purpose = 'normal'
          AND a.assignment_id IN (SELECT assignment_id FROM done)
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
        "INSERT INTO assignments (assignment_id, task_id, pair_id, rater_id, left_side, purpose, "
        "retest_of) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [row["assignment_id"], row["task_id"], row["pair_id"], row["rater_id"],
         row["left_side"], row["purpose"], row.get("retest_of")],
    )


def count_done(cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str) -> int:
    row = cur.execute(
        f"WITH {_DONE} SELECT count(*) FROM done WHERE outcome IS NOT NULL",  # noqa: S608
        {"rater": rater_id, "task": task_id},
    ).fetchone()
    return int(row[0]) if row else 0
