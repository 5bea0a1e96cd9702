"""Admin: add raters (the login link is shown once), disable them, assign tasks."""

from __future__ import annotations

from urllib.parse import urlsplit

import pandas as pd
import streamlit as st

from judge_app.errors import JudgeAppError
from judge_app.services import raters
from judge_app.ui.session import database, require_admin

require_admin()
db = database()
st.title("Raters")
tasks = raters.tasks_for(db, {"is_admin": True})
people = [r for r in raters.list_raters(db) if r["source"] == "human"]


def base_url() -> str:
    url = urlsplit(st.context.url or "http://127.0.0.1:8501/")
    return f"{url.scheme}://{url.netloc}"


if link := st.session_state.pop("new_link", None):
    st.success("Rater added. Copy the login link now: it is shown only once.")
    st.code(link, language=None)

if people:
    st.dataframe(pd.DataFrame(people).drop(columns=["source"]), hide_index=True,
                 width="stretch")

with st.form("add_rater", clear_on_submit=True):
    st.subheader("Add a rater (or issue a new link)")
    name = st.text_input("Name", help="Letters, digits, '.', '_', '@' or '-'")
    assigned = st.multiselect("Tasks", tasks)
    admin = st.checkbox("Admin (can open this console)")
    if st.form_submit_button("Add rater"):
        try:
            login = raters.add_rater(db, name.strip(), admin=admin, tasks=assigned)
            st.session_state["new_link"] = login.link(base_url())
            st.rerun()
        except JudgeAppError as exc:
            st.error(str(exc))

if people:
    st.subheader("Change a rater")
    who = st.selectbox("Rater", [r["rater_id"] for r in people])
    current = next(r for r in people if r["rater_id"] == who)
    more = st.multiselect("Assign to tasks", [t for t in tasks
                                              if t not in current["tasks"].split(",")])
    left, right = st.columns(2)
    if left.button("Assign", disabled=not more):
        raters.assign_tasks(db, who, more)
        st.rerun()
    label = "Enable" if current["disabled"] else "Disable"
    if right.button(f"{label} {who}"):
        raters.set_disabled(db, who, not current["disabled"])
        st.rerun()
