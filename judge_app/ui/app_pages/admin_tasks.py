"""Admin: every task's coverage, then one task's raters and flagged items."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from judge_app.services.overview import flagged_items, rater_progress, task_overview
from judge_app.ui.session import database, require_admin

require_admin()
db = database()
st.title("Tasks overview")
rows = task_overview(db)
if not rows:
    st.info("No tasks yet. Import one on the Import page or with `judge-app import PATH`.")
    st.stop()
st.dataframe(
    pd.DataFrame(rows), hide_index=True, width="stretch",
    column_config={"coverage": st.column_config.ProgressColumn(
        "coverage", help="Share of pairs judged by at least 'overlap target' people",
        min_value=0.0, max_value=1.0, format="percent"),
        "missing": st.column_config.TextColumn(
            "missing", help="How many verdicts the pairs have against the overlap target, "
            "and how many more are needed", width="large")},
)
task_id = st.selectbox("Task", [r["task"] for r in rows])
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
