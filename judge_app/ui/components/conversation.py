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


def show_response(label: str, messages: list[dict[str, Any]], height: int = 460) -> None:
    """One blinded response under its letter only; long ones scroll inside a fixed box."""
    st.subheader(label)
    text = "\n\n".join(_content(m) for m in messages)
    long = len(text) > 1500 or text.count("\n") > 25
    with st.container(height=height if long else "content", border=True):
        if text.strip():
            st.markdown(text)
        else:
            st.caption("(empty response)")
