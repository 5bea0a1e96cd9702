"""Pure rules of answering a prompt (generation): which turns a model answers, the content key
of a call, what an answer is flagged for, and percentiles for the run's summary.

Multi-turn prompts are answered turn by turn, MT-Bench style: each user turn is sent with the
model's own earlier answers in the conversation. A prompt that already holds other roles'
messages (an assistant turn given as context) is answered after its last such message.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from judge_app.core.types import Message

# Opening phrases of a refusal, in English: a heuristic that flags, never hides or drops.
REFUSAL = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|sorry|unfortunately|as an ai(?: language model)?)?[,.]?\s*"
    r"(?:but\s+)?(?:i\s+(?:can(?:no|')?t|cannot|am unable to|'m unable to|won'?t|will not|"
    r"must decline to|am not able to|'m not able to)\s+"
    r"(?:help|assist|provide|comply|do that|fulfil|fulfill|answer|create|write|support))",
    re.IGNORECASE,
)
FLAGS = ("refusal", "empty", "truncated", "content_filter")


@dataclass(frozen=True)
class Turns:
    """A prompt split into what comes first (system and context) and the user turns that the
    model answers one after another."""

    head: list[Message]
    questions: list[Message]


def turns(prompt: Sequence[Message], system: str = "") -> Turns:
    """The config's system prompt and the prompt's own system messages become one system
    message at the start (some chat templates accept only one); the user messages after the
    last message of another role are the turns to answer."""
    systems = [system] if system else []
    systems += [str(m.get("content", "")) for m in prompt if m.get("role") == "system"]
    rest = [dict(m) for m in prompt if m.get("role") != "system"]
    last_other = max((i for i, m in enumerate(rest) if m.get("role") != "user"), default=-1)
    head = [{"role": "system", "content": "\n\n".join(systems)}] if systems else []
    return Turns(head + rest[: last_other + 1], rest[last_other + 1:])


def call_key(config_hash: str, messages: Sequence[Message]) -> str:
    """sha256 over the model config's hash and the exact messages sent."""
    blob = json.dumps({"model": config_hash, "messages": list(messages)}, sort_keys=True,
                      ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def flags(answer: str, finish_reason: str | None) -> list[str]:
    """What a reader of this answer should know: refused, empty, cut at max_tokens
    (finish_reason 'length') or by the provider's content filter."""
    found = []
    if REFUSAL.match(answer[:300]):
        found.append("refusal")
    if not answer.strip():
        found.append("empty")
    if finish_reason == "length":
        found.append("truncated")
    if finish_reason == "content_filter":
        found.append("content_filter")
    return found


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in [0, 1]); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]
