"""The reads behind ratings, agreement and bias: counted in SQL, shaped as DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from judge_app.errors import ValidationError
from judge_app.storage.rows import all_rows

if TYPE_CHECKING:  # DuckDB makes the frames; `gate` reads plain rows and never loads pandas
    import pandas as pd


@dataclass(frozen=True)
class Slice:
    """Which verdicts count: by source, category, date range; models split by version or not."""

    task_id: str
    source: str = "all"  # all | human | judge | judge:NAME
    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    by_version: bool = False
    # Arena votes on a battle where an answer named its own model or vendor (migration 007)
    # are left out unless asked for, as Chatbot Arena does.
    include_self_identified: bool = False


def _where(s: Slice) -> tuple[str, dict[str, Any]]:
    clauses = ["v.task_id = $task"]
    params: dict[str, Any] = {"task": s.task_id}
    if s.source == "human":
        clauses.append("v.source = 'human'")
    elif s.source == "judge":
        clauses.append("v.source = 'judge'")
    elif s.source.startswith("judge:"):
        clauses.append("v.source = 'judge' AND v.rater_id = $judge")
        params["judge"] = s.source.split(":", 1)[1]
    elif s.source != "all":
        raise ValidationError(f"unknown source '{s.source}' (all, human, judge or judge:NAME)",
                              field="source")
    if s.category:
        clauses.append(
            "EXISTS (SELECT 1 FROM prompts p WHERE p.task_id = v.task_id "
            "AND p.prompt_id = v.prompt_id AND p.category = $category)"
        )
        params["category"] = s.category
    if s.since:
        clauses.append("v.created_at >= $since")
        params["since"] = s.since
    if s.until:
        clauses.append("v.created_at < $until")
        params["until"] = s.until
    if not s.include_self_identified:
        clauses.append(
            "NOT EXISTS (SELECT 1 FROM arena_battles ab WHERE ab.task_id = v.task_id "
            "AND ab.prompt_id = v.prompt_id AND ab.self_identified IS NOT NULL)"
        )
    return " AND ".join(clauses), params


def self_identified_votes(cur: duckdb.DuckDBPyConnection, s: Slice) -> tuple[int, int]:
    """(verdicts, battles) of the slice on arena battles where an answer named its own model
    or vendor: what the slice leaves out, or counts with include_self_identified."""
    where, params = _where(replace(s, include_self_identified=True))
    row = cur.execute(
        f"""
        SELECT count(*), count(DISTINCT v.prompt_id) FROM active_verdicts v
        WHERE {where} AND EXISTS (SELECT 1 FROM arena_battles ab WHERE ab.task_id = v.task_id
              AND ab.prompt_id = v.prompt_id AND ab.self_identified IS NOT NULL)
        """,  # noqa: S608 - built from fixed fragments; values are parameters
        params,
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def _models(s: Slice) -> tuple[str, str, str]:
    """Model name expressions (and the joins they need) for the chosen slice."""
    if not s.by_version:
        return "v.model_a", "v.model_b", ""
    joins = ("JOIN outputs oa ON oa.output_id = v.output_a "
             "JOIN outputs ob ON ob.output_id = v.output_b")
    name = ("CASE WHEN {o}.model_version = '' THEN {o}.model "
            "ELSE {o}.model || '@' || {o}.model_version END")
    return name.format(o="oa"), name.format(o="ob"), joins


def _counted(cur: duckdb.DuckDBPyConnection, s: Slice) -> duckdb.DuckDBPyConnection:
    where, params = _where(s)
    model_a, model_b, joins = _models(s)
    return cur.execute(
        f"""
        SELECT {model_a} AS model_a, {model_b} AS model_b, v.outcome,
               coalesce(v.strength, 1) AS strength, count(*) AS n
        FROM active_verdicts v {joins}
        WHERE {where}
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        """,  # noqa: S608 - built from fixed fragments; values are parameters
        params,
    )


def battle_counts(cur: duckdb.DuckDBPyConnection, s: Slice) -> pd.DataFrame:
    """One row per (model_a, model_b, outcome, strength) with its count: all a fit needs."""
    return _counted(cur, s).df()


def battle_count_rows(cur: duckdb.DuckDBPyConnection, s: Slice,
                      ) -> list[tuple[str, str, str, int, int]]:
    """battle_counts as plain tuples, in the same order (for `gate`, which needs no pandas)."""
    return [(str(a), str(b), str(o), int(k), int(n))
            for a, b, o, k, n in _counted(cur, s).fetchall()]


def battles(cur: duckdb.DuckDBPyConnection, s: Slice) -> pd.DataFrame:
    """Verdict rows in time order, with lengths of both responses (Elo, style control, bias).

    For a judge verdict combined from both orders (left side unknown), order_decisive and
    order_left_wins count its calls that chose a side and those that chose the one shown
    first: position bias is a property of each showing, not of the combined verdict.
    """
    where, params = _where(s)
    model_a, model_b, _ = _models(s)
    return cur.execute(
        f"""
        SELECT v.verdict_id, v.pair_id, v.prompt_id, v.rater_id, v.source,
               {model_a} AS model_a, {model_b} AS model_b, v.outcome, v.strength,
               v.left_side, v.probability, v.consistent, v.duration_ms, v.created_at,
               a.purpose, a.retest_of, p.gold_outcome,
               oa.response_text AS text_a, ob.response_text AS text_b,
               length(oa.response_text) AS len_a, length(ob.response_text) AS len_b,
               o.order_decisive, o.order_left_wins
        FROM active_verdicts v
        JOIN outputs oa ON oa.output_id = v.output_a
        JOIN outputs ob ON ob.output_id = v.output_b
        LEFT JOIN assignments a ON a.assignment_id = v.assignment_id
        LEFT JOIN pairs p ON p.pair_id = v.pair_id
        -- a judge verdict combined from both orders has no left side; its calls have
        LEFT JOIN (
            SELECT task_id, pair_id, config_hash,
                   count(*) FILTER (WHERE raw_choice IN ('left', 'right')) AS order_decisive,
                   count(*) FILTER (WHERE raw_choice = 'left') AS order_left_wins
            FROM judge_calls WHERE task_id = $task GROUP BY task_id, pair_id, config_hash
        ) o ON v.left_side IS NULL AND v.judge_run_id IS NOT NULL AND o.task_id = v.task_id
           AND o.pair_id = v.pair_id AND o.config_hash = v.judge_config_hash
        WHERE {where}
        ORDER BY v.created_at, v.verdict_id
        """,  # noqa: S608
        params,
    ).df()


def output_costs(cur: duckdb.DuckDBPyConnection, task_id: str) -> pd.DataFrame:
    """Mean cost and latency per model, for the quality-versus-cost chart."""
    return cur.execute(
        """
        SELECT model, avg(cost_usd) AS cost_usd, avg(latency_ms) AS latency_ms,
               avg(output_tokens) AS output_tokens, count(*) AS outputs
        FROM outputs WHERE task_id = ? GROUP BY model ORDER BY model
        """,
        [task_id],
    ).df()


def output_speed(cur: duckdb.DuckDBPyConnection, task_id: str) -> list[dict[str, Any]]:
    """Per model: how many outputs carry each figure, median and p95 latency, median time to
    first token, mean cost and mean output tokens per answer (NULL where none carries it):
    the figures shown beside the ratings. Ordered-set aggregates: the spelling both databases
    share."""
    cur.execute(
        """
        SELECT model, count(*) AS outputs,
               count(latency_ms) AS with_latency,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS latency_p50_ms,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms) AS latency_p95_ms,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY ttft_ms) AS ttft_p50_ms,
               count(cost_usd) AS with_cost,
               avg(cost_usd) AS cost_mean_usd,
               avg(output_tokens) AS output_tokens_mean
        FROM outputs WHERE task_id = ? GROUP BY model ORDER BY model
        """,
        [task_id],
    )
    return all_rows(cur)


def slice_options(cur: duckdb.DuckDBPyConnection, task_id: str) -> dict[str, Any]:
    """What a task's verdicts can be sliced by: judges present, humans or not, categories,
    first and last verdict time, whether any output carries a model version."""
    judges = [r[0] for r in cur.execute(
        "SELECT DISTINCT rater_id FROM active_verdicts WHERE task_id = ? AND source = 'judge' "
        "ORDER BY 1", [task_id]).fetchall()]
    humans, first, last = cur.execute(
        "SELECT count(*) FILTER (WHERE source = 'human'), min(created_at), max(created_at) "
        "FROM active_verdicts WHERE task_id = ?", [task_id]).fetchall()[0]
    categories = [r[0] for r in cur.execute(
        "SELECT DISTINCT category FROM prompts WHERE task_id = ? AND category IS NOT NULL "
        "AND category <> '' ORDER BY 1", [task_id]).fetchall()]
    versions = cur.execute(
        "SELECT count(*) FROM outputs WHERE task_id = ? AND model_version <> ''",
        [task_id]).fetchall()[0][0]
    return {"judges": judges, "has_humans": humans > 0, "categories": categories,
            "first": first, "last": last, "has_versions": versions > 0}
