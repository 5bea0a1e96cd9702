"""Rate pairs (the full pair page comes with the rater issue)."""

from __future__ import annotations

import streamlit as st

from judge_app.services import raters
from judge_app.ui.session import current_rater, database

rater = current_rater()
assert rater is not None
st.title("Rate pairs")
tasks = raters.tasks_for(database(), rater)
if not tasks:
    st.info("You have no tasks yet. Ask your evaluation lead to assign you one.")
else:
    st.write("Your tasks:", ", ".join(tasks))
