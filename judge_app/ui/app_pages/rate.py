"""The rater's pair page: prompt, two blinded responses labelled A and B, verdict controls."""

from __future__ import annotations

import streamlit as st

from judge_app.core.safe_text import inert_markdown
from judge_app.errors import SignedOut
from judge_app.services import raters
from judge_app.services.database import Database
from judge_app.services.rating import done_count, rating_view, task_settings
from judge_app.ui.components import lookahead
from judge_app.ui.components.conversation import is_long, show_prompt, show_response, show_text
from judge_app.ui.components.verdict_controls import (
    AFTER_VOTE,
    JUST_VOTED,
    START_AT_TOP,
    TOUCH_CSS,
    keyboard_hints,
    mark_shown,
    settle_vote,
    show_controls,
    show_messages,
    shown_key,
    undo_button,
)
from judge_app.ui.session import current_rater, database, run_in_browser, session_id

rater = current_rater()
assert rater is not None  # app.py shows the login form otherwise
db = database()
tasks = raters.tasks_for(db, rater)
if not tasks:
    st.info("You have no tasks yet. Ask your evaluation lead to assign you one.")
    st.stop()
# Pills, not a selectbox: a focused text box would swallow the keyboard shortcuts.
picked = st.pills("Task", tasks, default=tasks[0], key="task") if len(tasks) > 1 else None
task_id = picked or tasks[0]
sid = session_id()


@st.fragment
def pair_area(db: Database, sid: str, task_id: str) -> None:
    """Progress, the pair and its controls. A vote reruns only this part of the page: the
    title, instructions and sidebar do not change between pairs. Every write and read here
    checks the session itself (services.sessions), since a fragment run skips app.py."""
    state, key = st.session_state, shown_key(task_id)
    # A submit in this run left the next view (services.rating.submit, or the pair read
    # ahead while its vote is stored: settle_vote); otherwise the view
    # drawn last is reused while its pair is still the open one (a click on an outcome), and
    # after a skip the next pair is taken at once.
    view = state.get(key) if state.pop(JUST_VOTED, False) else None
    if view is None:
        try:
            view = rating_view(db, sid, task_id, shown=state.get(key),
                               after_vote=bool(state.pop(AFTER_VOTE, False)))
        except SignedOut:
            state.pop(key, None)
            st.rerun(scope="app")  # the whole page: app.py shows the login form
        state[key] = view
    config, pair, done = view.config, view.pair, view.progress
    st.progress(done.done / done.total if done.total else 1.0,
                text=f"{done.done} / {done.total} done")
    if pair is None:
        show_messages()
        st.success("All done in this task. Thank you!")
        undo_button(db, sid, task_id)
        return
    messages = st.container()  # filled once the vote in flight (if any) is stored
    show_prompt(pair.prompt, heading="#### Prompt")
    if pair.reference:
        with st.expander("Reference answer", expanded=True):
            show_text(pair.reference)
    scroll = is_long(pair.left) or is_long(pair.right)  # both boxes the same height
    left, right = st.columns(2)
    with left:
        show_response("A", pair.left, scroll)
    with right:
        show_response("B", pair.right, scroll)
    settle_vote(task_id, view)  # the texts are on their way; the controls wait for the vote
    mark_shown(pair.assignment_id)
    with messages:
        show_messages()
    show_controls(db, sid, config, pair.assignment_id, hints=False)
    lookahead.prepare(db, sid, view)  # the next pair, read while the rater reads this one


config = task_settings(db, task_id)
st.html(TOUCH_CSS)
run_in_browser(START_AT_TOP)  # a new pair starts at its top (phones); once, not per vote
st.subheader(inert_markdown(config.title or task_id))
if config.instructions.strip():
    with st.expander("Instructions", expanded=done_count(db, rater["rater_id"], task_id) == 0):
        show_text(config.instructions)
pair_area(db, sid, task_id)
if getattr(st.session_state.get(shown_key(task_id)), "pair", None) is not None:
    keyboard_hints(config)  # the same for every pair: drawn once, under the pair area
