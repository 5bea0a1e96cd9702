"""Who is using this browser tab: a server-side session, checked against the database on
every rerun, and kept by the browser in a cookie so a reload stays signed in.

A login link (``?token=...``) is exchanged for a new session id at once. The token leaves the
address bar through ``history.replaceState``, which rewrites the current history entry
instead of adding one, so Back never returns to a URL that carries it. What the browser
keeps is the session id (a cookie for this site only, gone when the browser closes); only
its hash is stored, and disabling the rater or issuing a new link ends it.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from judge_app.services import sessions
from judge_app.services.database import Database, open_app_database
from judge_app.services.raters import hash_token

COOKIE = "judge_app_session"
BAD_LINK = ("This login link is not valid or the rater is disabled. Ask your evaluation lead "
            "for a new link.")
# Rewrites the current history entry: removing the token must not leave an entry behind
# (deleting it from st.query_params pushes a new entry and keeps the old one). The popstate
# event then makes Streamlit's frontend take the address as it now is, so the token is neither
# sent with later reruns nor put back into the address by a page change.
_SCRUB_TOKEN = """(function () {
  var url = new URL(window.location.href);
  if (!url.searchParams.has("token")) return;
  url.searchParams.delete("token");
  window.history.replaceState(window.history.state, "", url.pathname + url.search + url.hash);
  window.dispatchEvent(new PopStateEvent("popstate", {state: window.history.state}));
})();"""


def database() -> Database:
    # The server created and migrated it; a missing file here is a wrong $JUDGE_APP_DB.
    return open_app_database(os.environ.get("JUDGE_APP_DB"), create=False)


def run_in_browser(script: str) -> None:
    """A small script of ours (never text from data) run in the page itself."""
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


def _cookie_script(session_id: str | None) -> str:
    if session_id is None:
        return f"document.cookie = '{COOKIE}=; Path=/; Max-Age=0; SameSite=Strict';"
    return (  # session ids are url-safe base64: nothing to escape
        f"document.cookie = '{COOKIE}={session_id}; Path=/; SameSite=Strict' + "
        "(window.location.protocol === 'https:' ? '; Secure' : '');")


def _sign_in(db: Database, token: str) -> None:
    """Exchange a login token for a session; the caller sends the cookie to the browser."""
    state = st.session_state
    session_id = sessions.sign_in(db, token)
    state.pop("session", None)
    if session_id is None:
        state["signed_out"] = True
        state["login_error"] = BAD_LINK
        return
    state["session"] = session_id
    state.pop("signed_out", None)


def current_rater() -> dict[str, Any] | None:
    """The signed-in rater of this tab: from a login link, the login form, or the session
    this browser already has; None shows the login form."""
    state = st.session_state
    db = database()
    # The scripts wait for send_browser_scripts(): the one that scrubs the address bar makes
    # the browser rerun the page it shows, so it must run after the page list is known and
    # after every state change here (the rerun may stop this run at its next element).
    scripts: list[str] = state.setdefault("browser_scripts", [])
    if state.pop("forget_cookie", None):
        scripts.append(_cookie_script(None))
    token = st.query_params.get("token")
    if token:
        digest = hash_token(token)
        if state.get("login_digest") != digest:  # once per link, not on every rerun
            _sign_in(db, token)
            state["login_digest"] = digest
            scripts += [_cookie_script(state.get("session")), _SCRUB_TOKEN]
    if typed := state.pop("token", None):  # the login form
        _sign_in(db, str(typed))
        scripts.append(_cookie_script(state.get("session")))
    session_id = state.get("session")
    if session_id is None and not state.get("signed_out"):
        session_id = st.context.cookies.get(COOKIE)
    rater = sessions.rater_of(db, session_id)
    if rater is None:
        if session_id:
            state["login_error"] = sessions.SIGNED_OUT
            state["signed_out"] = True
            scripts.append(_cookie_script(None))
        state.pop("session", None)
        return None
    state["session"] = session_id
    return rater


def send_browser_scripts() -> None:
    """Send the scripts current_rater() queued (cookie, address bar). Called once per run, by
    app.py after st.navigation(): one slot every run, filled or not, so the elements after it
    keep their places and a run that sends a script leaves no stale copies below."""
    slot = st.empty()
    if scripts := st.session_state.pop("browser_scripts", None):
        with slot:
            run_in_browser("\n".join(scripts))


def session_id() -> str:
    """The session of the signed-in rater (call after current_rater)."""
    return str(st.session_state.get("session", ""))


def sign_out() -> None:
    """Button callback: end the session here and in the database; the next run forgets the
    cookie."""
    if sid := st.session_state.get("session"):
        sessions.sign_out(database(), sid)
    st.session_state.clear()
    st.session_state["signed_out"] = True
    st.session_state["forget_cookie"] = True


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
