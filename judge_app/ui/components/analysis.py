"""The task picker and slice filters the analysis pages share, and their number formats."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import Any, TypeVar

import streamlit as st

from judge_app.core.arena import ARENA_CATEGORY
from judge_app.errors import JudgeAppError
from judge_app.services.database import Database
from judge_app.services.leaderboard import (
    LeaderboardQuery,
    self_identified,
    slice_options,
    task_ids,
)
from judge_app.services.overview import first_task_with_verdicts

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


def self_identified_switch(db: Database, task_id: str, slice_: dict[str, object]) -> bool:
    """Whether to count arena votes on battles where an answer named its own model or vendor
    (left out by default); the switch shows for a task with arena battles, with how many
    votes it decides on in the slice. False without a switch."""
    found = run_or_stop(self_identified, db, LeaderboardQuery(task_id, **slice_))  # type: ignore[arg-type]
    if not found.votes and ARENA_CATEGORY not in slice_options(db, task_id).categories:
        return False
    counted = st.toggle("Count self-identified arena votes", key=f"selfid_{task_id}",
                        help="An arena answer that names its own model or vendor tells the "
                             "rater which side is which; such votes are kept but left out "
                             "of ratings by default (docs/arena.md)")
    st.caption(replace(found, counted=counted).sentence())
    return counted


def run_or_stop(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a service; show its error (no verdicts in this slice, ...) and stop instead of
    a traceback."""
    try:
        return call(*args, **kwargs)
    except JudgeAppError as exc:
        st.warning(str(exc))
        st.stop()
        raise  # unreachable: st.stop() raises


def _share(label: str, text: str) -> Any:
    return st.column_config.NumberColumn(label, help=text, format="%.3f")


def _count(label: str, text: str) -> Any:
    return st.column_config.NumberColumn(label, help=text)


# Short headers (the full meaning in each header's tooltip) and 3-digit shares, so the wide
# agreement, quality and bias tables fit a laptop-wide window; the name column stays pinned.
TABLE_COLUMNS: dict[str, Any] = {
    "rater_id": st.column_config.TextColumn("rater", pinned=True),
    "rater_1": st.column_config.TextColumn("rater 1", pinned=True),
    "rater_2": st.column_config.TextColumn("rater 2"),
    "judge": st.column_config.TextColumn("judge", pinned=True),
    "verdicts": _count("verdicts", "verdicts given"),
    "loo_n": _count("LOO n", "pairs where the other people have a majority"),
    "loo_agreement": _share("LOO agr.", "agreement with the majority of the other people"),
    "gold_n": _count("gold n", "verdicts on pairs with a known answer"),
    "gold_accuracy": _share("gold acc.", "share of gold pairs answered right"),
    "retest_n": _count("retest n", "pairs judged twice, sides swapped"),
    "retest_consistency": _share("retest", "same outcome when a pair came back swapped"),
    "decisive_n": _count("decisive n", "verdicts for one side (no tie)"),
    "left_share": _share("left", "share of decisive verdicts for the left side"),
    "median_duration_ms": st.column_config.NumberColumn(
        "median s", help="median seconds per verdict", format="%.1f"),
    "agreement": _share("agreement", "share of shared pairs with the same outcome"),
    "kappa": _share("kappa", "Cohen's kappa"),
    "accuracy": _share("accuracy", "share matching the human majority"),
    "precision": _share("precision", "macro precision"),
    "recall": _share("recall", "macro recall"),
    "f1": _share("F1", "macro F1"),
    "n": _count("n", "pairs or verdicts counted"),
}


def show_table(frame: Any, **overrides: Any) -> None:
    """A full-width table with the shared short headers; seconds instead of milliseconds."""
    if "median_duration_ms" in frame:
        frame = frame.assign(median_duration_ms=frame["median_duration_ms"] / 1000)
    config = {c: TABLE_COLUMNS[c] for c in frame.columns if c in TABLE_COLUMNS} | overrides
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)


def fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"

