"""The reads adaptive scheduling needs: votes and open pairs per model pair and category."""

from __future__ import annotations

import duckdb

from judge_app.storage.analytics import Slice, _where
from judge_app.storage.dialect import dialect_of

# Coverage of each pair as the rater queue counts it (storage.queue): normal assignments
# plus imported human verdicts without an assignment.
from judge_app.storage.queue import _COVERAGE
from judge_app.storage.rows import all_rows


def prompt_categories(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, int]:
    """Prompts per category in the task: the mix every model pair should be compared on."""
    rows = cur.execute(
        "SELECT category, count(*) FROM prompts WHERE task_id = ? GROUP BY 1 ORDER BY 1",
        [task_id],
    ).fetchall()
    return {str(c): int(n) for c, n in rows}


def task_models(cur: duckdb.DuckDBPyConnection, task_id: str) -> list[str]:
    """Every model with a regular pair in the task, sorted."""
    rows = cur.execute(
        "SELECT model_a AS m FROM pairs WHERE task_id = $task AND gold_outcome IS NULL "
        "UNION SELECT model_b FROM pairs WHERE task_id = $task AND gold_outcome IS NULL "
        "ORDER BY m", {"task": task_id}).fetchall()
    return [str(r[0]) for r in rows]


def pair_categories(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, str]:
    """pair_id -> its prompt's category, for the task's regular (non-gold) pairs."""
    rows = cur.execute(
        "SELECT p.pair_id, pr.category FROM pairs p "
        "JOIN prompts pr ON pr.task_id = p.task_id AND pr.prompt_id = p.prompt_id "
        "WHERE p.task_id = ? AND p.gold_outcome IS NULL", [task_id]).fetchall()
    return {str(pid): str(c) for pid, c in rows}


def votes_by_category(cur: duckdb.DuckDBPyConnection, s: Slice) -> dict[tuple[str, str, str], int]:
    """Standing verdicts on regular pairs per (model_a, model_b, category) of the slice
    (gold pairs are fixed items: the schedule balances the pairs it chooses)."""
    where, params = _where(s)
    rows = cur.execute(
        f"""
        SELECT v.model_a, v.model_b, p.category, count(*)
        FROM active_verdicts v
        JOIN prompts p ON p.task_id = v.task_id AND p.prompt_id = v.prompt_id
        WHERE {where} AND v.pair_id IN (
            SELECT pair_id FROM pairs WHERE task_id = $task AND gold_outcome IS NULL)
        GROUP BY 1, 2, 3
        """,  # noqa: S608 - fixed fragments; values are parameters
        params,
    ).fetchall()
    return {(str(a), str(b), str(c)): int(n) for a, b, c, n in rows}


def open_matchups(
    cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str, overlap: int,
) -> list[dict[str, object]]:
    """Per (model_a, model_b, category): how many regular pairs this rater may still get,
    and the one to give (fewest assignments, then a per-rater hash so raters spread)."""
    pick = dialect_of(cur).least_by_hash("pair_id", "n", "$rater")
    cur.execute(
        f"""
        WITH {_COVERAGE},
        open_pairs AS (
            SELECT p.pair_id, p.model_a, p.model_b, pr.category, coalesce(c.n, 0) AS n
            FROM pairs p
            JOIN prompts pr ON pr.task_id = p.task_id AND pr.prompt_id = p.prompt_id
            LEFT JOIN coverage c USING (pair_id)
            WHERE p.task_id = $task AND p.gold_outcome IS NULL AND coalesce(c.n, 0) < $overlap
              AND p.pair_id NOT IN (
                  SELECT pair_id FROM assignments WHERE rater_id = $rater AND task_id = $task)
        )
        SELECT model_a, model_b, category, count(*) AS open,
               {pick} AS pair_id
        FROM open_pairs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        """,  # noqa: S608
        {"task": task_id, "rater": rater_id, "overlap": overlap},
    )
    return all_rows(cur)


def count_assignments(cur: duckdb.DuckDBPyConnection, task_id: str) -> int:
    row = cur.execute("SELECT count(*) FROM assignments WHERE task_id = ?", [task_id]).fetchone()
    return int(row[0]) if row else 0


def pending_by_matchup(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[tuple[str, str], int]:
    """Regular assignments handed out but not answered yet (no verdict or skip), per model
    pair: votes on their way, which the scheduler counts so raters working at once spread."""
    rows = cur.execute(
        """
        SELECT p.model_a, p.model_b, count(*)
        FROM assignments a JOIN pairs p USING (pair_id)
        WHERE a.task_id = $task AND a.purpose = 'normal'
          AND NOT EXISTS (SELECT 1 FROM verdicts v
                          WHERE v.assignment_id = a.assignment_id AND v.task_id = $task)
        GROUP BY 1, 2
        """,
        {"task": task_id},
    ).fetchall()
    return {(str(a), str(b)): int(n) for a, b, n in rows}
