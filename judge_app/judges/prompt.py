"""Turn a judge template and one ordered pair into chat messages.

Every inserted text is fenced between markers that carry an id derived from the texts
themselves, so a response cannot forge the end of its own fence, and the templates tell
the judge to treat what is inside as data.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

PLACEHOLDERS = ("conversation", "response_a", "response_b", "reference", "criteria")
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")
_ANY_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_FENCE_NAMES = {"conversation": "CONVERSATION", "response_a": "RESPONSE_A",
                "response_b": "RESPONSE_B", "reference": "REFERENCE"}


def unknown_placeholders(template: str) -> list[str]:
    """Names in `{name}` form that are not ours: almost always a typo."""
    return sorted({m.group(1) for m in _ANY_PLACEHOLDER.finditer(template)} - set(PLACEHOLDERS))


def used_placeholders(*templates: str) -> set[str]:
    return {m.group(1) for t in templates for m in _PLACEHOLDER.finditer(t)}


def conversation_text(messages: Iterable[Mapping[str, Any]]) -> str:
    """A single user turn as plain text; longer conversations with role headers."""
    msgs = [m for m in messages if m.get("role") != "system" or m.get("content")]
    if len(msgs) == 1 and msgs[0].get("role", "user") == "user":
        return str(msgs[0].get("content", ""))
    return "\n\n".join(f"[{m.get('role', 'user')}]\n{m.get('content', '')}" for m in msgs)


def fence_id(*texts: str) -> str:
    digest = hashlib.sha256("\x1f".join(texts).encode()).hexdigest()
    return digest[:12]


def render(
    system: str, user: str, *, conversation: str, first: str, second: str,
    reference: str | None = None, criteria: str = "",
) -> list[dict[str, str]]:
    """The messages for one call, showing `first` as response A and `second` as response B."""
    fid = fence_id(conversation, first, second, reference or "")
    texts = {"conversation": conversation, "response_a": first, "response_b": second,
             "reference": reference if reference is not None else "(no reference answer)"}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "criteria":
            return criteria
        tag = _FENCE_NAMES[name]
        return f"<<<{tag} {fid}>>>\n{texts[name]}\n<<<END_{tag} {fid}>>>"

    messages = []
    if system.strip():
        messages.append({"role": "system", "content": _PLACEHOLDER.sub(fill, system).strip()})
    messages.append({"role": "user", "content": _PLACEHOLDER.sub(fill, user).strip()})
    return messages
