"""Bias: does a rater or judge favour the left side, the longer answer, or flip on a swap?"""

from __future__ import annotations

import streamlit as st

from judge_app.export import charts
from judge_app.services.leaderboard import agreement
from judge_app.ui.components.analysis import pick_task, run_or_stop, show_table
from judge_app.ui.session import database, require_admin

require_admin()
db = database()
st.title("Bias")
task_id = pick_task(db)
report = run_or_stop(agreement, db, task_id, None)
st.caption("Shares with 95% Wilson intervals per rater and judge; 0.5 (dashed) means no bias.")
for title, frame, share, note in (
    ("Position bias", report.position_bias, "left_share",
     "Share of decisive verdicts for the response shown on the left."),
    ("Length bias", report.length_bias, "longer_share",
     "Share of decisive verdicts won by the longer response."),
    ("Swap consistency", report.swap_consistency, "consistency",
     "Share of pairs judged twice (swapped re-test, or a judge's two orders) with the same "
     "outcome; 1 is perfectly consistent."),
):
    st.subheader(title)
    st.caption(note)
    if (frame["n"] > 0).any():
        st.altair_chart(charts.share_chart(frame, share, title), width="stretch")
        show_table(frame)
    else:
        st.caption("No verdicts this figure can use.")
