"""The read behind the rater-reliability model: votes per rater, pair and shown order."""

from __future__ import annotations

import duckdb
import pandas as pd

from judge_app.storage.analytics import Slice, _models, _where


def rater_vote_counts(cur: duckdb.DuckDBPyConnection, s: Slice) -> pd.DataFrame:
    """One row per (rater, model_a, model_b, left side, outcome, strength) with its count:
    all core.reliability.rater_counts needs, from one GROUP BY. Unordered: the counting
    sorts its own keys, so the fit does not depend on the row order."""
    where, params = _where(s)
    model_a, model_b, joins = _models(s)
    return cur.execute(
        f"""
        SELECT v.rater_id, min(v.source) AS source, {model_a} AS model_a,
               {model_b} AS model_b, v.left_side, v.outcome,
               coalesce(v.strength, 1) AS strength, count(*) AS n
        FROM active_verdicts v {joins}
        WHERE {where}
        GROUP BY v.rater_id, {model_a}, {model_b}, v.left_side, v.outcome,
                 coalesce(v.strength, 1)
        """,  # noqa: S608 - built from fixed fragments; values are parameters
        params,
    ).df()
