"""The reads behind exports: votes to aggregate, texts of pairs, battle logs, verdict rows."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from judge_app.core.preferences import VOTE_COLUMNS
from judge_app.storage.analytics import Slice
from judge_app.storage.analytics import _where as slice_where
from judge_app.storage.catalog import PAIR_WITH_TEXTS
from judge_app.storage.dialect import dialect_of
from judge_app.storage.frames import finish_pending

# Every verdict column an export may carry. Never: tokens of raters (they live in `raters`),
# and endpoints lose user:password@ and query strings (where API keys hide) on the way out.
_MASK = "regexp_replace(regexp_replace({}, '//[^/@]*@', '//'), '[?#].*$', '')"
_ENDPOINT = _MASK.format("v.judge_endpoint")
VERDICT_EXPORT_COLUMNS = [
    "verdict_id", "task_id", "pair_id", "prompt_id", "assignment_id", "rater_id", "source",
    "output_a", "output_b", "model_a", "model_b", "left_side", "outcome", "raw_choice",
    "strength", "criteria", "rationale", "flagged", "probability", "consistent", "duration_ms",
    "judge_run_id", "judge_model", "judge_endpoint", "judge_template", "judge_config_hash",
    "input_tokens", "output_tokens", "cost_usd", "latency_ms", "raw_answer", "created_at",
    "judge_calls",
]
# A judge verdict combined from both orders has no left side; its answers, one per shown
# order, travel with it (`judge_calls`), so position bias survives an export and re-import.
# Task, pair and config hash are the verdict's own; the join is the one analytics.battles uses.
JUDGE_CALL_EXPORT_FIELDS = [
    "call_key", "run_id", "left_side", "raw_choice", "strength", "probability",
    "parse_error", "raw_answer", "input_tokens", "output_tokens", "usage_estimated",
    "cost_usd", "latency_ms", "attempts", "finish_reason", "judge_model", "judge_endpoint",
    "created_at",
]
_CALL_FIELDS = [(f, _MASK.format("c.judge_endpoint") if f == "judge_endpoint" else f"c.{f}")
                for f in JUDGE_CALL_EXPORT_FIELDS]


def votes(cur: duckdb.DuckDBPyConnection, s: Slice) -> pd.DataFrame:
    """Verdicts that count, one row each, with what the majority and margins need."""
    where, params = slice_where(s)
    cols = ", ".join(f"v.{c}" for c in VOTE_COLUMNS)
    return cur.execute(
        f"SELECT {cols} FROM active_verdicts v WHERE {where}",  # noqa: S608 - fixed fragments
        params,
    ).df()


def pair_texts(cur: duckdb.DuckDBPyConnection, task_id: str) -> pd.DataFrame:
    """Prompt conversation and both responses (JSON text) of every pair of a task."""
    return cur.execute(
        f"""
        SELECT p.pair_id, pr.messages, pr.category, oa.response AS response_a,
               ob.response AS response_b
        FROM {PAIR_WITH_TEXTS}
        WHERE p.task_id = ?
        """,  # noqa: S608
        [task_id],
    ).df()


def battle_rows(cur: duckdb.DuckDBPyConnection, s: Slice) -> pd.DataFrame:
    """Verdicts in time order with the texts a FastChat battle record carries."""
    where, params = slice_where(s)
    return cur.execute(
        f"""
        SELECT v.prompt_id, v.model_a, v.model_b, v.outcome, v.rater_id, v.source,
               v.created_at, pr.messages, oa.response AS response_a, ob.response AS response_b
        FROM active_verdicts v
        JOIN prompts pr ON pr.task_id = v.task_id AND pr.prompt_id = v.prompt_id
        JOIN outputs oa ON oa.output_id = v.output_a
        JOIN outputs ob ON ob.output_id = v.output_b
        WHERE {where}
        ORDER BY v.created_at, v.verdict_id
        """,  # noqa: S608
        params,
    ).df()


def verdict_table(cur: duckdb.DuckDBPyConnection, s: Slice) -> pa.Table:
    """Standing verdicts with their provenance, as Arrow (no pandas detour for a million rows)."""
    where, params = slice_where(s)
    special = {"judge_endpoint": f"{_ENDPOINT} AS judge_endpoint",
               "judge_calls": "o.judge_calls"}
    cols = ", ".join(special.get(c, f"v.{c}") for c in VERDICT_EXPORT_COLUMNS)
    dialect = dialect_of(cur)
    calls = dialect.struct_list(_CALL_FIELDS, "c.left_side, c.call_key")
    finish_pending(cur)  # DuckDB 2: a relation query needs no unfinished result on the cursor
    table = cur.sql(
        f"""
        SELECT {cols} FROM active_verdicts v
        LEFT JOIN (
            SELECT c.task_id, c.pair_id, c.config_hash,
                   {calls} AS judge_calls
            FROM judge_calls c WHERE c.task_id = $task GROUP BY 1, 2, 3
        ) o ON v.left_side IS NULL AND v.judge_run_id IS NOT NULL AND o.task_id = v.task_id
           AND o.pair_id = v.pair_id AND o.config_hash = v.judge_config_hash
        WHERE {where}
        ORDER BY v.created_at, v.verdict_id
        """,  # noqa: S608 - built from fixed fragments; values are parameters
        params=params,
    ).to_arrow_table()
    if dialect.is_postgres:  # json_agg's text as DuckDB's list of structs
        from judge_app.storage.postgres import json_lists_to_arrow

        table = json_lists_to_arrow(table, "judge_calls", times=("created_at",))
    return table
