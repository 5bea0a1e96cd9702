"""Streamlit entry point: log in by token, then show the pages this rater may open."""

from __future__ import annotations

import streamlit as st

from judge_app.ui.session import current_rater, login_form

st.set_page_config(page_title="judge_app", page_icon="⚖️", layout="wide")

rater = current_rater()
if rater is None:
    login_form()
    st.stop()

pages = {
    "Rating": [st.Page("app_pages/rate.py", title="Rate pairs", icon="🗳️", default=True)],
}
if rater["is_admin"]:
    pages["Admin"] = [
        st.Page("app_pages/admin_tasks.py", title="Tasks", icon="📋"),
    ]
with st.sidebar:
    st.caption(f"Signed in as **{rater['rater_id']}**")
    if st.button("Sign out"):
        st.session_state.clear()
        st.rerun()
st.navigation(pages).run()
