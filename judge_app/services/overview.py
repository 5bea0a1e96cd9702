"""Numbers for the admin overview."""

from __future__ import annotations

import json
from typing import Any

from judge_app.core.types import task_config_from_dict, text_of
from judge_app.storage import catalog, overview
from judge_app.storage.db import Database


def task_overview(db: Database) -> list[dict[str, Any]]:
    """One row per task: sizes, verdicts and how many pairs reached the overlap target."""
    rows = []
    with db.cursor() as cur:
        for task in catalog.list_tasks(cur):
            overlap = task_config_from_dict(task["config"]).overlap
            counts = catalog.task_counts(cur, task["task_id"])
            cov = overview.coverage(cur, task["task_id"], overlap)
            rows.append({
                "task": task["task_id"],
                "coverage": cov["pairs_at_target"] / cov["pairs"] if cov["pairs"] else 0.0,
                "pairs": cov["pairs"], "pairs at target": cov["pairs_at_target"],
                "overlap target": overlap, "human verdicts": cov["human_verdicts"],
                "judge verdicts": cov["judge_verdicts"], "flagged": cov["flagged"],
                "gold pairs": cov["gold_pairs"], "prompts": counts["prompts"],
                "outputs": counts["outputs"], "title": task["title"],
            })
    return rows


def rater_progress(db: Database, task_id: str) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        return overview.rater_progress(cur, task_id)


def flagged_items(db: Database, task_id: str) -> list[dict[str, Any]]:
    """Flagged verdicts and skips, with the prompt's last user turn instead of its JSON."""
    with db.cursor() as cur:
        rows = overview.flagged_items(cur, task_id)
    for row in rows:
        messages = json.loads(row.pop("messages"))
        text = text_of([m for m in messages if m.get("role") == "user"][-1:] or messages)
        row["prompt"] = text if len(text) <= 160 else text[:157] + "..."
    return rows


def first_task_with_verdicts(db: Database) -> str | None:
    """Where the analysis pages open: an empty task first would show nothing to analyse."""
    with db.cursor() as cur:
        return overview.first_task_with_verdicts(cur)
