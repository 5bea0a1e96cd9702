"""Batch API runs: the api_batches rows that make a batch run resumable (services/batches.py).

A row is written before anything is uploaded and updated as each remote id becomes known,
each write its own statement (atomic on its own)."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from judge_app.storage.rows import all_rows

BATCH_COLUMNS = (
    "batch_key", "kind", "task_id", "config_hash", "run_id", "endpoint", "state", "calls",
    "n_calls", "input_jsonl", "estimated_cost_usd", "input_file_id", "remote_batch_id",
    "remote_status", "output_file_id", "error_file_id", "completed_calls", "failed_calls",
    "landed_calls", "cost_usd", "errors", "message", "created_at", "updated_at", "finished_at",
)
UPDATABLE = ("state", "input_file_id", "remote_batch_id", "remote_status", "output_file_id",
             "error_file_id", "completed_calls", "failed_calls", "landed_calls", "cost_usd",
             "errors", "message", "finished_at")
_JSON = ("calls", "errors")


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON:  # DuckDB gives JSON as text, PostgreSQL as parsed values
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def create_batch(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    """The intent, recorded before the upload: what will be sent and which calls it holds."""
    cur.execute(
        "INSERT INTO api_batches (batch_key, kind, task_id, config_hash, run_id, endpoint, "
        "calls, n_calls, input_jsonl, estimated_cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row["batch_key"], row["kind"], row["task_id"], row["config_hash"], row["run_id"],
         row["endpoint"], json.dumps(row["calls"]), len(row["calls"]), row["input_jsonl"],
         row["estimated_cost_usd"]],
    )


def update_batch(cur: duckdb.DuckDBPyConnection, batch_key: str, **fields: Any) -> None:
    names = [k for k in UPDATABLE if k in fields]
    values = [json.dumps(fields[k]) if k in _JSON and fields[k] is not None else fields[k]
              for k in names]
    sets = ", ".join(f"{k} = ?" for k in names)
    cur.execute(f"UPDATE api_batches SET {sets}, updated_at = current_timestamp "  # noqa: S608
                "WHERE batch_key = ?", [*values, batch_key])


def open_batches(cur: duckdb.DuckDBPyConnection, kind: str, task_id: str, config_hash: str,
                 ) -> list[dict[str, Any]]:
    """Batches of this run's kind, task and config not landed yet, oldest first."""
    cur.execute(
        f"SELECT {', '.join(BATCH_COLUMNS)} FROM api_batches WHERE kind = ? "  # noqa: S608
        "AND task_id = ? AND config_hash = ? AND state <> 'done' ORDER BY created_at, batch_key",
        [kind, task_id, config_hash],
    )
    return [_decoded(r) for r in all_rows(cur)]


def list_batches(cur: duckdb.DuckDBPyConnection, task_id: str | None = None,
                 ) -> list[dict[str, Any]]:
    """Every batch (of a task), newest first, without its input file."""
    columns = [c for c in BATCH_COLUMNS if c != "input_jsonl"]
    cur.execute(
        f"SELECT {', '.join(columns)} FROM api_batches "  # noqa: S608
        "WHERE CAST($task AS VARCHAR) IS NULL OR task_id = $task "
        "ORDER BY created_at DESC, batch_key", {"task": task_id},
    )
    return [_decoded(r) for r in all_rows(cur)]
