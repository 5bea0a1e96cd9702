"""AlpacaEval ``model_outputs.json`` files: a list of {instruction, output, generator, dataset}.

Several files (one per model, usually) become one task with one output per model per
instruction. A prompt's id is a hash of its instruction, not its position, so importing the
same files again, in another order, or one more model later, lands on the same prompts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest.jsonl import Record, iter_records
from judge_app.ingest.reader import ReaderCode, sniff_record
from judge_app.ingest.records import get_metadata, get_name, get_str, parse_response

DEFAULT_TASK = "alpaca-eval"
_KNOWN = frozenset({"instruction", "output", "generator", "dataset"})


def looks_like(record: Record) -> bool:
    return "instruction" in record and "output" in record and "output_1" not in record


def prompt_id_for(instruction: str) -> str:
    return hashlib.sha1(instruction.encode("utf-8")).hexdigest()[:16]


def default_generator(path: Path) -> str:
    """The model name when records lack ``generator``: results/<model>/model_outputs.json."""
    stem = path.name.split(".")[0]
    return path.parent.name if stem == "model_outputs" and path.parent.name else stem


def read_alpaca_eval(paths: list[Path], task_name: str | None = None) -> list[TaskBundle]:
    prompts: dict[str, Prompt] = {}
    outputs: list[Output] = []
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        file = str(path)
        fallback = default_generator(path)
        for line, rec in iter_records(path):
            instruction = get_name(rec, "instruction", file, line, text=True)
            model = get_str(rec, "generator", file, line) or fallback
            prompt_id = prompt_id_for(instruction)
            known = prompts.get(prompt_id)
            if known is None:
                prompts[prompt_id] = Prompt(
                    prompt_id=prompt_id,
                    messages=({"role": "user", "content": instruction},),
                    category=get_str(rec, "dataset", file, line),
                )
            elif known.messages[0]["content"] != instruction:
                raise ValidationError(  # a 64-bit hash collision: practically never
                    f"two different instructions share the id {prompt_id}", file=file, line=line,
                    field="instruction",
                )
            where = f"{file}:{line}"
            if (prompt_id, model) in seen:
                raise ValidationError(
                    f"duplicate output: {model!r} already answered this instruction "
                    f"at {seen[prompt_id, model]}", file=file, line=line, field="instruction",
                )
            seen[prompt_id, model] = where
            outputs.append(Output(
                prompt_id=prompt_id,
                model=model,
                response=parse_response(rec.get("output"), file, line, False, key="output"),
                metadata=get_metadata(rec, _KNOWN, file, line),
            ))
    if not outputs:
        raise ValidationError("no records found", file=str(paths[0]) if paths else None)
    config = TaskConfig(
        name=task_name or DEFAULT_TASK,
        title="AlpacaEval model outputs",
        instructions="Which response follows the instruction better? Judge helpfulness, "
        "correctness and clarity; ignore length for its own sake.",
        provenance="AlpacaEval model_outputs: " + ", ".join(p.name for p in paths),
    )
    return [TaskBundle(config, list(prompts.values()), outputs,
                       source_files=[str(p) for p in paths])]


READER = ReaderCode(sniff_record(looks_like), read_alpaca_eval)
