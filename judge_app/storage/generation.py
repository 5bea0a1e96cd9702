"""Generation: the prompts a model has not answered, the content-keyed cache of answered
calls, generated outputs with their pairs, and generation runs."""

from __future__ import annotations

import json
from typing import Any

import duckdb

from judge_app.storage import runs
from judge_app.storage.catalog import OUTPUT_COLUMNS, PAIR_COLUMNS
from judge_app.storage.frames import append_new_rows, insert_new_rows
from judge_app.storage.rows import all_rows as _rows

CALL_COLUMNS = [
    "call_key", "run_id", "config_hash", "model", "endpoint", "task_id", "prompt_id", "turn",
    "answer", "finish_reason", "input_tokens", "output_tokens", "usage_estimated", "cost_usd",
    "latency_ms", "ttft_ms", "response_model", "system_fingerprint", "attempts", "created_at",
]
GENERATED_OUTPUT_COLUMNS = [*OUTPUT_COLUMNS, "ttft_ms", "finish_reason"]
RUN_PROGRESS = ("status", "done_outputs", "new_calls", "failed_calls", "cost_usd", "message",
                "finished_at")
RUN_LIST_COLUMNS = ("run_id", "task_id", "model", "config_hash", "status", "total_prompts",
                    "done_outputs", "new_calls", "failed_calls", "cost_usd",
                    "max_cost_usd", "message", "endpoint", "pid", "host")


def prompts_to_answer(cur: duckdb.DuckDBPyConnection, task_id: str, model: str,
                      ) -> list[dict[str, Any]]:
    """The task's prompts with no output of `model`, ordered by prompt id (so --limit picks
    the same prompts again)."""
    cur.execute(
        "SELECT pr.prompt_id, pr.messages FROM prompts pr WHERE pr.task_id = $task "
        "AND NOT EXISTS (SELECT 1 FROM outputs o WHERE o.task_id = pr.task_id "
        "AND o.prompt_id = pr.prompt_id AND o.model = $model) ORDER BY pr.prompt_id",
        {"task": task_id, "model": model},
    )
    rows = _rows(cur)
    for row in rows:
        row["messages"] = json.loads(row["messages"])
    return rows


def models_by_prompt(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, list[str]]:
    """prompt_id -> the models with an output for it (what pairs are made from)."""
    cur.execute("SELECT prompt_id, model FROM outputs WHERE task_id = ? ORDER BY prompt_id, "
                "model", [task_id])
    out: dict[str, list[str]] = {}
    for prompt, model in cur.fetchall():
        out.setdefault(str(prompt), []).append(str(model))
    return out


def cached_calls(cur: duckdb.DuckDBPyConnection, config_hash: str) -> dict[str, dict[str, Any]]:
    """Every answered call of this model config, by key (from any run or task)."""
    cur.execute(f"SELECT {', '.join(CALL_COLUMNS)} FROM generation_calls "  # noqa: S608
                "WHERE config_hash = ?", [config_hash])
    return {row["call_key"]: row for row in _rows(cur)}


def stored_call(cur: duckdb.DuckDBPyConnection, call_key: str) -> dict[str, Any] | None:
    """One answered call, if any run stored it."""
    cur.execute(f"SELECT {', '.join(CALL_COLUMNS)} FROM generation_calls "  # noqa: S608
                "WHERE call_key = ?", [call_key])
    rows = _rows(cur)
    return rows[0] if rows else None


def insert_calls(cur: duckdb.DuckDBPyConnection, calls: list[dict[str, Any]]) -> int:
    """Answered calls, in autocommit (one statement); a key already stored (another run
    paid first) is kept as it is."""
    return append_new_rows(cur, "generation_calls", CALL_COLUMNS, calls)


def insert_outputs(cur: duckdb.DuckDBPyConnection, outputs: list[dict[str, Any]],
                   pairs: list[dict[str, Any]]) -> int:
    """Finished outputs and the pairs they make; rows already stored are kept as they are.
    Returns how many pairs are new. Call inside one transaction."""
    insert_new_rows(cur, "outputs", GENERATED_OUTPUT_COLUMNS, outputs)
    return insert_new_rows(cur, "pairs", PAIR_COLUMNS, pairs)


def create_run(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO generation_runs (run_id, task_id, model, config_hash, config, "
        "total_prompts, max_cost_usd, endpoint, pid, host, pid_started) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [row["run_id"], row["task_id"], row["model"], row["config_hash"],
         json.dumps(row["config"]), row["total_prompts"], row.get("max_cost_usd"),
         row.get("endpoint"), row.get("pid"), row.get("host"), row.get("pid_started")],
    )


def update_run(cur: duckdb.DuckDBPyConnection, run_id: str, **fields: Any) -> None:
    """Progress of a run; only the process running it writes its row."""
    runs.update_run(cur, "generation_runs", RUN_PROGRESS, run_id, fields)


def list_runs(cur: duckdb.DuckDBPyConnection, task_id: str | None = None,
              ) -> list[dict[str, Any]]:
    return runs.list_runs(cur, "generation_runs", RUN_LIST_COLUMNS, task_id)
