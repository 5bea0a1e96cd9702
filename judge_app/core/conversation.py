"""A prompt plus a response as one conversation, and back (battle logs store conversations).

Multi-turn tasks keep the user turns in the prompt and one model's assistant turns in its
response (MT-Bench style); the conversation interleaves them. Any other shape (a prompt that
already holds assistant context, or turn counts that differ) is the prompt followed by the
response.
"""

from __future__ import annotations

from collections.abc import Sequence

from judge_app.core.types import Message


def join(prompt: Sequence[Message], response: Sequence[Message]) -> list[Message]:
    asked = [m for m in prompt if m.get("role") == "user"]
    context = [m for m in prompt if m.get("role") not in ("user", "system")]
    if len(response) > 1 and not context and len(asked) == len(response):
        conversation = [m for m in prompt if m.get("role") == "system"]
        for question, answer in zip(asked, response, strict=True):
            conversation += [question, answer]
        return [dict(m) for m in conversation]
    return [dict(m) for m in (*prompt, *response)]


def split(conversation: Sequence[Message]) -> tuple[list[Message], list[Message]]:
    """The inverse of ``join`` for conversations ``join`` makes (and for FastChat's own)."""
    prompt = [dict(m) for m in conversation if m.get("role") != "assistant"]
    response = [dict(m) for m in conversation if m.get("role") == "assistant"]
    interleaved = all(
        m.get("role") == ("assistant" if i % 2 else "user")
        for i, m in enumerate(m for m in conversation if m.get("role") != "system")
    )
    if interleaved or len(response) <= 1:
        return prompt, response
    # Assistant context inside the prompt: only the trailing assistant block is the response.
    end = len(conversation)
    while end and conversation[end - 1].get("role") == "assistant":
        end -= 1
    return [dict(m) for m in conversation[:end]], [dict(m) for m in conversation[end:]]


def user_turns(prompt: Sequence[Message]) -> int:
    return sum(1 for m in prompt if m.get("role") == "user")
