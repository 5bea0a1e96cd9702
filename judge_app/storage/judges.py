"""Judge runs, the content-keyed call cache, and escalations to people."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from judge_app.storage import runs
from judge_app.storage.catalog import PAIR_WITH_TEXTS
from judge_app.storage.frames import append_new_rows, insert_new_rows, registered
from judge_app.storage.rows import all_rows as _rows

CALL_COLUMNS = [
    "call_key", "run_id", "config_hash", "judge_model", "judge_endpoint", "task_id", "pair_id",
    "left_side", "raw_answer", "raw_choice", "strength", "probability", "parse_error",
    "input_tokens", "output_tokens", "usage_estimated", "cost_usd", "latency_ms", "attempts",
    "finish_reason", "created_at",
]
RUN_PROGRESS = ("status", "done_calls", "failed_calls", "cost_usd", "message", "finished_at")
RUN_LIST_COLUMNS = ("run_id", "task_id", "rater_id", "config_hash", "status", "total_calls",
                    "cached_calls", "done_calls", "failed_calls", "cost_usd",
                    "max_cost_usd", "message", "endpoint", "pid", "host")


def pairs_to_judge(cur: duckdb.DuckDBPyConnection, task_id: str,
                   models: list[str] | None = None) -> list[dict[str, Any]]:
    """Every pair of the task (both models in `models`, when given) with the texts a judge
    reads; gold pairs included. Ordered by pair id, so --limit picks the same pairs again."""
    both_in = ("" if models is None else
               "AND p.model_a IN (SELECT unnest(CAST($models AS VARCHAR[]))) "
               "AND p.model_b IN (SELECT unnest(CAST($models AS VARCHAR[])))")
    cur.execute(
        f"""
        SELECT p.pair_id, p.prompt_id, p.model_a, p.model_b, p.output_a, p.output_b,
               pr.messages, pr.reference, oa.response_text AS text_a, ob.response_text AS text_b
        FROM {PAIR_WITH_TEXTS}
        WHERE p.task_id = $task
          {both_in}
        ORDER BY p.pair_id
        """,  # noqa: S608
        {"task": task_id, **({"models": models} if models is not None else {})},
    )
    rows = _rows(cur)
    for row in rows:
        row["messages"] = json.loads(row["messages"])
    return rows


def cached_calls(cur: duckdb.DuckDBPyConnection, keys: list[str]) -> dict[str, dict[str, Any]]:
    if not keys:
        return {}
    with registered(cur, "wanted_keys", pd.DataFrame({"call_key": keys})):
        cur.execute(
            f"SELECT {', '.join(CALL_COLUMNS)} FROM judge_calls "  # noqa: S608
            "WHERE call_key IN (SELECT call_key FROM wanted_keys)"
        )
        return {row["call_key"]: row for row in _rows(cur)}


def insert_calls(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> int:
    """Store answered calls; a key already stored (another run paid first) is kept as is."""
    return insert_new_rows(cur, "judge_calls", CALL_COLUMNS, rows)


def append_calls(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> int:
    """insert_calls for the runner's group commit, in autocommit: a plain INSERT, and ON
    CONFLICT only when a key is already stored (storage/frames.append_new_rows)."""
    return append_new_rows(cur, "judge_calls", CALL_COLUMNS, rows)


def create_run(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO judge_runs (run_id, task_id, rater_id, config_hash, config, status, "
        "total_calls, cached_calls, max_cost_usd, pid, host, pid_started, endpoint) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row["run_id"], row["task_id"], row["rater_id"], row["config_hash"],
         json.dumps(row["config"]), row.get("status", "running"), row["total_calls"],
         row.get("cached_calls", 0), row.get("max_cost_usd"), row.get("pid"), row.get("host"),
         row.get("pid_started"), row.get("endpoint")],
    )


def update_run(cur: duckdb.DuckDBPyConnection, run_id: str, **fields: Any) -> None:
    """Progress of a run; only the process running it writes its row."""
    runs.update_run(cur, "judge_runs", RUN_PROGRESS, run_id, fields)


def list_runs(cur: duckdb.DuckDBPyConnection, task_id: str | None = None,
              ) -> list[dict[str, Any]]:
    return runs.list_runs(cur, "judge_runs", RUN_LIST_COLUMNS, task_id)


def standing_verdict_ids(cur: duckdb.DuckDBPyConnection, rater_id: str, task_id: str,
                         pair_ids: list[str]) -> dict[str, list[str]]:
    """pair_id -> ids of the rater's standing verdicts on it, for the given pairs."""
    cur.execute(
        "SELECT pair_id, verdict_id FROM standing_verdicts WHERE rater_id = ? AND task_id = ? "
        "AND pair_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) ORDER BY verdict_id",
        [rater_id, task_id, pair_ids],
    )
    out: dict[str, list[str]] = {}
    for pair, verdict in cur.fetchall():
        out.setdefault(pair, []).append(verdict)
    return out


def judge_verdicts(cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str,
                   ) -> list[dict[str, Any]]:
    cur.execute(
        "SELECT pair_id, outcome, probability, consistent FROM active_verdicts "
        "WHERE task_id = ? AND rater_id = ? AND source = 'judge' ORDER BY pair_id",
        [task_id, rater_id],
    )
    return _rows(cur)


def escalated_pairs(cur: duckdb.DuckDBPyConnection, task_id: str) -> set[str]:
    cur.execute("SELECT pair_id FROM escalations WHERE task_id = ?", [task_id])
    return {r[0] for r in cur.fetchall()}


def insert_escalations(cur: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    for row in rows:
        cur.execute(
            "INSERT INTO escalations (task_id, pair_id, rater_id, reason, margin) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [row["task_id"], row["pair_id"], row["rater_id"], row["reason"], row["margin"]],
        )


def escalated_candidates(cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str,
                         overlap: int) -> dict[str, int]:
    """Escalated pairs this rater never had, still short of `overlap` human looks."""
    if not cur.execute("SELECT 1 FROM escalations WHERE task_id = ? LIMIT 1",
                       [task_id]).fetchall():
        return {}  # the usual case; skips the coverage count on every new assignment
    cur.execute(
        """
        WITH escalated AS (SELECT pair_id FROM escalations WHERE task_id = $task),
        coverage AS (  -- only escalated pairs: usually none, so this costs nothing
            SELECT pair_id, count(*) AS n FROM (
                SELECT a.pair_id FROM assignments a JOIN raters r USING (rater_id)
                WHERE a.task_id = $task AND a.purpose = 'normal' AND r.source = 'human'
                  AND a.pair_id IN (SELECT pair_id FROM escalated)
                UNION ALL
                SELECT pair_id FROM active_verdicts
                WHERE task_id = $task AND assignment_id IS NULL AND source = 'human'
                  AND pair_id IN (SELECT pair_id FROM escalated)
            ) AS covered GROUP BY pair_id
        )
        SELECT e.pair_id, coalesce(c.n, 0) AS n
        FROM escalations e LEFT JOIN coverage c USING (pair_id)
        WHERE e.task_id = $task AND coalesce(c.n, 0) < $overlap
          AND e.pair_id NOT IN (
              SELECT pair_id FROM assignments WHERE rater_id = $rater AND task_id = $task)
        ORDER BY n, e.pair_id
        """,
        {"task": task_id, "rater": rater_id, "overlap": max(1, overlap)},
    )
    return {str(pid): int(n) for pid, n in cur.fetchall()}


_RETRACT_COPY = ("task_id, pair_id, prompt_id, assignment_id, rater_id, source, output_a, "
                 "output_b, model_a, model_b, left_side")


def retract_verdicts(cur: duckdb.DuckDBPyConnection, verdict_ids: list[str]) -> int:
    """Take verdicts back with retraction rows (ids 'undo:<id>', so twice is once)."""
    if not verdict_ids:
        return 0
    cur.execute(
        f"INSERT INTO verdicts (verdict_id, {_RETRACT_COPY}, flagged, retracts, created_at) "  # noqa: S608
        f"SELECT 'undo:' || verdict_id, {_RETRACT_COPY}, false, verdict_id, current_timestamp "
        "FROM verdicts WHERE verdict_id IN (SELECT unnest(CAST(? AS VARCHAR[]))) "
        "ON CONFLICT DO NOTHING",
        [verdict_ids],
    )
    row = cur.fetchone()
    return int(row[0]) if row else 0
