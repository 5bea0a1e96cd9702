"""A verdict row in its one shape: every writer (votes, skips, undo, judge runs, imports, the
verdicts export read back) builds its rows here, so a new column has one home."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judge_app.core.clock import stored_now


def verdict_row(verdict_id: str, pair: Mapping[str, Any], rater_id: str, source: str,
                **fields: Any) -> dict[str, Any]:
    """A verdict row in its one shape, for every writer (votes, skips, undo, judges, imports):
    its id, the pair it is about (task, prompt, both outputs and models in canonical order),
    who gave it and when (now, unless `created_at` is given); `fields` add the rest."""
    row = {"verdict_id": verdict_id, "task_id": pair["task_id"], "pair_id": pair["pair_id"],
           "prompt_id": pair["prompt_id"], "rater_id": rater_id, "source": source,
           "output_a": pair["output_a"], "output_b": pair["output_b"],
           "model_a": pair["model_a"], "model_b": pair["model_b"], "flagged": False, **fields}
    if "created_at" not in row:
        row["created_at"] = stored_now()
    return row
