"""Numbers for the admin overview."""

from __future__ import annotations

from typing import Any

from judge_app.core.types import task_config_from_dict
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
                "task": task["task_id"], "title": task["title"], "prompts": counts["prompts"],
                "outputs": counts["outputs"], "pairs": cov["pairs"],
                "gold pairs": cov["gold_pairs"], "human verdicts": cov["human_verdicts"],
                "judge verdicts": cov["judge_verdicts"], "overlap target": overlap,
                "pairs at target": cov["pairs_at_target"],
                "coverage": cov["pairs_at_target"] / cov["pairs"] if cov["pairs"] else 0.0,
                "flagged": cov["flagged"],
            })
    return rows


def rater_progress(db: Database, task_id: str) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        return overview.rater_progress(cur, task_id)


def flagged_items(db: Database, task_id: str) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        return overview.flagged_items(cur, task_id)
