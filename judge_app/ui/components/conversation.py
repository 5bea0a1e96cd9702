"""Prompts and responses as text: markdown with highlighted code, raw HTML shown as text.

st.markdown escapes HTML unless unsafe_allow_html is passed, which this module never does.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

_AVATARS = {"user": "user", "assistant": "assistant", "system": ":material/settings:"}


def _content(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    return content if isinstance(content, str) else str(content)


def show_prompt(messages: list[dict[str, Any]]) -> None:
    """A single question as plain markdown; a conversation as chat bubbles."""
    if len(messages) == 1:
        st.markdown(_content(messages[0]))
        return
    for message in messages:
        role = str(message.get("role", "user"))
        with st.chat_message(role if role in ("user", "assistant") else "ai",
                             avatar=_AVATARS.get(role, ":material/settings:")):
            st.markdown(_content(message))


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
            st.markdown(text)
        else:
            st.caption("(empty response)")
