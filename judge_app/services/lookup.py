""""Did you mean ...?" for names a person typed: tasks and models."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from judge_app.errors import NotFoundError
from judge_app.storage import catalog


def closest(name: str, known: Iterable[str], n: int = 3) -> list[str]:
    """Up to n known names that look like `name` (difflib's ratio; case-insensitive)."""
    names = list(known)
    lowered = {k.lower(): k for k in names}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    return [lowered[f] for f in found]


def suggestion(name: str, known: Iterable[str]) -> str:
    """'; did you mean 'x'?' with the closest known name, or '' when nothing is close."""
    found = closest(name, known, n=1)
    return f"; did you mean '{found[0]}'?" if found else ""


def task_not_found(cur: Any, task_id: str) -> NotFoundError:
    """The error for an unknown task, naming the closest known task names."""
    known = [str(t["task_id"]) for t in catalog.list_tasks(cur)]
    hint = suggestion(task_id, known)
    if not hint and not known:
        hint = " (the database has no tasks yet: judge-app import or judge-app demo)"
    return NotFoundError(f"no task named '{task_id}'{hint}")
