"""Text from the data (model names, ids, error bodies) made safe to show in a terminal.

A model name holding ESC can recolour, move the cursor or rewrite the screen; a carriage
return can overwrite what a line said; bidi overrides can reorder it. Such characters are
shown as escapes (\\x1b, \\u202e) instead: the text stays readable and nothing is executed.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, C1 controls, and the bidi controls.
_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object, *, one_line: bool = False) -> str:
    """`text` with control characters escaped (tab and newline kept unless `one_line`)."""
    value = str(text)
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_escape, value)


def has_control(text: str) -> bool:
    """Does the text hold a control character (tab and newline included)?"""
    return _UNSAFE_ONE_LINE.search(text) is not None
