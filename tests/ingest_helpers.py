"""Small builders for task folders used by the ingest tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from judge_app.errors import ValidationError
from judge_app.ingest import load_bundles

REPO = Path(__file__).resolve().parents[1]

PROMPTS = [{"id": "p1", "prompt": "Say hi."}, {"id": "p2", "prompt": "Count to 3."}]
OUTPUTS = [
    {"prompt_id": "p1", "model": "m1", "response": "hi"},
    {"prompt_id": "p1", "model": "m2", "response": "hello"},
    {"prompt_id": "p2", "model": "m1", "response": "1 2 3"},
    {"prompt_id": "p2", "model": "m2", "response": "one two three"},
]


def jsonl(records: list[Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def write_task(
    folder: Path, toml: str = 'name = "t"\n', prompts: list[Any] | str | None = None,
    outputs: list[Any] | str | None = None, **extra: list[Any] | str,
) -> Path:
    """A task folder; list arguments become JSONL, strings are written as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.toml").write_text(toml, encoding="utf-8")
    files = {"prompts": PROMPTS if prompts is None else prompts,
             "outputs": OUTPUTS if outputs is None else outputs, **extra}
    for name, content in files.items():
        text = content if isinstance(content, str) else jsonl(content)
        (folder / f"{name}.jsonl").write_text(text, encoding="utf-8")
    return folder


def load_error(*paths: Path, fmt: str = "auto", task_name: str | None = None) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        load_bundles(list(paths), fmt, task_name)
    return info.value


def assert_where(err: ValidationError, file: str, line: int | None, field: str | None) -> None:
    """The error names this file (by its name), line and field, in its attributes and text."""
    message = str(err)
    assert err.file is not None and Path(err.file).name == file, message
    assert (err.line, err.field) == (line, field), message
    assert f"{file}:{line}:" in message if line else file in message, message
    if field:
        assert f"'{field}'" in message, message
