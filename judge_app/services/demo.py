"""The bundled demo tasks, shipped in the project's tasks/ folder."""

from __future__ import annotations

from pathlib import Path

from judge_app.errors import NotFoundError
from judge_app.ingest.loader import load_bundles
from judge_app.services.imports import import_bundle
from judge_app.storage import catalog
from judge_app.storage.db import Database

TASKS_DIR = Path(__file__).resolve().parents[2] / "tasks"
DEMO_TASKS = ("demo-alpaca", "demo-cost", "demo-pandalm")


def load_demo(db: Database, *, if_empty: bool = False) -> list[str]:
    if if_empty:
        with db.cursor() as cur:
            if catalog.list_tasks(cur):
                return [f"{db.path}: already has tasks; demo not loaded"]
    folders = [TASKS_DIR / name for name in DEMO_TASKS]
    missing = [str(f) for f in folders if not (f / "task.toml").exists()]
    if missing:
        raise NotFoundError(f"demo task folders not found: {', '.join(missing)}")
    return [import_bundle(db, b).summary() for b in load_bundles(folders, "native", None)]
