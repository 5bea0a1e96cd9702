"""Numbers for the admin overview."""

from __future__ import annotations

import json
from typing import Any

from judge_app.core.types import task_config_from_dict, text_of
from judge_app.storage import catalog, overview
from judge_app.storage.db import Database


def coverage_note(per_pair: dict[int, int], target: int) -> str:
    """What coverage means in words, and what is missing: from {human verdicts: pairs}.

    e.g. "999 of 999 pairs have 3 of 4 verdicts; 1 more rater per pair needed (999 verdicts)".
    """
    total = sum(per_pair.values())
    if total == 0:
        return "no pairs to rate"
    short = {v: n for v, n in per_pair.items() if v < target}
    if not short:
        return f"all {total} pairs have {target} or more verdicts"
    below = sum(short.values())
    missing = sum((target - v) * n for v, n in short.items())
    verdicts = "verdict" if missing == 1 else "verdicts"
    if len(short) == 1:
        [(have, _)] = short.items()
        more = target - have
        raters = "rater" if more == 1 else "raters"
        return (f"{below} of {total} pairs have {have} of {target} verdicts; {more} more "
                f"{raters} per pair needed ({missing} {verdicts})")
    return (f"{below} of {total} pairs have fewer than {target} verdicts ({min(short)} to "
            f"{max(short)}); {missing} more {verdicts} needed")


def task_overview(db: Database) -> list[dict[str, Any]]:
    """One row per task: sizes, verdicts and how many pairs reached the overlap target, and
    in words what is missing."""
    rows = []
    with db.cursor() as cur:
        for task in catalog.list_tasks(cur):
            overlap = task_config_from_dict(task["config"]).overlap
            counts = catalog.task_counts(cur, task["task_id"])
            cov = overview.coverage(cur, task["task_id"], overlap)
            note = coverage_note(overview.verdicts_per_pair(cur, task["task_id"]), overlap)
            rows.append({
                "task": task["task_id"],
                "coverage": cov["pairs_at_target"] / cov["pairs"] if cov["pairs"] else 0.0,
                "missing": note,
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
