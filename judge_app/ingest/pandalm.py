"""The PandaLM human-annotated test set (WeOpenML/PandaLM ``data/testset-v1.json``).

Each item is one prompt (instruction + input) with two responses and three annotators'
labels (0 tie, 1 response1 better, 2 response2 better). Items stay separate prompts, even
when an instruction repeats, so the task's pairs are exactly the 999 annotated comparisons.
``response1`` was shown first, so each verdict records model_a (response1's model) as left.
"""

from __future__ import annotations

from pathlib import Path

from judge_app.core.types import ImportedVerdict, Outcome, Output, Prompt, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest.jsonl import Record, iter_records, json_type
from judge_app.ingest.reader import ReaderCode, sniff_record
from judge_app.ingest.records import get_name, get_str, parse_response

DEFAULT_TASK = "pandalm"
ANNOTATORS = ("annotator1", "annotator2", "annotator3")
_LABELS: dict[int, Outcome] = {0: "tie", 1: "a", 2: "b"}


def looks_like(record: Record) -> bool:
    return "cmp_key" in record and "response1" in record and "response2" in record


def rater_name(annotator: str) -> str:
    return "pandalm-" + annotator.replace("annotator", "annotator-")


def split_models(cmp_keys: list[str]) -> dict[str, tuple[str, str]]:
    """'<model1>_<model2>' into its two names; names may themselves contain '_'.

    A key with one underscore splits there. A longer key splits where both halves, or else
    exactly one, are names already learnt; what it teaches helps the next keys.
    """
    known = {part for key in cmp_keys if key.count("_") == 1 for part in key.split("_")}
    result: dict[str, tuple[str, str]] = {}
    pending = sorted(set(cmp_keys))
    progress = True
    while pending and progress:
        progress = False
        for key in list(pending):
            options = [(key[:i], key[i + 1 :]) for i, c in enumerate(key)
                       if c == "_" and 0 < i < len(key) - 1]
            if len(options) > 1:
                both = [o for o in options if o[0] in known and o[1] in known]
                options = both or [o for o in options if o[0] in known or o[1] in known]
            if len(options) == 1:
                result[key] = options[0]
                known.update(options[0])
                pending.remove(key)
                progress = True
    return result


def _response(rec: Record, key: str, file: str, line: int) -> str:
    """The text of a response; a few source items hold JSON true where the text was 'True'."""
    value = rec.get(key)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value
    if value is None:
        raise ValidationError("missing required field", file=file, line=line, field=key)
    raise ValidationError(
        f"expected a string, found {json_type(value)}", file=file, line=line, field=key
    )


def read_pandalm(paths: list[Path], task_name: str | None = None) -> list[TaskBundle]:
    items = [(path, line, rec) for path in paths for line, rec in iter_records(path)]
    splits = split_models([r["cmp_key"] for _, _, r in items if isinstance(r.get("cmp_key"), str)])
    prompts: list[Prompt] = []
    outputs: list[Output] = []
    verdicts: list[ImportedVerdict] = []
    seen: dict[str, str] = {}
    for path, line, rec in items:
        file = str(path)
        idx = rec.get("idx")
        if idx is None:
            raise ValidationError("missing required field", file=file, line=line, field="idx")
        if type(idx) is not int:
            raise ValidationError(
                "expected an integer item number", file=file, line=line, field="idx"
            )
        prompt_id = str(idx)
        if prompt_id in seen:
            raise ValidationError(
                f"duplicate idx {idx} (first at {seen[prompt_id]})", file=file, line=line,
                field="idx",
            )
        seen[prompt_id] = f"{file}:{line}"
        cmp_key = get_name(rec, "cmp_key", file, line)
        if cmp_key not in splits:
            raise ValidationError(
                f"cannot split {cmp_key!r} into '<model1>_<model2>'", file=file, line=line,
                field="cmp_key",
            )
        model_a, model_b = splits[cmp_key]
        if model_a == model_b:
            raise ValidationError("both responses come from one model", file=file, line=line,
                                  field="cmp_key")
        parts = [get_str(rec, key, file, line).strip() for key in ("instruction", "input")]
        text = "\n\n".join(p for p in parts if p)
        if not text:
            raise ValidationError("empty prompt", file=file, line=line, field="instruction")
        prompts.append(Prompt(
            prompt_id=prompt_id,
            messages=({"role": "user", "content": text},),
            category=get_str(rec, "motivation_app", file, line),
            metadata={"idx": idx},
        ))
        for model, key in ((model_a, "response1"), (model_b, "response2")):
            response = parse_response(_response(rec, key, file, line), file, line, True, key)
            outputs.append(Output(prompt_id=prompt_id, model=model, response=response))
        for annotator in ANNOTATORS:
            label = rec.get(annotator)
            if label is None:
                continue  # this annotator did not rate the item
            if type(label) is not int or label not in _LABELS:
                raise ValidationError(
                    f"expected 0 (tie), 1 (response1 better) or 2 (response2 better), "
                    f"found {label!r}", file=file, line=line, field=annotator,
                )
            verdicts.append(ImportedVerdict(
                prompt_id=prompt_id, model_a=model_a, model_b=model_b,
                outcome=_LABELS[label], rater_id=rater_name(annotator), left_side="a",
            ))
    if not prompts:
        raise ValidationError("no records found", file=str(paths[0]) if paths else None)
    config = TaskConfig(
        name=task_name or DEFAULT_TASK,
        title="PandaLM test set",
        instructions="Which response answers the instruction better?",
        outcomes=("a", "b", "tie"),
        allow_empty_responses=True,
        licence="Apache-2.0",
        provenance="WeOpenML/PandaLM data/testset-v1.json",
    )
    return [TaskBundle(config, prompts, outputs, verdicts, source_files=[str(p) for p in paths])]


READER = ReaderCode(sniff_record(looks_like), read_pandalm)
