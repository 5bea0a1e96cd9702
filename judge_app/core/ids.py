"""Deterministic ids: importing the same data twice yields the same rows."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:20]


def output_id(task_id: str, prompt_id: str, model: str) -> str:
    return "o" + _digest(task_id, prompt_id, model)


def pair_id(task_id: str, prompt_id: str, model_a: str, model_b: str) -> str:
    """Same id whichever order the models are given in."""
    first, second = sorted((model_a, model_b))
    return "p" + _digest(task_id, prompt_id, first, second)


# Built once: json.dumps with options builds a new encoder on every call.
canonical_json = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":")
).encode


def content_hash(value: Any) -> str:
    """Stable hash of JSON-like content, to tell 'same again' from 'changed'."""
    return hashlib.sha1(canonical_json(value).encode("utf-8")).hexdigest()


def text_hash(*parts: object) -> str:
    """Hash of already-serialised fields (faster than content_hash on a hot path)."""
    return hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()
