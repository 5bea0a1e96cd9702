"""The verdict controls of the pair page: outcomes, strength, criteria, rationale, flag, skip.

Nothing carries over to the next pair: the buttons' keys carry the assignment id, and the
widgets that hold a value (criteria, rationale, flag) keep one key per slot, cleared whenever
another assignment is drawn (see ``_own_values``). The buttons act in callbacks, which run
before the page script: one submit saves the verdict and the same run already shows the
next pair.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

from judge_app.core.safe_text import inert_markdown
from judge_app.core.types import Criterion, RawChoice, TaskConfig, canonical_outcome
from judge_app.errors import JudgeAppError, SignedOut
from judge_app.services import rating, verdicts
from judge_app.services.database import Database
from judge_app.services.rating import RatingView
from judge_app.ui.components import lookahead

LABELS: dict[RawChoice, str] = {
    "left": "A is better", "right": "B is better", "tie": "Tie", "both_bad": "Both bad",
}
SHORT: dict[RawChoice, str] = {"left": "A", "right": "B", "tie": "Tie", "both_bad": "Both bad"}
KEYS: dict[RawChoice, str] = {"left": "1", "right": "2", "tie": "3", "both_bad": "4"}
SUBMIT_KEY, SKIP_KEY, UNDO_KEY, MUCH_KEY = "Enter", "S", "U", "M"
# Set by a skip that was stored: the next run of the pair area takes the next assignment at
# once (services.rating.rating_view's after_vote).
AFTER_VOTE = "after_vote"
# Set by a submit that was stored: the submit already took the next pair and left its view
# under shown_key(), for the pair area to draw as it is.
JUST_VOTED = "just_voted"
# A vote stored in a thread while the pair read ahead is drawn (settle_vote waits for it).
VOTE_IN_FLIGHT = "vote_in_flight"


# The assignment the value widgets (criteria, rationale, flag) hold values for. Their keys
# stay the same from one pair to the next so that the browser updates the widgets in place:
# a new key makes it mount new ones, which cost tens of milliseconds per vote
# (benchmarks/README.md, the rater's wait).
VALUES_FOR = "values_for"
RATIONALE_KEY, FLAG_KEY = "vc_rationale", "vc_flag"


def _criterion_key(name: str) -> str:
    return f"vc_crit_{name}"


def _own_values(config: TaskConfig, assignment_id: str) -> None:
    """Clear the value widgets when they are about to be drawn for another assignment.
    Values set here, before the widgets exist in this run, also reset them in the browser."""
    state = st.session_state
    if state.get(VALUES_FOR) == assignment_id:
        return
    for criterion in config.criteria:
        state[_criterion_key(criterion.name)] = None
    state[RATIONALE_KEY] = ""
    state[FLAG_KEY] = False
    state[VALUES_FOR] = assignment_id


def _value(assignment_id: str, key: str) -> Any:
    """A value widget's value, if it was given for this assignment."""
    state = st.session_state
    return state.get(key) if state.get(VALUES_FOR) == assignment_id else None


def shown_key(task_id: str) -> str:
    """Where the pair area keeps the view it drew last (reused until the data changes)."""
    return f"shown_{task_id}"


def allowed(outcomes: tuple[str, ...]) -> list[RawChoice]:
    """The task's outcomes in left/right terms (left is 'a' when the rater sees A on the left)."""
    return [c for c in LABELS if canonical_outcome(c, "a") in outcomes]


def shortcut_help(config: TaskConfig, skip_and_undo: bool = True) -> str:
    keys = [f"`{KEYS[c]}` {LABELS[c]}" for c in allowed(config.outcomes)]
    if config.strength:
        keys.append(f"`{MUCH_KEY}` much better")
    keys.append(f"`{SUBMIT_KEY}` submit")
    if skip_and_undo:
        keys += [f"`{SKIP_KEY}` skip", f"`{UNDO_KEY}` undo last verdict"]
    return "Keyboard: " + " · ".join(keys)


# On a touch screen (no hover, coarse pointer) there is no keyboard: no hints, no key badges.
TOUCH_CSS = """<style>
@media (hover: none) and (pointer: coarse) {
  .st-key-keyboard_hints, button kbd[aria-label^="Shortcut"] { display: none !important; }
}
</style>"""


# Installed once per page (outside the pair area's fragment, so a vote does not send it
# again): a new pair, seen as another assignment id in the Submit button's key, starts at its
# top. The flag keeps a second copy (a full rerun that mounts it again) from watching too.
START_AT_TOP = """(function () {
  if (window.__judgeAppStartAtTop) return;
  window.__judgeAppStartAtTop = true;
  var shown = null, pending = false;
  var check = function () {
    pending = false;
    var submit = document.querySelector('[class*="st-key-submit_"]');
    var found = submit && submit.className.match(/st-key-submit_([0-9A-Za-z]+)/);
    if (!found || found[1] === shown) return;
    shown = found[1];
    var main = document.querySelector('[data-testid="stMain"]');
    if (main) { main.scrollTo(0, 0); }
    window.scrollTo(0, 0);
  };
  // At most one look per frame: a vote changes the page many times while it is drawn.
  var soon = function () {
    if (!pending) { pending = true; window.requestAnimationFrame(check); }
  };
  new MutationObserver(soon).observe(document.body, {subtree: true, childList: true,
                                                     attributes: true,
                                                     attributeFilter: ["class"]});
  check();
})();"""


def mark_shown(assignment_id: str) -> None:
    """Remember when this assignment first appeared in this tab (for the time per verdict)."""
    st.session_state.setdefault("shown_at", {}).setdefault(assignment_id, time.monotonic())


def _duration_ms(assignment_id: str) -> int | None:
    shown = st.session_state.get("shown_at", {}).get(assignment_id)
    return None if shown is None else int((time.monotonic() - shown) * 1000)


def _forget(assignment_id: str) -> None:
    """Drop what this tab kept about the assignment closed before this one: the widgets' own
    keys go with the widgets, these are ours, and a rater votes thousands of times in one
    tab. The one just closed is kept, so a second Enter on it repeats the same vote."""
    state = st.session_state
    if (old := state.get("closed")) and old != assignment_id:
        for key in (f"choice_{old}", f"much_{old}"):
            state.pop(key, None)
        state.get("shown_at", {}).pop(old, None)
    state["closed"] = assignment_id


def _choose(assignment_id: str, choice: RawChoice) -> None:
    st.session_state[f"choice_{assignment_id}"] = choice


def _toggle_much(assignment_id: str) -> None:
    key = f"much_{assignment_id}"
    st.session_state[key] = not st.session_state.get(key, False)


def _criteria(config: TaskConfig, assignment_id: str) -> dict[str, str]:
    picked = {c.name: _value(assignment_id, _criterion_key(c.name)) for c in config.criteria}
    return {name: choice for name, choice in picked.items() if choice}


# Records a vote somewhere else than the pair page's queue (the arena: services/arena.vote).
OnVote = Callable[[verdicts.VerdictInput], None]


def _submit(db: Database, session_id: str, config: TaskConfig, assignment_id: str,
            on_vote: OnVote | None = None) -> None:
    state = st.session_state
    choice = state.get(f"choice_{assignment_id}")
    if choice is None:
        state["rate_error"] = "Choose an outcome first (keys 1-4), then submit."
        return
    strength = None
    if config.strength and choice in ("left", "right"):
        strength = 2 if state.get(f"much_{assignment_id}") else 1
    verdict = verdicts.VerdictInput(  # verdict_id None: the attempt's id, read with the assignment
        assignment_id=assignment_id, choice=choice, verdict_id=None, strength=strength,
        criteria=_criteria(config, assignment_id),
        rationale=_value(assignment_id, RATIONALE_KEY) or "",
        flagged=bool(_value(assignment_id, FLAG_KEY)),
        duration_ms=_duration_ms(assignment_id),
    )
    try:
        if on_vote is not None:
            on_vote(verdict)
            return
        ahead = lookahead.take(assignment_id)
        if ahead is not None and ahead.view.pair is not None and verdicts.is_valid(
                config, verdict):
            # Stored while the pair read ahead is drawn; its controls wait for it (settle).
            state[VOTE_IN_FLIGHT] = lookahead.in_thread(rating.submit, db, session_id,
                                                        verdict, ahead=ahead)
            state[shown_key(config.name)] = ahead.view
        else:
            state["reveal"], state[shown_key(config.name)] = rating.submit(
                db, session_id, verdict, ahead=ahead)
    except JudgeAppError as exc:
        state["rate_error"] = str(exc)
        return
    state[JUST_VOTED] = True
    _forget(assignment_id)


def settle_vote(task_id: str, drawn: RatingView) -> None:
    """Wait for the vote stored while ``drawn`` (the pair read ahead) was being drawn, before
    its controls are: the next pair counts as shown only once the vote is stored. A vote that
    failed shows its pair again with the reason; one that found another pair next (the pair
    read ahead was given to others meanwhile, or a repeat) draws that one."""
    state = st.session_state
    pending = state.pop(VOTE_IN_FLIGHT, None)
    if pending is None:
        return
    # Drawn again as a whole page (rare): a fragment-only rerun is refused when this run is
    # the whole page's, and app.py shows the login form to a session that ended.
    try:
        state["reveal"], stored = pending.result()
    except JudgeAppError as exc:
        if not isinstance(exc, SignedOut):
            state["rate_error"] = str(exc)
        state.pop(shown_key(task_id), None)  # the rater's oldest open pair: the one voted on
        st.rerun()
    if stored != drawn:
        state[shown_key(task_id)] = stored
        st.rerun()


def _skip(db: Database, session_id: str, assignment_id: str) -> None:
    try:
        verdicts.skip(db, session_id, assignment_id,
                      flagged=bool(_value(assignment_id, FLAG_KEY)))
    except JudgeAppError as exc:
        st.session_state["rate_error"] = str(exc)
        return
    st.session_state[AFTER_VOTE] = True
    _forget(assignment_id)


def _undo(db: Database, session_id: str, task_id: str) -> None:
    state = st.session_state
    state.pop("reveal", None)
    state.pop(shown_key(task_id), None)  # progress changes, and the pair may come back
    lookahead.drop()
    try:
        undone = verdicts.undo_last(db, session_id, task_id)
    except JudgeAppError as exc:
        state["rate_error"] = str(exc)
        return
    if undone is None:
        state["rate_notice"] = "Nothing to undo in this task."
    elif undone.pair_returns:
        state["rate_notice"] = "Took back your last verdict: that pair is shown again."
    else:
        state["rate_notice"] = (
            "Withdrew your last verdict: it no longer counts. You have seen that pair's "
            "models, so it is not shown to you again.")


def _criterion(c: Criterion) -> None:
    st.radio(inert_markdown(c.name), allowed(c.outcomes), format_func=lambda x: SHORT[x],
             index=None, horizontal=True, key=_criterion_key(c.name),
             help=inert_markdown(c.description) or None)


def show_controls(db: Database, session_id: str, config: TaskConfig, assignment_id: str,
                  on_vote: OnVote | None = None, skip_and_undo: bool = True,
                  hints: bool = True) -> None:
    """The controls of one assignment. ``on_vote`` records the vote instead of the pair
    page's queue; ``skip_and_undo`` False leaves out Skip and Undo (the arena: a battle
    is left by typing the next prompt, and its names are already shown after the vote);
    ``hints`` False leaves the keyboard line to the caller (the pair page draws it once,
    outside the part a vote reruns)."""
    aid = assignment_id
    chosen = st.session_state.get(f"choice_{aid}")
    with st.container(horizontal=True):
        for choice in allowed(config.outcomes):
            st.button(
                LABELS[choice], key=f"out_{choice}_{aid}", shortcut=KEYS[choice],
                type="primary" if chosen == choice else "secondary",
                on_click=_choose, args=(aid, choice),
            )
        if config.strength:
            much = bool(st.session_state.get(f"much_{aid}"))
            st.button("Much better" + (" ✓" if much else ""), key=f"much_btn_{aid}",
                      shortcut=MUCH_KEY, type="primary" if much else "tertiary",
                      on_click=_toggle_much, args=(aid,),
                      help="Press again to take it back. Counts only when A or B wins.")
    _own_values(config, aid)
    if config.criteria:  # side by side, wrapping: one block, not a row of columns per four
        with st.container(horizontal=True, gap="large"):
            for criterion in config.criteria:
                _criterion(criterion)
    if config.rationale != "off":
        need = max(1, config.rationale_min_length)
        if config.rationale == "required":
            label = f"Why? (required, at least {need} characters)"
        elif config.rationale_min_length > 0:
            label = f"Why? (optional; if given, at least {need} characters)"
        else:
            label = "Why? (optional)"
        st.text_area(label, key=RATIONALE_KEY, height=90)
    st.checkbox("Flag this pair as problematic", key=FLAG_KEY)
    with st.container(horizontal=True):
        st.button("Submit", key=f"submit_{aid}", type="primary", shortcut=SUBMIT_KEY,
                  on_click=_submit, args=(db, session_id, config, aid, on_vote))
        if skip_and_undo:
            st.button("Skip", key=f"skip_{aid}", shortcut=SKIP_KEY,
                      on_click=_skip, args=(db, session_id, aid))
            undo_button(db, session_id, config.name)
    if hints:
        keyboard_hints(config, skip_and_undo)


def keyboard_hints(config: TaskConfig, skip_and_undo: bool = True) -> None:
    with st.container(key="keyboard_hints"):  # hidden on touch screens (TOUCH_CSS)
        st.caption(shortcut_help(config, skip_and_undo))


def undo_button(db: Database, session_id: str, task_id: str) -> None:
    st.button("Undo last verdict", key=f"undo_{task_id}", shortcut=UNDO_KEY,
              on_click=_undo, args=(db, session_id, task_id))


def show_messages() -> None:
    """Errors and notices left by the callbacks of the previous click."""
    state: dict[str, Any] = st.session_state  # type: ignore[assignment]
    if message := state.pop("rate_error", None):
        st.error(message)
    if message := state.pop("rate_notice", None):
        st.info(message)
    if names := state.pop("reveal", None):
        left, right = (inert_markdown(names[side]) for side in ("left", "right"))
        st.info(f"Previous pair: A was **{left}**, B was **{right}**.")
