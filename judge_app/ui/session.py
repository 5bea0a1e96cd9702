"""Who is using this browser tab, checked against the database on every rerun."""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from judge_app.services import raters
from judge_app.storage.db import Database, resolve_db_path
from judge_app.storage.schema import open_database


def database() -> Database:
    # The server created and migrated it; a missing file here is a wrong $JUDGE_APP_DB.
    return open_database(resolve_db_path(os.environ.get("JUDGE_APP_DB")), create=False)


def current_rater() -> dict[str, Any] | None:
    """Log in from ?token=..., then drop the token from the address bar."""
    token = st.query_params.get("token")
    if token:
        st.session_state["token"] = token
        del st.query_params["token"]
    token = st.session_state.get("token")
    if not token:
        return None
    rater = raters.authenticate(database(), token)
    if rater is None or rater["disabled"]:
        st.session_state.pop("token", None)
        st.session_state["login_error"] = (
            "This login link is not valid or the rater is disabled. Ask your evaluation lead "
            "for a new link."
        )
        return None
    return rater


def login_form() -> None:
    st.title("judge_app")
    if message := st.session_state.pop("login_error", None):
        st.error(message)
    with st.form("login"):
        token = st.text_input("Your login token (from your personal link)", type="password")
        if st.form_submit_button("Sign in") and token:
            st.session_state["token"] = token.strip()
            st.rerun()


def require_admin() -> dict[str, Any]:
    rater = current_rater()
    if rater is None or not rater["is_admin"]:
        st.error("This page needs admin rights.")
        st.stop()
    assert rater is not None
    return rater
