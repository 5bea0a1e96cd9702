"""Gather prompts and outputs that arrive repeated across records (annotations, battles).

Community formats repeat the same prompt and the same model's answer in many records. The
first occurrence defines it; a later one with different content is an error that names where
both came from, so nothing contradictory is imported.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from judge_app.core.types import ImportedVerdict, Message, Output, Prompt
from judge_app.errors import ValidationError
from judge_app.ingest.jsonl import Record, json_type
from judge_app.ingest.records import checked_instant


def epoch_timestamp(rec: Record, file: str, line: int, key: str = "tstamp") -> str | None:
    """An optional time in seconds since 1970 (FastChat's ``tstamp``) as ISO 8601 UTC."""
    value = rec.get(key)
    if value is None:
        return None
    if type(value) not in (int, float):
        raise ValidationError(f"expected seconds since 1970, found {json_type(value)}",
                              file=file, line=line, field=key)
    try:
        when = datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):  # 1e20, NaN, infinity
        raise ValidationError(f"expected seconds since 1970, found {value!r} (out of range)",
                              file=file, line=line, field=key) from None
    return checked_instant(when, key, file, line)


class Collector:
    def __init__(self) -> None:
        self.prompts: dict[str, Prompt] = {}
        self.outputs: dict[tuple[str, str], Output] = {}
        self._where: dict[object, str] = {}

    def prompt(
        self, prompt_id: str, messages: tuple[Message, ...], file: str, line: int, field: str,
        category: str = "", reference: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        known = self.prompts.get(prompt_id)
        if known is None:
            self.prompts[prompt_id] = Prompt(prompt_id, messages, category, reference,
                                             metadata or {})
            self._where[prompt_id] = f"{file}:{line}"
        elif list(known.messages) != list(messages):
            raise ValidationError(
                f"prompt {prompt_id!r} differs from the one at {self._where[prompt_id]}",
                file=file, line=line, field=field,
            )

    def output(
        self, prompt_id: str, model: str, response: tuple[Message, ...], file: str, line: int,
        field: str, metadata: dict[str, Any] | None = None,
    ) -> None:
        key = (prompt_id, model)
        known = self.outputs.get(key)
        if known is None:
            self.outputs[key] = Output(prompt_id, model, response, metadata=metadata or {})
            self._where[key] = f"{file}:{line}"
        elif list(known.response) != list(response):
            raise ValidationError(
                f"model {model!r} has a different answer to prompt {prompt_id!r} at "
                f"{self._where[key]}", file=file, line=line, field=field,
            )

    def has_output(self, prompt_id: str, model: str) -> bool:
        return (prompt_id, model) in self.outputs


def read_benchmark_folder(
    folder: Path,
    questions: str,
    judgments_glob: str,
    read_questions: Callable[[Path, Collector], None],
    read_answers: Callable[[Path, Collector], None],
    read_judgments: Callable[[Path, Collector], list[ImportedVerdict]],
) -> tuple[Collector, list[ImportedVerdict]]:
    """The layout MT-Bench and Arena-Hard share: a questions file, model_answer/*.jsonl and
    judgments under model_judgment/."""
    if not (folder / questions).is_file():
        raise ValidationError(f"no {questions} in this folder", file=str(folder))
    found = Collector()
    read_questions(folder / questions, found)
    for answers in sorted((folder / "model_answer").glob("*.jsonl")):
        read_answers(answers, found)
    verdicts: list[ImportedVerdict] = []
    for judged in sorted((folder / "model_judgment").glob(judgments_glob)):
        verdicts += read_judgments(judged, found)
    if not found.outputs:
        raise ValidationError("no model answers in model_answer/", file=str(folder))
    return found, verdicts
