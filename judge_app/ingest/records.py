"""Turn raw records (prompts, outputs, gold answers, verdicts) into the core types.

Plain functions with explicit checks rather than a schema library: a per-row validation
object would cost more than the JSON parsing itself on large imports. Every error names
the file, the line and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from judge_app.core.clock import utc_now
from judge_app.core.types import (
    OUTCOMES,
    GoldAnswer,
    ImportedVerdict,
    Message,
    Outcome,
    Output,
    Prompt,
)
from judge_app.core.vocabulary import SOURCES
from judge_app.errors import ValidationError
from judge_app.ingest.jsonl import Record, json_type

Numbered = Iterable[tuple[int, Record]]
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # no LLM verdict is older
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
PROMPT_ROLES = frozenset({"system", "developer", "user", "assistant"})
_PROMPT_KEYS = frozenset({"id", "prompt", "messages", "category", "reference", "metadata"})
_OUTPUT_KEYS = frozenset({
    "prompt_id", "model", "model_version", "response", "latency_ms", "cost_usd",
    "input_tokens", "output_tokens", "metadata",
})
_GOLD_KEYS = frozenset({"prompt_id", "model_a", "model_b", "outcome"})
_VERDICT_KEYS = frozenset({
    "prompt_id", "model_a", "model_b", "outcome", "rater", "source", "left", "strength",
    "probability", "rationale", "created_at", "judge_model", "raw_answer",
})


# ---- field access -------------------------------------------------------------------------

def _missing(key: str, file: str, line: int) -> ValidationError:
    return ValidationError("missing required field", file=file, line=line, field=key)


def _mistyped(value: object, expected: str, key: str, file: str, line: int) -> ValidationError:
    return ValidationError(
        f"expected {expected}, found {json_type(value)}", file=file, line=line, field=key
    )


def check_ident(value: str, key: str, file: str, line: int) -> str:
    """Ids and names hold no control characters: ids are joined with \\x1f into keys (two
    ids would collide), and names are printed to terminals (ESC would drive them)."""
    found = _CONTROL.search(value)
    if found is not None:
        raise ValidationError(
            f"contains a control character ({ord(found.group(0)):#04x}); ids and names must "
            "be printable text", file=file, line=line, field=key)
    return value


def get_id(rec: Record, key: str, file: str, line: int) -> str:
    """An identifier: a non-empty string, or an integer (kept as its decimal text)."""
    value = rec.get(key)
    if type(value) is str:
        if value.strip():
            return check_ident(value, key, file, line)
        raise ValidationError("must not be empty", file=file, line=line, field=key)
    if type(value) is int:
        return str(value)
    if value is None:
        raise _missing(key, file, line)
    raise _mistyped(value, "a string or an integer", key, file, line)


def get_name(rec: Record, key: str, file: str, line: int, *, text: bool = False) -> str:
    """A required non-empty string: a model or rater name (no control characters), or with
    `text` any text (an instruction may hold newlines)."""
    value = rec.get(key)
    if type(value) is str and value.strip():
        return value if text else check_ident(value, key, file, line)
    if value is None:
        raise _missing(key, file, line)
    if type(value) is str:
        raise ValidationError("must not be empty", file=file, line=line, field=key)
    raise _mistyped(value, "a string", key, file, line)


def get_str(rec: Record, key: str, file: str, line: int, default: str = "") -> str:
    value = rec.get(key)
    if value is None:
        return default
    if type(value) is str:
        return value
    raise _mistyped(value, "a string", key, file, line)


def get_opt_str(rec: Record, key: str, file: str, line: int) -> str | None:
    value = rec.get(key)
    if value is None or type(value) is str:
        return value
    raise _mistyped(value, "a string or null", key, file, line)


def get_number(rec: Record, key: str, file: str, line: int) -> float | None:
    """An optional finite, non-negative number (1e400 parses to infinity: refused too)."""
    value = rec.get(key)
    if value is None:
        return None
    if type(value) in (int, float):
        if not math.isfinite(value):
            raise ValidationError(f"must be a finite number, found {value}", file=file,
                                  line=line, field=key)
        if value >= 0:
            return float(value)
        raise ValidationError("must not be negative", file=file, line=line, field=key)
    raise _mistyped(value, "a number", key, file, line)


def get_count(rec: Record, key: str, file: str, line: int) -> int | None:
    """An optional non-negative integer (token counts); 12.0 is accepted as 12."""
    value = rec.get(key)
    if value is None:
        return None
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is int:
        if value >= 0:
            return value
        raise ValidationError("must not be negative", file=file, line=line, field=key)
    raise _mistyped(value, "a whole number", key, file, line)


def get_metadata(rec: Record, known: frozenset[str], file: str, line: int) -> dict[str, Any]:
    """Explicit ``metadata`` plus every field the format does not know (nothing is dropped)."""
    meta = rec.get("metadata")
    if meta is not None and type(meta) is not dict:
        raise _mistyped(meta, "an object", "metadata", file, line)
    unknown = rec.keys() - known
    if not unknown:
        return meta or {}
    extra = {k: v for k, v in rec.items() if k in unknown}
    if meta:
        extra.update(meta)
    return extra


def get_outcome(
    rec: Record, key: str, file: str, line: int, allowed: tuple[Outcome, ...] = OUTCOMES
) -> Outcome:
    value = rec.get(key)
    if value in allowed:
        return value
    if value is None:
        raise _missing(key, file, line)
    if value in OUTCOMES:
        raise ValidationError(
            f"outcome '{value}' is not allowed by this task (allowed: {', '.join(allowed)})",
            file=file, line=line, field=key,
        )
    raise ValidationError(
        f"expected one of {', '.join(allowed)}, found {value!r}", file=file, line=line, field=key
    )


def parse_messages(
    value: object, key: str, file: str, line: int, roles: frozenset[str]
) -> tuple[Message, ...]:
    """An OpenAI-style list of {role, content} messages with string contents."""
    if type(value) is not list:
        raise _mistyped(value, "a list of {role, content} messages", key, file, line)
    if not value:
        raise ValidationError("must not be an empty list", file=file, line=line, field=key)
    for i, message in enumerate(value):
        where = f"{key}[{i}]"
        if type(message) is not dict:
            raise _mistyped(message, "an object with role and content", where, file, line)
        role = message.get("role")
        if role not in roles:
            allowed = " or ".join(sorted(roles))
            raise ValidationError(
                f"role must be {allowed}, found {role!r}", file=file, line=line,
                field=f"{where}.role",
            )
        content = message.get("content")
        if type(content) is not str:
            raise _mistyped(content, "a string", f"{where}.content", file, line)
    return tuple(value)


def _is_blank(messages: tuple[Message, ...]) -> bool:
    return all(not m["content"].strip() for m in messages)


# ---- prompts ------------------------------------------------------------------------------

def parse_prompts(records: Numbered, file: str) -> list[Prompt]:
    prompts: list[Prompt] = []
    seen: dict[str, int] = {}
    for line, rec in records:
        prompt_id = get_id(rec, "id", file, line)
        if prompt_id in seen:
            raise ValidationError(
                f"duplicate prompt id {prompt_id!r} (first on line {seen[prompt_id]})",
                file=file, line=line, field="id",
            )
        seen[prompt_id] = line
        text, messages = rec.get("prompt"), rec.get("messages")
        if text is not None and messages is not None:
            raise ValidationError(
                "give either 'prompt' (text) or 'messages' (a conversation), not both",
                file=file, line=line, field="messages",
            )
        if messages is not None:
            convo = parse_messages(messages, "messages", file, line, PROMPT_ROLES)
            if not any(m["role"] == "user" for m in convo):
                raise ValidationError(
                    "the conversation has no user message", file=file, line=line, field="messages"
                )
            if _is_blank(convo):
                raise ValidationError("empty prompt", file=file, line=line, field="messages")
        elif text is None:
            raise ValidationError(
                "missing required field (or give 'messages' for a conversation)",
                file=file, line=line, field="prompt",
            )
        elif type(text) is not str:
            raise _mistyped(text, "a string", "prompt", file, line)
        elif not text.strip():
            raise ValidationError("empty prompt", file=file, line=line, field="prompt")
        else:
            convo = ({"role": "user", "content": text},)
        prompts.append(Prompt(
            prompt_id=prompt_id,
            messages=convo,
            category=get_str(rec, "category", file, line),
            reference=get_opt_str(rec, "reference", file, line),
            metadata=get_metadata(rec, _PROMPT_KEYS, file, line),
        ))
    return prompts


# ---- outputs ------------------------------------------------------------------------------

def parse_response(
    value: object, file: str, line: int, allow_empty: bool, key: str = "response"
) -> tuple[Message, ...]:
    """A response as text, or as a list of assistant messages (multi-turn)."""
    if type(value) is str:
        if value.strip() or allow_empty:
            return ({"role": "assistant", "content": value},)
        raise ValidationError(
            "empty response (set allow_empty_responses = true in task.toml if the model "
            "really answered nothing)", file=file, line=line, field=key,
        )
    if value is None:
        raise _missing(key, file, line)
    if type(value) is not list:
        raise _mistyped(value, "a string or a list of assistant messages", key, file, line)
    messages = parse_messages(value, key, file, line, frozenset({"assistant"}))
    if not allow_empty and _is_blank(messages):
        raise ValidationError("empty response", file=file, line=line, field=key)
    return messages


def parse_outputs(
    records: Numbered, file: str, prompt_ids: Mapping[str, object], allow_empty: bool = False
) -> list[Output]:
    outputs: list[Output] = []
    seen: dict[tuple[str, str], int] = {}
    for line, rec in records:
        prompt_id = get_id(rec, "prompt_id", file, line)
        if prompt_id not in prompt_ids:
            raise ValidationError(
                f"output for unknown prompt {prompt_id!r} (not in the prompts file)",
                file=file, line=line, field="prompt_id",
            )
        model = get_name(rec, "model", file, line)
        key = (prompt_id, model)
        if key in seen:
            raise ValidationError(
                f"duplicate output: model {model!r} already has an output for prompt "
                f"{prompt_id!r} (line {seen[key]})", file=file, line=line, field="model",
            )
        seen[key] = line
        outputs.append(Output(
            prompt_id=prompt_id,
            model=model,
            response=parse_response(rec.get("response"), file, line, allow_empty),
            model_version=get_str(rec, "model_version", file, line),
            latency_ms=get_number(rec, "latency_ms", file, line),
            cost_usd=get_number(rec, "cost_usd", file, line),
            input_tokens=get_count(rec, "input_tokens", file, line),
            output_tokens=get_count(rec, "output_tokens", file, line),
            metadata=get_metadata(rec, _OUTPUT_KEYS, file, line),
        ))
    return outputs


def models_by_prompt(outputs: Iterable[Output]) -> dict[str, set[str]]:
    index: dict[str, set[str]] = {}
    for output in outputs:
        index.setdefault(output.prompt_id, set()).add(output.model)
    return index


def _pair_models(
    rec: Record, file: str, line: int, index: Mapping[str, set[str]]
) -> tuple[str, str, str]:
    """prompt_id, model_a, model_b of a record that names a pair; both outputs must exist."""
    prompt_id = get_id(rec, "prompt_id", file, line)
    if prompt_id not in index:
        raise ValidationError(
            f"unknown prompt {prompt_id!r} (no outputs for it)",
            file=file, line=line, field="prompt_id",
        )
    models = index[prompt_id]
    pair = []
    for key in ("model_a", "model_b"):
        model = get_name(rec, key, file, line)
        if model not in models:
            raise ValidationError(
                f"model {model!r} has no output for prompt {prompt_id!r}",
                file=file, line=line, field=key,
            )
        pair.append(model)
    if pair[0] == pair[1]:
        raise ValidationError(
            "model_a and model_b must differ", file=file, line=line, field="model_b"
        )
    return prompt_id, pair[0], pair[1]


# ---- gold answers -------------------------------------------------------------------------

def parse_gold(
    records: Numbered, file: str, index: Mapping[str, set[str]], allowed: tuple[Outcome, ...]
) -> list[GoldAnswer]:
    gold: list[GoldAnswer] = []
    seen: dict[tuple[str, frozenset[str]], int] = {}
    for line, rec in records:
        _reject_unknown(rec, _GOLD_KEYS, file, line)
        prompt_id, model_a, model_b = _pair_models(rec, file, line, index)
        key = (prompt_id, frozenset((model_a, model_b)))
        if key in seen:
            raise ValidationError(
                f"duplicate gold answer for this pair (line {seen[key]})",
                file=file, line=line, field="model_b",
            )
        seen[key] = line
        outcome = get_outcome(rec, "outcome", file, line, allowed)
        gold.append(GoldAnswer(prompt_id, model_a, model_b, outcome))
    return gold


# ---- verdicts -----------------------------------------------------------------------------

def parse_verdicts(
    records: Numbered, file: str, index: Mapping[str, set[str]], allowed: tuple[Outcome, ...]
) -> list[ImportedVerdict]:
    """Existing verdicts; (pair, rater, created_at, model shown on the left) must be unique so
    that a re-import can match. The shown order is part of a verdict's identity: a judge asked
    in both orders gives two verdicts, which data sets ship without timestamps."""
    verdicts: list[ImportedVerdict] = []
    seen: dict[tuple[str, frozenset[str], str, str | None, str | None], int] = {}
    for line, rec in records:
        _reject_unknown(rec, _VERDICT_KEYS, file, line)
        prompt_id, model_a, model_b = _pair_models(rec, file, line, index)
        outcome = get_outcome(rec, "outcome", file, line, allowed)
        rater = get_name(rec, "rater", file, line)
        created_at = _get_timestamp(rec, file, line)
        shown_left = {"a": model_a, "b": model_b}.get(rec.get("left"))  # type: ignore[arg-type]
        key = (prompt_id, frozenset((model_a, model_b)), rater, created_at, shown_left)
        if key in seen:
            raise ValidationError(
                f"duplicate verdict: rater {rater!r} already judged this pair at the same "
                f"created_at with the same model on the left (line {seen[key]})",
                file=file, line=line, field="rater",
            )
        seen[key] = line
        source = rec.get("source", "human")
        if source not in SOURCES:
            raise ValidationError(
                f"expected human or judge, found {source!r}", file=file, line=line, field="source"
            )
        left = rec.get("left")
        if left not in (None, "a", "b"):
            raise ValidationError(
                f"expected a (model_a was on the left), b or null, found {left!r}",
                file=file, line=line, field="left",
            )
        strength = rec.get("strength")
        if strength is not None:
            if strength not in (1, 2) or type(strength) is bool:
                raise ValidationError(
                    f"expected 1 (better), 2 (much better) or null, found {strength!r}",
                    file=file, line=line, field="strength",
                )
            if outcome not in ("a", "b"):
                raise ValidationError(
                    "strength applies only to outcome a or b", file=file, line=line,
                    field="strength",
                )
        probability = get_number(rec, "probability", file, line)
        if probability is not None and probability > 1:
            raise ValidationError(
                "a probability lies between 0 and 1", file=file, line=line, field="probability"
            )
        verdicts.append(ImportedVerdict(
            prompt_id=prompt_id, model_a=model_a, model_b=model_b, outcome=outcome,
            rater_id=rater, source=source, left_side=left, strength=strength,
            probability=probability,
            rationale=get_opt_str(rec, "rationale", file, line),
            raw_answer=get_opt_str(rec, "raw_answer", file, line),
            judge_model=get_opt_str(rec, "judge_model", file, line),
            created_at=created_at,
        ))
    return verdicts


def _get_timestamp(rec: Record, file: str, line: int) -> str | None:
    value = get_opt_str(rec, "created_at", file, line)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"expected an ISO 8601 timestamp such as 2024-05-01T12:30:00Z, found {value!r}",
            file=file, line=line, field="created_at",
        ) from None
    checked_instant(parsed, "created_at", file, line)
    return value  # as written: verdict ids of earlier imports hash this very text


def checked_instant(when: datetime, key: str, file: str, line: int) -> str:
    """An instant as ISO 8601 UTC: an offset is converted (09:14+05:00 is 04:14Z), a naive
    time is taken as UTC. Outside 2000 .. now + 1 day it is most likely a unit or typing
    mistake, and is refused."""
    instant = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    latest = utc_now() + timedelta(days=1)
    if not EARLIEST <= instant <= latest:
        raise ValidationError(
            f"{instant.isoformat(sep=' ')[:19]} UTC is out of range (expected between "
            f"{EARLIEST:%Y-%m-%d} and tomorrow)", file=file, line=line, field=key)
    return instant.isoformat()


def _reject_unknown(rec: Record, known: frozenset[str], file: str, line: int) -> None:
    """Gold and verdict records have no free metadata: an unknown key is most likely a typo."""
    for key in rec:
        if key not in known:
            raise ValidationError(
                f"unknown field (known: {', '.join(sorted(known))})",
                file=file, line=line, field=key,
            )
