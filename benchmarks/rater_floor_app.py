"""The pair page's elements with no database: the floor under bench_rater_browser.py.

Draws what the rater's pair area draws (progress, prompt, two answers in boxes, outcome and
strength buttons with their shortcuts, two criteria, the rationale box, flag, Submit / Skip /
Undo) inside a fragment, with the keyboard line under it as the page draws it (once, outside
the fragment), from texts in memory ($BENCH_FLOOR_TEXTS, a JSON list of [prompt, left, right]
taken from the demo database). Enter moves to the next texts.
What a vote costs here is Streamlit's fragment run, the websocket and the browser's drawing:
no service call, no query. Run by ``bench_rater_browser.py --floor``; not part of the app.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import streamlit as st

from judge_app.ui.components.conversation import is_long, show_prompt, show_response

TEXTS = json.loads(Path(os.environ["BENCH_FLOOR_TEXTS"]).read_text(encoding="utf-8"))
KEYS = {"A is better": "1", "B is better": "2", "Tie": "3", "Both bad": "4"}


def _next() -> None:
    st.session_state["n"] = st.session_state.get("n", 0) + 1


def _choose(aid: str, label: str) -> None:
    st.session_state[f"choice_{aid}"] = label


st.set_page_config(page_title="floor", layout="wide")
st.subheader("The pair page without a database")


@st.fragment
def pair_area() -> None:
    n = st.session_state.get("n", 0)
    prompt, left, right = TEXTS[n % len(TEXTS)]
    aid = f"{n:032x}"
    st.progress((n % 100) / 100, text=f"{n} / 100 done")
    show_prompt([{"role": "user", "content": prompt}], heading="#### Prompt")
    a, b = ([{"role": "assistant", "content": t}] for t in (left, right))
    scroll = is_long(a) or is_long(b)
    col_a, col_b = st.columns(2)
    with col_a:
        show_response("A", a, scroll)
    with col_b:
        show_response("B", b, scroll)
    chosen = st.session_state.get(f"choice_{aid}")
    with st.container(horizontal=True):
        for label, key in KEYS.items():
            st.button(label, key=f"out_{key}_{aid}", shortcut=key,
                      type="primary" if chosen == label else "secondary",
                      on_click=_choose, args=(aid, label))
        st.button("Much better", key=f"much_btn_{aid}", shortcut="M", type="tertiary")
    with st.container(horizontal=True, gap="large"):
        for name in ("accuracy", "clarity"):
            st.radio(name, ["A", "B", "Tie"], index=None, horizontal=True,
                     key=f"crit_{name}_{aid}")
    st.text_area("Why? (optional; if given, at least 20 characters)", key=f"rationale_{aid}",
                 height=90)
    st.checkbox("Flag this pair as problematic", key=f"flag_{aid}")
    with st.container(horizontal=True):
        st.button("Submit", key=f"submit_{aid}", type="primary", shortcut="Enter",
                  on_click=_next)
        st.button("Skip", key=f"skip_{aid}", shortcut="S", on_click=_next)
        st.button("Undo last verdict", key="undo_floor", shortcut="U")


pair_area()
with st.container(key="keyboard_hints"):  # outside the fragment, as on the pair page
    st.caption("Keyboard: " + " · ".join(f"`{k}` {label}" for label, k in KEYS.items()))
