"""The live arena: a rater's prompt, two anonymous models answering side by side as they
write, a blind vote with the pair page's controls, the names shown after the vote.

Blinding: the page only ever draws the two texts (services.arena.LiveBattle.texts), both
sides on the same 0.1 s tick; no model name, id, latency or cost reaches the browser before
the vote. The battle (with its models) stays in the server's session state.
"""

from __future__ import annotations

import threading

import streamlit as st

from judge_app.core.safe_text import inert_markdown
from judge_app.errors import JudgeAppError
from judge_app.services import arena, raters
from judge_app.services.rating import task_settings
from judge_app.services.verdicts import VerdictInput
from judge_app.ui.components.conversation import show_text
from judge_app.ui.components.verdict_controls import TOUCH_CSS, show_controls, show_messages
from judge_app.ui.session import current_rater, database, session_id

TICK_S = 0.1  # both answers are redrawn together this often while they stream

rater = current_rater()
assert rater is not None  # app.py shows the login form otherwise
db = database()
tasks = arena.arena_tasks(db, raters.tasks_for(db, rater))
if not tasks:
    st.info("None of your tasks has an arena. Ask your evaluation lead to set one up.")
    st.stop()
picked = st.pills("Task", tasks, default=tasks[0], key="arena_task") if len(tasks) > 1 else None
task_id = picked or tasks[0]
sid = session_id()
config = task_settings(db, task_id)
settings = arena.settings_for(db, task_id)
assert settings is not None
state = st.session_state
st.html(TOUCH_CSS)
st.subheader(inert_markdown(f"Arena: {config.title or task_id}"))
st.caption("Type a prompt: two anonymous models of this task answer side by side. Vote for "
           "the better answer; the names show after your vote.")


def _answer(battle: arena.Battle, live: arena.LiveBattle) -> None:
    try:
        arena.answer_battle(db, battle, live)
    except Exception as exc:  # noqa: BLE001 - shown to the rater by the page below
        live.error = live.error or str(exc)


def _vote(v: VerdictInput) -> None:
    outcome = state.get("arena_outcome")
    if outcome is None:
        raise JudgeAppError("this battle is over; type a new prompt")
    state["arena_names"] = arena.vote(db, sid, outcome.battle_id, v)


def _stream(battle: arena.Battle) -> arena.LiveBattle:
    """Both answers as they come, redrawn together on a fixed tick."""
    live = arena.LiveBattle()
    threading.Thread(target=_answer, args=(battle, live), daemon=True).start()
    left, right = st.columns(2)
    with left:
        st.markdown("#### A")
        box_a = st.empty()
    with right:
        st.markdown("#### B")
        box_b = st.empty()
    with st.spinner("Both models are answering..."):
        while True:
            finished = live.done.wait(TICK_S)
            text_a, text_b = live.texts()
            box_a.markdown(inert_markdown(text_a) or "…")
            box_b.markdown(inert_markdown(text_b) or "…")
            if finished:
                return live


def _show_turns(turns: tuple[tuple[str, str, str], ...], names: dict[str, str] | None,
                ) -> None:
    """The battle so far: each prompt, then both answers (named only after the vote)."""
    for n, (asked, text_a, text_b) in enumerate(turns, start=1):
        st.markdown("#### Prompt" + (f" {n}" if len(turns) > 1 else ""))
        show_text(asked)
        left, right = st.columns(2)
        for column, label, side, text in ((left, "A", "left", text_a),
                                          (right, "B", "right", text_b)):
            with column:
                shown = f"{label}: {names[side]}" if names else label
                st.markdown(f"#### {inert_markdown(shown)}")
                with st.container(border=True):
                    show_text(text)


def _run(battle: arena.Battle, earlier: tuple[tuple[str, str, str], ...]) -> None:
    """Stream a battle's turn under the earlier ones, keep the outcome, draw the page again."""
    _show_turns(earlier, None)
    st.markdown("#### Prompt" + (f" {len(earlier) + 1}" if earlier else ""))
    show_text(battle.prompt)
    live = _stream(battle)
    if live.outcome is None or live.outcome.assignment_id is None:
        st.error(f"No answer: {live.error or 'the call failed'}")
        st.stop()
    state["arena_outcome"] = live.outcome
    st.rerun()


with st.form("arena_prompt_form", clear_on_submit=True):
    prompt = st.text_area("Your prompt (a new battle)", key="arena_text",
                          max_chars=settings.max_prompt_chars, height=110)
    sent = st.form_submit_button("Send to two anonymous models", type="primary")
show_messages()
if not sent and state.get("arena_outcome") is None:
    # A fresh page (a reload, or the server that answered died): say where the last battle is.
    notice = arena.last_battle_notice(db, sid, task_id)
    if notice is not None:
        (st.warning if notice[0] == "warning" else st.info)(notice[1])
if sent:
    try:
        battle = arena.start_battle(db, sid, task_id, prompt)
    except JudgeAppError as exc:
        st.error(str(exc))
        st.stop()
    state.pop("arena_outcome", None)
    state.pop("arena_names", None)
    _run(battle, ())

outcome: arena.BattleOutcome | None = state.get("arena_outcome")
names = state.get("arena_names")
if outcome is not None:
    _show_turns(outcome.turns, names)
    if names:
        st.success(inert_markdown(f"A was {names['left']}, B was {names['right']}."))
        if outcome.self_identified:
            st.caption("An answer named its model or vendor: your vote is kept, but left out "
                       "of ratings by default.")
    elif outcome.assignment_id is not None:
        show_controls(db, sid, config, outcome.assignment_id, on_vote=_vote,
                      skip_and_undo=False)
        with st.form("arena_follow_form", clear_on_submit=True):
            follow = st.text_area("Follow-up (both models answer it, each with its own "
                                  "earlier answers)", key="arena_follow",
                                  max_chars=settings.max_prompt_chars, height=80)
            asked = st.form_submit_button("Ask both a follow-up")
        if asked:
            try:
                battle = arena.follow_up(db, sid, outcome.battle_id, follow)
            except JudgeAppError as exc:
                st.error(str(exc))
                st.stop()
            _run(battle, outcome.turns)
