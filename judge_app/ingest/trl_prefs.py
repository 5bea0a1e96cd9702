"""TRL preference datasets: ``prompt``/``chosen``/``rejected``, plain text or conversational.

Each record becomes one prompt with two outputs and one verdict. The source models are not
known, and naming them "chosen" and "rejected" would leak the answer to raters and make the
pair's order give it away. So the two answers get the neutral pseudo-models ``response-1``
and ``response-2``, assigned by a hash of each answer's text (not by which one won); the
dataset's label is the verdict of the rater ``dataset-label``. Ratings between the two
pseudo-models mean nothing; the import is for re-judging, agreement and re-export.

Conversational records may leave ``prompt`` out (an implicit prompt): then the messages the
two conversations share are the prompt. Plain-text records need ``prompt``.
Reads JSON Lines, JSON and Parquet (as datasets on the Hugging Face Hub are stored).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from judge_app.core.types import ImportedVerdict, Message, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest.collect import Collector
from judge_app.ingest.jsonl import Record, iter_records, json_type
from judge_app.ingest.reader import ReaderCode, sniff_record
from judge_app.ingest.records import PROMPT_ROLES, parse_messages, parse_response

DEFAULT_TASK = "trl-preferences"
RATER = "dataset-label"
MODELS = ("response-1", "response-2")


def looks_like(record: Record) -> bool:
    return {"chosen", "rejected"} <= record.keys()


def sniff_parquet(path: Path) -> bool:
    if not (path.is_file() and path.suffix == ".parquet"):
        return False
    import pyarrow.parquet as pq

    try:
        names = set(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - not a readable Parquet file: not ours
        return False
    return {"chosen", "rejected"} <= names


def _records(path: Path) -> Iterator[tuple[int, Record]]:
    if path.suffix != ".parquet":
        yield from iter_records(path)
        return
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as exc:  # noqa: BLE001
        raise ValidationError(f"cannot read Parquet ({exc})", file=str(path)) from None
    yield from enumerate(rows, start=1)  # "line" = row number


def _messages(value: object, key: str, file: str, line: int) -> tuple[Message, ...]:
    return parse_messages(value, key, file, line, frozenset(PROMPT_ROLES))


def _split(rec: Record, file: str, line: int) -> tuple[tuple[Message, ...], list[tuple[
        Message, ...]]]:
    """The prompt and the (chosen, rejected) responses of one record."""
    prompt, chosen, rejected = rec.get("prompt"), rec.get("chosen"), rec.get("rejected")
    for key, value in (("chosen", chosen), ("rejected", rejected)):
        if value is None:
            raise ValidationError("missing required field", file=file, line=line, field=key)
    if prompt is None:
        if type(chosen) is not list or type(rejected) is not list:
            raise ValidationError(
                "plain-text records need a prompt (only conversational records may leave it "
                "out)", file=file, line=line, field="prompt",
            )
        full = [_messages(chosen, "chosen", file, line), _messages(rejected, "rejected", file,
                                                                    line)]
        shared = 0
        while (shared < min(map(len, full)) and full[0][shared] == full[1][shared]):
            shared += 1
        while shared and full[0][shared - 1].get("role") == "assistant":
            shared -= 1  # the prompt ends where the answers start
        if not shared:
            raise ValidationError("the two conversations share no prompt", file=file,
                                  line=line, field="chosen")
        responses = [parse_response(list(c[shared:]), file, line, True, key)
                     for c, key in zip(full, ("chosen", "rejected"), strict=True)]
        return full[0][:shared], responses
    if type(prompt) is str:
        if not prompt.strip():
            raise ValidationError("empty prompt", file=file, line=line, field="prompt")
        messages: tuple[Message, ...] = ({"role": "user", "content": prompt},)
    elif type(prompt) is list:
        messages = _messages(prompt, "prompt", file, line)
    else:
        raise ValidationError(f"expected a string or a list of messages, found "
                              f"{json_type(prompt)}", file=file, line=line, field="prompt")
    return messages, [parse_response(chosen, file, line, True, "chosen"),
                      parse_response(rejected, file, line, True, "rejected")]


def _digest(value: object) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def read_trl(paths: list[Path], task_name: str | None = None) -> list[TaskBundle]:
    found = Collector()
    verdicts: list[ImportedVerdict] = []
    for path in paths:
        file = str(path)
        for line, rec in _records(path):
            prompt, (chosen, rejected) = _split(rec, file, line)
            if chosen == rejected:
                raise ValidationError("chosen and rejected are the same answer", file=file,
                                      line=line, field="rejected")
            keys = (_digest(list(chosen)), _digest(list(rejected)))
            prompt_id = _digest([list(prompt), sorted(keys)])[:16]
            if found.has_output(prompt_id, MODELS[0]):
                continue  # the same record again
            first = 0 if keys[0] < keys[1] else 1  # response-1: smaller hash, not the winner
            ordered = (chosen, rejected) if first == 0 else (rejected, chosen)
            found.prompt(prompt_id, prompt, file, line, "prompt")
            for model, response in zip(MODELS, ordered, strict=True):
                found.output(prompt_id, model, response, file, line, "chosen")
            verdicts.append(ImportedVerdict(
                prompt_id=prompt_id, model_a=MODELS[0], model_b=MODELS[1],
                outcome="a" if first == 0 else "b", rater_id=RATER,
            ))
    if not verdicts:
        raise ValidationError("no records found", file=str(paths[0]) if paths else None)
    config = TaskConfig(
        name=task_name or DEFAULT_TASK,
        title="Preference dataset",
        instructions="Which response is better?",
        outcomes=("a", "b", "tie"),
        allow_empty_responses=True,
        provenance="TRL preference data: " + ", ".join(p.name for p in paths),
    )
    return [TaskBundle(config, list(found.prompts.values()), list(found.outputs.values()),
                       verdicts, source_files=[str(p) for p in paths])]


READER = ReaderCode(lambda p: sniff_parquet(p) or sniff_record(looks_like)(p), read_trl)
