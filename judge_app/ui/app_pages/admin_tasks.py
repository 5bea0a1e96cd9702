"""Admin: the tasks in this database."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from judge_app.services.overview import task_overview
from judge_app.ui.session import database, require_admin

require_admin()
st.title("Tasks")
rows = task_overview(database())
if not rows:
    st.info("No tasks yet. Import one with `judge-app import PATH`.")
else:
    st.dataframe(pd.DataFrame(rows), hide_index=True, use_container_width=True)
