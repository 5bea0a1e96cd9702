"""Numbers for the admin overview."""

from __future__ import annotations

from typing import Any

from judge_app.storage import catalog
from judge_app.storage.db import Database


def task_overview(db: Database) -> list[dict[str, Any]]:
    with db.cursor() as cur:
        return [
            {"task": t["task_id"], "title": t["title"], **catalog.task_counts(cur, t["task_id"])}
            for t in catalog.list_tasks(cur)
        ]
