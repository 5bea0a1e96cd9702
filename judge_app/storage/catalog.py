"""Tasks, prompts, outputs and pairs: bulk writes of an import, and the reads pages need."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from judge_app.storage.frames import registered

if TYPE_CHECKING:  # frames come from callers; reading tasks needs no pandas (`gate`)
    import pandas as pd

# Columns in table order, so a registered DataFrame inserts with one INSERT ... SELECT.
PROMPT_COLUMNS = [
    "task_id", "prompt_id", "messages", "category", "reference", "metadata", "content_hash",
]
OUTPUT_COLUMNS = [
    "output_id", "task_id", "prompt_id", "model", "model_version", "response", "response_text",
    "latency_ms", "cost_usd", "input_tokens", "output_tokens", "metadata", "content_hash",
]
PAIR_COLUMNS = [
    "pair_id", "task_id", "prompt_id", "output_a", "output_b", "model_a", "model_b",
    "gold_outcome",
]


@dataclass(frozen=True)
class MergeCounts:
    new: int
    changed: int
    unchanged: int
    changed_ids: list[str]


def get_task(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, Any] | None:
    row = cur.execute(
        "SELECT task_id, title, config, content_hash, created_at FROM tasks WHERE task_id = ?",
        [task_id],
    ).fetchone()
    if row is None:
        return None
    return {
        "task_id": row[0], "title": row[1], "config": json.loads(row[2]),
        "content_hash": row[3], "created_at": row[4],
    }


def list_tasks(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    rows = cur.execute("SELECT task_id FROM tasks ORDER BY task_id").fetchall()
    return [t for (task_id,) in rows if (t := get_task(cur, task_id)) is not None]


def upsert_task(
    cur: duckdb.DuckDBPyConnection, task_id: str, title: str, config_json: str, content_hash: str
) -> str:
    """'new', 'unchanged' or 'changed' (the caller decides whether a change is allowed)."""
    existing = cur.execute(
        "SELECT content_hash FROM tasks WHERE task_id = ?", [task_id]
    ).fetchone()
    if existing is None:
        cur.execute(
            "INSERT INTO tasks (task_id, title, config, content_hash) VALUES (?, ?, ?, ?)",
            [task_id, title, config_json, content_hash],
        )
        return "new"
    if existing[0] == content_hash:
        return "unchanged"
    return "changed"


def replace_task_config(
    cur: duckdb.DuckDBPyConnection, task_id: str, title: str, config_json: str, content_hash: str
) -> None:
    cur.execute(
        "UPDATE tasks SET title = ?, config = ?, content_hash = ? WHERE task_id = ?",
        [title, config_json, content_hash, task_id],
    )


def _merge(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    columns: list[str],
    key: list[str],
    replace: bool,
) -> MergeCounts:
    """Insert new rows by key; count rows whose content changed, replacing them if allowed.

    Table and column names come from this module's constants, never from input.
    """
    with registered(cur, f"incoming_{table}", frame[columns], like=table) as view:
        on = " AND ".join(f"t.{k} = n.{k}" for k in key)
        changed_rows = cur.execute(
            f"SELECT n.{key[-1]} FROM {view} n JOIN {table} t ON {on} "  # noqa: S608
            "WHERE t.content_hash <> n.content_hash ORDER BY 1"
        ).fetchall()
        changed_ids = [str(r[0]) for r in changed_rows]
        existing = _count(cur, f"SELECT count(*) FROM {view} n JOIN {table} t ON {on}")  # noqa: S608
        if changed_ids and replace:
            cur.execute(
                f"DELETE FROM {table} t USING {view} n WHERE {on} "  # noqa: S608
                "AND t.content_hash <> n.content_hash"
            )
        cur.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join('n.' + c for c in columns)} FROM {view} n "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})"
        )
    return MergeCounts(
        new=len(frame) - existing, changed=len(changed_ids),
        unchanged=existing - len(changed_ids), changed_ids=changed_ids,
    )


def merge_prompts(
    cur: duckdb.DuckDBPyConnection, frame: pd.DataFrame, replace: bool
) -> MergeCounts:
    return _merge(cur, "prompts", frame, PROMPT_COLUMNS, ["task_id", "prompt_id"], replace)


def merge_outputs(
    cur: duckdb.DuckDBPyConnection, frame: pd.DataFrame, replace: bool
) -> MergeCounts:
    return _merge(cur, "outputs", frame, OUTPUT_COLUMNS, ["output_id"], replace)


def insert_new_pairs(cur: duckdb.DuckDBPyConnection, frame: pd.DataFrame) -> int:
    with registered(cur, "incoming_pairs", frame[PAIR_COLUMNS], like="pairs"):
        before = _count(cur, "SELECT count(*) FROM pairs")
        cur.execute(
            f"INSERT INTO pairs ({', '.join(PAIR_COLUMNS)}) "  # noqa: S608
            f"SELECT {', '.join('n.' + c for c in PAIR_COLUMNS)} FROM incoming_pairs n "
            "WHERE NOT EXISTS (SELECT 1 FROM pairs t WHERE t.pair_id = n.pair_id)"
        )
        cur.execute(
            "UPDATE pairs SET gold_outcome = n.gold_outcome FROM incoming_pairs n "
            "WHERE pairs.pair_id = n.pair_id AND n.gold_outcome IS NOT NULL "
            "AND pairs.gold_outcome IS DISTINCT FROM n.gold_outcome"
        )
        return _count(cur, "SELECT count(*) FROM pairs") - before


def _count(cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> int:
    row = cur.execute(sql, params or []).fetchone()
    return int(row[0]) if row else 0


def task_counts(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, int]:
    """Row counts of one task, for reports and the admin overview."""
    counts = {}
    for name, table in (
        ("prompts", "prompts"), ("outputs", "outputs"), ("pairs", "pairs"),
        ("verdicts", "active_verdicts"),
    ):
        counts[name] = _count(
            cur, f"SELECT count(*) FROM {table} WHERE task_id = ?", [task_id]  # noqa: S608
        )
    return counts


# A pair with its texts: pairs p, its prompt pr and its two outputs oa and ob. Every query
# that reads a pair's texts selects from this.
PAIR_WITH_TEXTS = """
    pairs p
    JOIN prompts pr ON pr.task_id = p.task_id AND pr.prompt_id = p.prompt_id
    JOIN outputs oa ON oa.output_id = p.output_a
    JOIN outputs ob ON ob.output_id = p.output_b
"""


def get_pair_view(cur: duckdb.DuckDBPyConnection, pair_id: str) -> dict[str, Any] | None:
    """The pair with its prompt and both outputs' texts (model names included: callers blind)."""
    row = cur.execute(
        f"""
        SELECT p.pair_id, p.task_id, p.prompt_id, p.model_a, p.model_b, p.gold_outcome,
               pr.messages, pr.reference, pr.category, oa.response, ob.response,
               p.output_a, p.output_b
        FROM {PAIR_WITH_TEXTS}
        WHERE p.pair_id = ?
        """,  # noqa: S608
        [pair_id],
    ).fetchone()
    if row is None:
        return None
    return {
        "pair_id": row[0], "task_id": row[1], "prompt_id": row[2], "model_a": row[3],
        "model_b": row[4], "gold_outcome": row[5], "messages": json.loads(row[6]),
        "reference": row[7], "category": row[8], "response_a": json.loads(row[9]),
        "response_b": json.loads(row[10]), "output_a": row[11], "output_b": row[12],
    }


def pair_rows(cur: duckdb.DuckDBPyConnection, pair_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Pair columns (no texts) for many pairs in one query."""
    cur.execute(
        f"SELECT {', '.join(PAIR_COLUMNS)} FROM pairs "  # noqa: S608
        "WHERE pair_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
        [sorted(set(pair_ids))],
    )
    return {row[0]: dict(zip(PAIR_COLUMNS, row, strict=True)) for row in cur.fetchall()}


def existing_outputs(cur: duckdb.DuckDBPyConnection, output_ids: list[str]) -> set[str]:
    """Which of these output ids are stored (an import of verdicts needs their outputs)."""
    rows = cur.execute(
        "SELECT output_id FROM outputs WHERE output_id IN "
        "(SELECT unnest(CAST(? AS VARCHAR[])))", [output_ids]
    ).fetchall()
    return {str(r[0]) for r in rows}
