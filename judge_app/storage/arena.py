"""The live arena's battles: started, finished, voted; counts for the draw, the rate limit
and the budget."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from judge_app.storage.catalog import PAIR_COLUMNS, PROMPT_COLUMNS
from judge_app.storage.dialect import dialect_of
from judge_app.storage.frames import insert_new_rows
from judge_app.storage.generation import GENERATED_OUTPUT_COLUMNS
from judge_app.storage.rows import all_rows

BATTLE_FINISH = ("status", "cost_usd", "self_identified", "pair_id", "assignment_id",
                 "message", "finished_at", "reserved_usd")


def insert_battle(cur: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> None:
    cur.execute(
        "INSERT INTO arena_battles (battle_id, task_id, rater_id, prompt_id, left_model, "
        "right_model, "
        "reserved_usd, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [row["battle_id"], row["task_id"], row["rater_id"], row["prompt_id"], row["left_model"],
         row["right_model"], row["reserved_usd"], row["created_at"]],
    )
    insert_turn(cur, row["battle_id"], 1, row["task_id"], row["rater_id"], row["created_at"])


def insert_turn(cur: duckdb.DuckDBPyConnection, battle_id: str, turn: int, task_id: str,
                rater_id: str, created_at: datetime) -> None:
    cur.execute("INSERT INTO arena_turns VALUES (?, ?, ?, ?, ?)",
                [battle_id, turn, task_id, rater_id, created_at])


def update_battle(cur: duckdb.DuckDBPyConnection, battle_id: str, **fields: Any) -> None:
    names = [k for k in BATTLE_FINISH if k in fields]
    sets = ", ".join(f"{k} = ?" for k in names)  # names come from BATTLE_FINISH only
    cur.execute(f"UPDATE arena_battles SET {sets} WHERE battle_id = ?",  # noqa: S608
                [fields[k] for k in names] + [battle_id])


def get_battle(cur: duckdb.DuckDBPyConnection, battle_id: str) -> dict[str, Any] | None:
    cur.execute("SELECT * FROM arena_battles WHERE battle_id = ?", [battle_id])
    rows = all_rows(cur)
    return rows[0] if rows else None


def abandon_stale(cur: duckdb.DuckDBPyConnection, task_id: str, before: datetime,
                  message: str, now: datetime) -> int:
    """Give up the task's battles still answering a turn that began before `before` (their
    server died or hangs): a first turn becomes 'failed', a follow-up 'answered' (the earlier
    turns stand). Either way its reservation stops counting. The status test in the UPDATE
    makes this safe to run from many servers at once: each battle is given up once."""
    # Cheap first (every Arena page view runs this): a battle begun after `before` has no
    # turn before it, and there is usually none left answering at all.
    cur.execute("SELECT battle_id FROM arena_battles WHERE task_id = ? "
                "AND status = 'answering' AND created_at < ?", [task_id, before])
    candidates = [str(r[0]) for r in cur.fetchall()]
    given_up = 0
    for battle_id in candidates:
        cur.execute(
            "UPDATE arena_battles SET status = CASE WHEN pair_id IS NULL THEN 'failed' "
            "ELSE 'answered' END, message = ?, finished_at = ? WHERE battle_id = ? "
            "AND status = 'answering' AND (SELECT max(t.created_at) FROM arena_turns t "
            "WHERE t.battle_id = ?) < ?", [message, now, battle_id, battle_id, before])
        row = cur.fetchone()
        given_up += int(row[0]) if row else 0
    return given_up


def last_battle(cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str,
                ) -> dict[str, Any] | None:
    """The rater's latest battle in the task, with when its current turn began (`turn_at`,
    for one still answering) and whether it has a vote of theirs (`voted`)."""
    cur.execute("SELECT battle_id, status, message, pair_id FROM arena_battles "
                "WHERE task_id = ? AND rater_id = ? ORDER BY created_at DESC, battle_id "
                "LIMIT 1", [task_id, rater_id])
    rows = all_rows(cur)
    if not rows:
        return None
    row = rows[0]
    row["turn_at"] = None
    if row["status"] == "answering":  # one query more, only for a battle not ended
        cur.execute("SELECT max(created_at) FROM arena_turns WHERE battle_id = ?",
                    [row["battle_id"]])
        found = cur.fetchone()
        row["turn_at"] = found[0] if found else None
    row["voted"] = row["status"] == "voted"
    if not row["voted"] and row["pair_id"] is not None:
        cur.execute("SELECT count(*) FROM verdicts WHERE pair_id = ? AND rater_id = ? "
                    "AND outcome IS NOT NULL", [row["pair_id"], rater_id])
        found = cur.fetchone()
        row["voted"] = bool(found and found[0])
    return row


def battles_per_model(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, int]:
    """Battles each model answered in (failed ones not counted)."""
    cur.execute(
        "SELECT m, count(*) FROM (SELECT left_model AS m FROM arena_battles WHERE task_id = $t "
        "AND status <> 'failed' UNION ALL SELECT right_model FROM arena_battles "
        "WHERE task_id = $t "
        "AND status <> 'failed') AS sides GROUP BY m", {"t": task_id})
    return {str(m): int(n) for m, n in cur.fetchall()}


def turns_since(cur: duckdb.DuckDBPyConnection, task_id: str, rater_id: str,
                since: datetime) -> int:
    """Prompts and follow-ups the rater sent in the task since then."""
    cur.execute("SELECT count(*) FROM arena_turns WHERE task_id = ? AND rater_id = ? "
                "AND created_at >= ?", [task_id, rater_id, since])
    row = cur.fetchone()
    return int(row[0]) if row else 0


def lock_budget(cur: duckdb.DuckDBPyConnection, task_id: str) -> None:
    """Hold the task's arena budget and rate limit until this transaction ends, across
    processes (PostgreSQL: an advisory lock), so two servers starting battles at once cannot
    both take its last dollars. (DuckDB: its one owner process; services/arena's lock.)"""
    dialect_of(cur).lock(cur, f"judge_app:arena-budget:{task_id}")


def committed_usd(cur: duckdb.DuckDBPyConnection, task_id: str) -> float:
    """Paid by ended battles plus reserved by those still answering (the budget's spent)."""
    cur.execute("SELECT coalesce(sum(coalesce(cost_usd, 0) + CASE WHEN status = 'answering' "
                "THEN reserved_usd ELSE 0 END), 0) FROM arena_battles WHERE task_id = ?",
                [task_id])
    row = cur.fetchone()
    return float(row[0]) if row else 0.0


def insert_battle_rows(cur: duckdb.DuckDBPyConnection, prompt: dict[str, Any],
                       outputs: list[dict[str, Any]], pair: dict[str, Any],
                       assignment: dict[str, Any]) -> None:
    """The battle's prompt, outputs, pair and assignment; call inside one transaction."""
    insert_new_rows(cur, "prompts", PROMPT_COLUMNS, [prompt])
    insert_new_rows(cur, "outputs", GENERATED_OUTPUT_COLUMNS, outputs)
    insert_new_rows(cur, "pairs", PAIR_COLUMNS, [pair])
    cur.execute(
        "INSERT INTO assignments (assignment_id, task_id, pair_id, rater_id, left_side, "
        "purpose) VALUES (?, ?, ?, ?, ?, 'normal')",
        [assignment["assignment_id"], assignment["task_id"], assignment["pair_id"],
         assignment["rater_id"], assignment["left_side"]])


def has_verdict(cur: duckdb.DuckDBPyConnection, pair_id: str) -> bool:
    """Whether anyone gave the pair a verdict (or skipped it): its texts are then fixed."""
    cur.execute("SELECT count(*) FROM verdicts WHERE pair_id = ?", [pair_id])
    row = cur.fetchone()
    return bool(row and row[0])


def battle_texts(cur: duckdb.DuckDBPyConnection, task_id: str, prompt_id: str,
                 ) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """A battle's user turns, and its outputs by model (response and metadata)."""
    cur.execute("SELECT messages FROM prompts WHERE task_id = ? AND prompt_id = ?",
                [task_id, prompt_id])
    found = cur.fetchone()
    prompts = [str(m["content"]) for m in json.loads(found[0])] if found else []
    cur.execute("SELECT model, response, metadata FROM outputs WHERE task_id = ? "
                "AND prompt_id = ?", [task_id, prompt_id])
    return prompts, {str(m): {"response": r, "metadata": d} for m, r, d in cur.fetchall()}


def update_battle_rows(cur: duckdb.DuckDBPyConnection, prompt: dict[str, Any],
                       outputs: list[dict[str, Any]]) -> None:
    """A follow-up's longer prompt and outputs, in place (ids unchanged); in a transaction."""
    cur.execute("UPDATE prompts SET messages = ?, metadata = ?, content_hash = ? "
                "WHERE task_id = ? AND prompt_id = ?",
                [prompt["messages"], prompt["metadata"], prompt["content_hash"],
                 prompt["task_id"], prompt["prompt_id"]])
    columns = [c for c in GENERATED_OUTPUT_COLUMNS
               if c not in ("output_id", "task_id", "prompt_id", "model")]
    sets = ", ".join(f"{c} = ?" for c in columns)  # names from GENERATED_OUTPUT_COLUMNS only
    for out in outputs:
        cur.execute(f"UPDATE outputs SET {sets} WHERE output_id = ?",  # noqa: S608
                    [out[c] for c in columns] + [out["output_id"]])
