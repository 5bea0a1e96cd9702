"""Admin: every task's coverage, then one task's raters and flagged items."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from judge_app.core.safe_text import inert_markdown
from judge_app.services.adaptive import adaptive_line
from judge_app.services.overview import flagged_items, rater_progress, task_overview
from judge_app.ui.session import database, require_admin

TASK_COLUMNS = {
    "task": st.column_config.TextColumn("task", pinned=True),
    "coverage": st.column_config.ProgressColumn(
        "coverage", help="Share of pairs judged by at least 'overlap target' people",
        min_value=0.0, max_value=1.0, format="percent", width=110),
    "overlap target": st.column_config.NumberColumn("target", help="people per pair wanted"),
    "pairs": st.column_config.NumberColumn("pairs", help="regular pairs (gold pairs apart)"),
    "human verdicts": st.column_config.NumberColumn("human", help="verdicts from people"),
    "judge verdicts": st.column_config.NumberColumn("judge", help="verdicts from LLM judges"),
    "flagged": st.column_config.NumberColumn("flagged", help="pairs a rater flagged"),
    "gold pairs": st.column_config.NumberColumn("gold", help="pairs with a known answer"),
    "prompts": st.column_config.NumberColumn("prompts"),
    "outputs": st.column_config.NumberColumn("outputs"),
}

require_admin()
db = database()
st.title("Tasks overview")
rows = task_overview(db)
if not rows:
    st.info("No tasks yet. Import one on the Import page or with `judge-app import PATH`.")
    st.stop()
# Narrow, labelled columns so the table fits a laptop-wide window; the title and what each
# task lacks go below it as text, which wraps.
st.dataframe(
    pd.DataFrame(rows)[list(TASK_COLUMNS)], hide_index=True, width="stretch",
    column_config=TASK_COLUMNS,
)
for row in rows:
    st.caption(inert_markdown(f"**{row['task']}** ({row['title']}): {row['missing']}"))
task_id = st.selectbox("Task", [r["task"] for r in rows])
if (target_line := adaptive_line(db, task_id, "human")) is not None:
    st.caption(inert_markdown(target_line))
st.subheader("Raters")
progress = rater_progress(db, task_id)
if progress:
    st.dataframe(pd.DataFrame(progress), hide_index=True, width="stretch")
else:
    st.caption("Nobody is assigned to this task yet.")
st.subheader("Flagged items")
flagged = flagged_items(db, task_id)
if flagged:
    st.dataframe(pd.DataFrame(flagged), hide_index=True, width="stretch")
else:
    st.caption("No rater has flagged a pair in this task.")
