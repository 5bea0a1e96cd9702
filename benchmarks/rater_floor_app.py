"""The pair page's elements with no database: the floor under bench_rater_browser.py.

Draws what the rater's pair area draws (progress, prompt, two answers in boxes, outcome and
strength buttons with their shortcuts, two criteria, the rationale box, flag, Submit / Skip /
Undo) inside a fragment, with the keyboard line under it as the page draws it (once, outside
the fragment), from texts in memory ($BENCH_FLOOR_TEXTS, a JSON list of [prompt, left, right]
taken from the demo database). Enter moves to the next texts.
What a vote costs here is Streamlit's fragment run, the websocket and the browser's drawing:
no service call, no query. Run by ``bench_rater_browser.py --floor``; not part of the app.
To split that cost (``--env`` of the benchmark): BENCH_FLOOR_MODE=bare draws only the
Submit button in the fragment (a rerun's fixed cost), =text the answers with st.text
instead of markdown; BENCH_FLOOR_EXTRA=N adds N captions to the fragment (cost per element);
BENCH_FLOOR_DROP=criteria+rationale+... leaves parts out (progress, answers, outcomes,
criteria, rationale, flag, actions); BENCH_FLOOR_STABLE=none|values|all says which widget keys
stay from one pair to the next (values, the default, as the pair page; Submit's key, which the
benchmark watches, always carries the pair's id). BENCH_FLOOR_WRITE=PATH stores each vote as
one row in the DuckDB file PATH, a file of its own (one transaction: insert, commit), before
the next pair is drawn: the least a vote stored before its next pair can cost.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import streamlit as st

from judge_app.ui.components.conversation import is_long, show_prompt, show_response

TEXTS = json.loads(Path(os.environ["BENCH_FLOOR_TEXTS"]).read_text(encoding="utf-8"))
KEYS = {"A is better": "1", "B is better": "2", "Tie": "3", "Both bad": "4"}
MODE = os.environ.get("BENCH_FLOOR_MODE", "full")
EXTRA = int(os.environ.get("BENCH_FLOOR_EXTRA", "0"))
DROP = set(os.environ.get("BENCH_FLOOR_DROP", "").split("+"))
# Which widget keys go without the pair's id (values reset by the Submit callback instead; the
# browser updates those widgets rather than mounting new ones): "values" (criteria,
# rationale, flag: as the pair page does since 2026-12-02), "all" (the buttons too, but
# Submit) or "none" (every key carries the pair's id, as the pair page did before).
STABLE = os.environ.get("BENCH_FLOOR_STABLE", "values")
WRITE = os.environ.get("BENCH_FLOOR_WRITE", "")


@st.cache_resource
def _votes_file() -> Any:
    import duckdb

    con = duckdb.connect(WRITE)
    con.execute("CREATE TABLE IF NOT EXISTS votes (vote_id VARCHAR PRIMARY KEY, n INTEGER, "
                "stored_at TIMESTAMP DEFAULT current_timestamp)")
    return con


def _store_vote(n: int) -> None:
    cur = _votes_file().cursor()
    try:
        cur.execute("BEGIN TRANSACTION")
        cur.execute("INSERT INTO votes (vote_id, n) VALUES (?, ?)", [uuid.uuid4().hex, n])
        cur.execute("COMMIT")
    finally:
        cur.close()


def _next() -> None:
    n = st.session_state.get("n", 0)
    if WRITE:
        _store_vote(n)
    st.session_state["n"] = n + 1
    if STABLE != "none":
        for name in ("accuracy", "clarity"):
            st.session_state[f"crit_{name}"] = None
        st.session_state["rationale"] = ""
        st.session_state["flag"] = False


def _choose(aid: str, label: str) -> None:
    st.session_state[f"choice_{aid}"] = label


st.set_page_config(page_title="floor", layout="wide")
st.subheader("The pair page without a database")


@st.fragment
def pair_area() -> None:
    n = st.session_state.get("n", 0)
    prompt, left, right = TEXTS[n % len(TEXTS)]
    aid = f"{n:032x}"
    bid = "" if STABLE == "all" else f"_{aid}"  # the pair's id in buttons' keys
    wid = "" if STABLE in ("values", "all") else f"_{aid}"  # ... in value widgets' keys
    for i in range(EXTRA):
        st.caption(f"extra element {i} of pair {n}")
    if MODE == "bare":  # what the benchmark presses: 1, then Enter
        chosen = st.session_state.get(f"choice_{aid}")
        st.button("A is better", key=f"out_1_{aid}", shortcut="1",
                  type="primary" if chosen else "secondary",
                  on_click=_choose, args=(aid, "A is better"))
        st.button("Submit", key=f"submit_{aid}", type="primary", shortcut="Enter",
                  on_click=_next)
        return
    if "progress" not in DROP:
        st.progress((n % 100) / 100, text=f"{n} / 100 done")
    a, b = ([{"role": "assistant", "content": t}] for t in (left, right))
    scroll = is_long(a) or is_long(b)
    if MODE == "text":  # the same boxes, the texts not formatted
        st.markdown("#### Prompt")
        st.text(prompt)
        col_a, col_b = st.columns(2)
        for col, label, text in ((col_a, "A", left), (col_b, "B", right)):
            with col:
                st.subheader(label)
                with st.container(height=460 if scroll else "content", border=True):
                    st.text(text)
    elif "answers" in DROP:
        show_prompt([{"role": "user", "content": prompt}], heading="#### Prompt")
    else:
        show_prompt([{"role": "user", "content": prompt}], heading="#### Prompt")
        col_a, col_b = st.columns(2)
        with col_a:
            show_response("A", a, scroll)
        with col_b:
            show_response("B", b, scroll)
    chosen = st.session_state.get(f"choice_{aid}")
    with st.container(horizontal=True):
        for label, key in KEYS.items():
            if "outcomes" in DROP and key != "1":
                continue
            st.button(label, key=f"out_{key}{bid}", shortcut=key,
                      type="primary" if chosen == label else "secondary",
                      on_click=_choose, args=(aid, label))
        if "outcomes" not in DROP:
            st.button("Much better", key=f"much_btn{bid}", shortcut="M", type="tertiary")
    if "criteria" not in DROP:
        with st.container(horizontal=True, gap="large"):
            for name in ("accuracy", "clarity"):
                st.radio(name, ["A", "B", "Tie"], index=None, horizontal=True,
                         key=f"crit_{name}{wid}")
    if "rationale" not in DROP:
        st.text_area("Why? (optional; if given, at least 20 characters)",
                     key=f"rationale{wid}", height=90)
    if "flag" not in DROP:
        st.checkbox("Flag this pair as problematic", key=f"flag{wid}")
    with st.container(horizontal=True):
        st.button("Submit", key=f"submit_{aid}", type="primary", shortcut="Enter",
                  on_click=_next)
        if "actions" not in DROP:
            st.button("Skip", key=f"skip{bid}", shortcut="S", on_click=_next)
            st.button("Undo last verdict", key="undo_floor", shortcut="U")


pair_area()
with st.container(key="keyboard_hints"):  # outside the fragment, as on the pair page
    st.caption("Keyboard: " + " · ".join(f"`{k}` {label}" for label, k in KEYS.items()))
