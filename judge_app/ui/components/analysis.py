"""The task picker and slice filters the analysis pages share, and their number formats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any, TypeVar

import streamlit as st

from judge_app.errors import JudgeAppError
from judge_app.services.leaderboard import slice_options, task_ids
from judge_app.services.overview import first_task_with_verdicts
from judge_app.storage.db import Database

T = TypeVar("T")


def pick_task(db: Database) -> str:
    """A task chosen on one analysis page stays chosen on the others."""
    tasks = task_ids(db)
    if not tasks:
        st.info("No tasks yet. Import one on the Import page or with `judge-app import PATH`.")
        st.stop()
    if st.session_state.get("analysis_task") not in tasks:  # first visit: a task with data
        st.session_state["analysis_task"] = first_task_with_verdicts(db) or tasks[0]
    chosen = st.selectbox("Task", tasks, index=tasks.index(st.session_state["analysis_task"]))
    st.session_state["analysis_task"] = chosen
    return str(chosen)


def slice_filters(db: Database, task_id: str) -> dict[str, object]:
    """Source, category, date range and by-version choices, as LeaderboardQuery fields."""
    opts = slice_options(db, task_id)
    cols = st.columns(4)
    source = cols[0].selectbox("Verdicts from", opts.sources, key=f"source_{task_id}",
                               help="human = people only; judge:NAME = one LLM judge")
    category = cols[1].selectbox("Category", ["all", *opts.categories], key=f"cat_{task_id}")
    since = until = None
    if opts.first is not None and opts.last is not None:
        first, last = opts.first.date(), opts.last.date()
        picked = cols[2].date_input("Dates", value=(first, last), min_value=first,
                                    max_value=last, key=f"dates_{task_id}")
        if isinstance(picked, tuple) and len(picked) == 2:
            if picked[0] > first:
                since = datetime.combine(picked[0], time.min)
            if picked[1] < last:
                until = datetime.combine(picked[1] + timedelta(days=1), time.min)
    by_version = cols[3].checkbox("Split by model version", key=f"ver_{task_id}",
                                  disabled=not opts.has_versions)
    return {"source": source, "category": None if category == "all" else category,
            "since": since, "until": until, "by_version": by_version}


def run_or_stop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a service; show its error (no verdicts in this slice, ...) and stop instead of
    a traceback."""
    try:
        return call(*args, **kwargs)
    except JudgeAppError as exc:
        st.warning(str(exc))
        st.stop()
        raise  # unreachable: st.stop() raises


def fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"

