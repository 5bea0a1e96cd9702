"""FastChat clean battle records (Chatbot Arena logs, MT-Bench human judgments, our exports).

A record: ``question_id, model_a, model_b, winner, judge, conversation_a, conversation_b,
turn, tstamp`` with winner ``model_a | model_b | tie | tie (bothbad)``. Each distinct
``judge`` becomes one rater. A judge named ``judge:NAME`` (as judge_app's battles export
writes LLM judges) becomes the judge rater NAME; names that start like an LLM (gpt, claude,
...) are judges too; every other name is a person.

Conversations give the prompt (the user and system turns) and each model's answer (its
assistant turns). Public Arena logs often leave the conversations out: then the prompt is a
placeholder naming the question id and the answers are empty, which is enough for ratings.
"""

from __future__ import annotations

import re
from pathlib import Path

from judge_app.core import conversation
from judge_app.core.types import ImportedVerdict, Message, Outcome, Source, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest.collect import Collector, epoch_timestamp
from judge_app.ingest.jsonl import Record, iter_records
from judge_app.ingest.reader import ReaderCode, sniff_record
from judge_app.ingest.records import PROMPT_ROLES, check_ident, get_id, get_name, parse_messages

DEFAULT_TASK = "battles"
WINNERS: dict[str, Outcome] = {
    "model_a": "a", "model_b": "b", "tie": "tie", "tie (bothbad)": "both_bad",
}
_LLM_JUDGE = re.compile(r"^(gpt|claude|gemini|llama|mistral|qwen|deepseek)", re.IGNORECASE)


def looks_like(record: Record) -> bool:
    return {"model_a", "model_b", "winner"} <= record.keys() and "prompt_id" not in record


def rater_of(judge: str) -> tuple[str, Source]:
    """(rater id, source) for a battle's judge value."""
    if judge.startswith("judge:") and len(judge) > len("judge:"):
        return judge[len("judge:"):], "judge"
    return judge, "judge" if _LLM_JUDGE.match(judge) else "human"


def _conversation(
    rec: Record, key: str, file: str, line: int
) -> tuple[tuple[Message, ...], tuple[Message, ...]] | None:
    value = rec.get(key)
    if value is None:
        return None
    roles = PROMPT_ROLES | {"assistant"}
    messages = parse_messages(value, key, file, line, frozenset(roles))
    prompt, response = conversation.split(messages)
    if not prompt or not response:
        raise ValidationError("expected user and assistant turns", file=file, line=line,
                              field=key)
    return tuple(prompt), tuple(response)


def read_battles(paths: list[Path], task_name: str | None = None) -> list[TaskBundle]:
    found = Collector()
    verdicts: list[ImportedVerdict] = []
    placeholders = False
    for path in paths:
        file = str(path)
        for line, rec in iter_records(path):
            prompt_id = get_id(rec, "question_id", file, line)
            model_a = get_name(rec, "model_a", file, line)
            model_b = get_name(rec, "model_b", file, line)
            if model_a == model_b:
                raise ValidationError("model_a and model_b must differ", file=file, line=line,
                                      field="model_b")
            winner = rec.get("winner")
            if winner not in WINNERS:
                raise ValidationError(
                    f"expected one of {', '.join(WINNERS)}, found {winner!r}", file=file,
                    line=line, field="winner",
                )
            sides = [_conversation(rec, f"conversation_{s}", file, line) for s in ("a", "b")]
            if sides[0] is None or sides[1] is None:
                placeholders = True
                text = f"(question {prompt_id}: the battle log holds no conversation)"
                prompt: tuple[Message, ...] = ({"role": "user", "content": text},)
                answers: list[tuple[Message, ...]] = [({"role": "assistant", "content": ""},)] * 2
            else:
                if sides[0][0] != sides[1][0]:
                    raise ValidationError(
                        "conversation_a and conversation_b ask different questions",
                        file=file, line=line, field="conversation_b",
                    )
                prompt, answers = sides[0][0], [sides[0][1], sides[1][1]]
            found.prompt(prompt_id, prompt, file, line, "conversation_a")
            for model, answer, key in zip((model_a, model_b), answers,
                                          ("conversation_a", "conversation_b"), strict=True):
                found.output(prompt_id, model, answer, file, line, key)
            judge = rec.get("judge", "unknown")
            if type(judge) is not str or not judge.strip():
                raise ValidationError("expected the judge's name", file=file, line=line,
                                      field="judge")
            rater, source = rater_of(check_ident(judge, "judge", file, line))
            verdicts.append(ImportedVerdict(
                prompt_id=prompt_id, model_a=model_a, model_b=model_b, outcome=WINNERS[winner],
                rater_id=rater, source=source,
                judge_model=rater if source == "judge" else None,
                created_at=epoch_timestamp(rec, file, line),
            ))
    if not verdicts:
        raise ValidationError("no records found", file=str(paths[0]) if paths else None)
    config = TaskConfig(
        name=task_name or DEFAULT_TASK,
        title="Battle log",
        instructions="Which response is better?",
        allow_empty_responses=placeholders,
        provenance="FastChat battle records: " + ", ".join(p.name for p in paths),
    )
    return [TaskBundle(config, list(found.prompts.values()), list(found.outputs.values()),
                       verdicts, source_files=[str(p) for p in paths])]


READER = ReaderCode(sniff_record(looks_like), read_battles)
