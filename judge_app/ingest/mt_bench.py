"""MT-Bench (FastChat ``fastchat/llm_judge/data/mt_bench/``) as a task with judge verdicts.

The folder holds ``question.jsonl`` ({question_id, category, turns: [str], reference?}),
``model_answer/<model>.jsonl`` ({question_id, model_id, choices: [{turns: [str]}]}) and,
optionally, ``model_judgment/*_pair.jsonl``: pairwise judgments {question_id, model_1,
model_2, g1_winner, g2_winner, judge: [judge model, prompt name], turn, tstamp, ...}. Game 1
showed model_1 first, game 2 showed model_2 first; both winners name model_1 or model_2 (or
tie, or error, which is skipped). Each game becomes one judge verdict with its left side.
Single-answer grading files (scores, no g1_winner) are not pairwise and are left alone.
"""

from __future__ import annotations

from pathlib import Path

from judge_app.core.types import ImportedVerdict, Message, Outcome, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest.collect import Collector, epoch_timestamp, read_benchmark_folder
from judge_app.ingest.jsonl import iter_records, json_type, peek_first_record
from judge_app.ingest.reader import ReaderCode
from judge_app.ingest.records import get_id, get_name, get_str

DEFAULT_TASK = "mt-bench"
QUESTIONS = "question.jsonl"
_GAME: dict[str, Outcome] = {"model_1": "a", "model_2": "b", "tie": "tie"}


def looks_like(path: Path) -> bool:
    """A folder with question.jsonl (turns as plain strings) and model_answer/."""
    if not path.is_dir() or not (path / "model_answer").is_dir():
        return False
    first = peek_first_record(path / QUESTIONS)
    turns = first.get("turns") if first else None
    return isinstance(turns, list) and bool(turns) and isinstance(turns[0], str)


def _turns(value: object, key: str, file: str, line: int, role: str) -> tuple[Message, ...]:
    if type(value) is not list or not value or not all(type(t) is str for t in value):
        raise ValidationError(f"expected a list of strings, found {json_type(value)}",
                              file=file, line=line, field=key)
    return tuple({"role": role, "content": t} for t in value)


def _read_questions(path: Path, found: Collector) -> None:
    file = str(path)
    for line, rec in iter_records(path):
        prompt_id = get_id(rec, "question_id", file, line)
        reference = rec.get("reference")
        ref_text = "\n\n".join(reference) if isinstance(reference, list) else None
        found.prompt(prompt_id, _turns(rec.get("turns"), "turns", file, line, "user"), file,
                     line, "question_id", category=get_str(rec, "category", file, line),
                     reference=ref_text)


def _read_answers(path: Path, found: Collector) -> None:
    file = str(path)
    for line, rec in iter_records(path):
        prompt_id = get_id(rec, "question_id", file, line)
        if prompt_id not in found.prompts:
            raise ValidationError(f"answer to unknown question {prompt_id!r}", file=file,
                                  line=line, field="question_id")
        model = get_str(rec, "model_id", file, line) or path.name.split(".")[0]
        choices = rec.get("choices")
        if type(choices) is not list or not choices or type(choices[0]) is not dict:
            raise ValidationError("expected a list of choices with turns", file=file,
                                  line=line, field="choices")
        response = _turns(choices[0].get("turns"), "choices[0].turns", file, line, "assistant")
        found.output(prompt_id, model, response, file, line, "choices")


def _read_judgments(path: Path, found: Collector) -> list[ImportedVerdict]:
    file = str(path)
    verdicts: list[ImportedVerdict] = []
    for line, rec in iter_records(path):
        prompt_id = get_id(rec, "question_id", file, line)
        models = [get_name(rec, key, file, line) for key in ("model_1", "model_2")]
        for key, model in zip(("model_1", "model_2"), models, strict=True):
            if not found.has_output(prompt_id, model):
                raise ValidationError(f"model {model!r} has no answer to question "
                                      f"{prompt_id!r}", file=file, line=line, field=key)
        judge = rec.get("judge")
        name = judge[0] if isinstance(judge, list) and judge else judge
        if type(name) is not str or not name:
            raise ValidationError("expected [judge model, prompt name]", file=file, line=line,
                                  field="judge")
        created = epoch_timestamp(rec, file, line)
        for game, left in (("g1", "a"), ("g2", "b")):
            winner = rec.get(f"{game}_winner")
            if winner == "error":
                continue  # the judge's answer could not be parsed
            if winner not in _GAME:
                raise ValidationError(f"expected model_1, model_2, tie or error, found "
                                      f"{winner!r}", file=file, line=line,
                                      field=f"{game}_winner")
            raw = rec.get(f"{game}_judgment")
            verdicts.append(ImportedVerdict(
                prompt_id=prompt_id, model_a=models[0], model_b=models[1],
                outcome=_GAME[winner], rater_id=name, source="judge",
                left_side=left,  # type: ignore[arg-type]
                judge_model=name, raw_answer=raw if isinstance(raw, str) else None,
                created_at=created,
            ))
    return verdicts


def _pairwise_judgments(path: Path, found: Collector) -> list[ImportedVerdict]:
    """Single-answer grading files sit in the same folder; only pairwise ones are verdicts."""
    first = peek_first_record(path)
    return _read_judgments(path, found) if first is not None and "g1_winner" in first else []


def read_mt_bench(paths: list[Path], task_name: str | None = None) -> list[TaskBundle]:
    bundles = []
    for folder in paths:
        found, verdicts = read_benchmark_folder(
            folder, QUESTIONS, "*.jsonl", _read_questions, _read_answers, _pairwise_judgments)
        config = TaskConfig(
            name=task_name or DEFAULT_TASK,
            title="MT-Bench",
            instructions="Which assistant answers the user's questions better, over both "
            "turns?",
            outcomes=("a", "b", "tie"),
            allow_empty_responses=True,
            show_reference=True,
            provenance=f"MT-Bench folder {folder.name}",
        )
        bundles.append(TaskBundle(config, list(found.prompts.values()),
                                  list(found.outputs.values()), verdicts,
                                  source_files=[str(folder / QUESTIONS)]))
    return bundles


READER = ReaderCode(looks_like, read_mt_bench, reads_folders=True)
