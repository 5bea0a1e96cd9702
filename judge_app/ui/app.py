"""Streamlit entry point: log in by token, then show the pages this rater may open."""

from __future__ import annotations

import streamlit as st

from judge_app.errors import JudgeAppError
from judge_app.ui.session import current_rater, login_form, send_browser_scripts, sign_out

st.set_page_config(page_title="judge_app", page_icon="⚖️", layout="wide")

rater = current_rater()
if rater is None:
    send_browser_scripts()
    login_form()
    st.stop()

admin = bool(rater["is_admin"])
# Admins land on the Tasks overview: on the pair page, a stray key press would vote.
pages = {
    "Rating": [st.Page("app_pages/rate.py", title="Rate pairs", icon=":material/how_to_vote:",
                       default=not admin),
               st.Page("app_pages/arena.py", title="Arena", icon=":material/compare_arrows:")],
}
if admin:  # every admin page also checks with require_admin()
    pages["Admin"] = [
        st.Page("app_pages/admin_tasks.py", title="Tasks", icon=":material/dashboard:",
                default=True),
        st.Page("app_pages/admin_raters.py", title="Raters", icon=":material/group:"),
        st.Page("app_pages/admin_import.py", title="Import", icon=":material/upload_file:"),
    ]
    pages["Analysis"] = [
        st.Page("app_pages/leaderboard.py", title="Leaderboard", icon=":material/leaderboard:"),
        st.Page("app_pages/agreement.py", title="Agreement", icon=":material/handshake:"),
        st.Page("app_pages/bias.py", title="Bias", icon=":material/balance:"),
        st.Page("app_pages/judge_runs.py", title="Judge runs", icon=":material/smart_toy:"),
        st.Page("app_pages/export.py", title="Export", icon=":material/download:"),
    ]
with st.sidebar:
    st.caption(f"Signed in as **{rater['rater_id']}**")
    st.button("Sign out", on_click=sign_out)
navigation = st.navigation(pages)
send_browser_scripts()  # after the page list: the address-bar script reruns this page
try:
    navigation.run()
except JudgeAppError as exc:  # a page that did not catch it: a message, never a traceback
    st.error(str(exc))
# Anything else is a bug: Streamlit shows its type and a generic message (showErrorDetails =
# "type", set by `judge-app serve` and .streamlit/config.toml); the traceback goes to the log.
