"""Prompts and responses as text: markdown with highlighted code, raw HTML shown as text.

st.markdown escapes HTML unless unsafe_allow_html is passed, which this module never does.
Every text from a task or a model goes through ``show_text``: images become links, links to
``data:`` and the like stay inert (so nothing remote loads in a rater's browser), and a text
too large or too deeply nested to format quickly is shown raw.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from judge_app.core.safe_text import inert_markdown, too_costly_to_format

_AVATARS = {"user": "user", "assistant": "assistant", "system": ":material/settings:"}


def show_text(text: str) -> None:
    """Markdown that loads nothing remote; raw text when formatting it would be too slow."""
    reason = too_costly_to_format(text)
    if reason is None:
        st.markdown(inert_markdown(text))
        return
    st.caption(f"Shown as plain text: {reason} to format quickly.")
    st.text(text)


def _content(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    return content if isinstance(content, str) else str(content)


def show_prompt(messages: list[dict[str, Any]], heading: str = "") -> None:
    """A single question as plain markdown; a conversation as chat bubbles. ``heading`` (our
    own markdown, never data) goes in the same element as a single question: one element
    fewer to send and draw on every pair."""
    if len(messages) == 1:
        text = _content(messages[0])
        if heading and too_costly_to_format(text) is None:
            st.markdown(f"{heading}\n\n{inert_markdown(text)}")
            return
        if heading:
            st.markdown(heading)
        show_text(text)
        return
    if heading:
        st.markdown(heading)
    for message in messages:
        role = str(message.get("role", "user"))
        with st.chat_message(role if role in ("user", "assistant") else "ai",
                             avatar=_AVATARS.get(role, ":material/settings:")):
            show_text(_content(message))


def _text(messages: list[dict[str, Any]]) -> str:
    return "\n\n".join(_content(m) for m in messages)


def is_long(messages: list[dict[str, Any]]) -> bool:
    text = _text(messages)
    return len(text) > 1200 or text.count("\n") > 20


def show_response(label: str, messages: list[dict[str, Any]], scroll: bool,
                  height: int = 460) -> None:
    """One blinded response under its letter only; when scrolling, inside a fixed box."""
    st.subheader(label)
    text = _text(messages)
    with st.container(height=height if scroll else "content", border=True):
        if text.strip():
            show_text(text)
        else:
            st.caption("(empty response)")
