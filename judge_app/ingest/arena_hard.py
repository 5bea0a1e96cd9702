"""Arena-Hard-Auto (lmarena/arena-hard-auto ``data/<bench>/``) as a task with judge verdicts.

The folder holds ``question.jsonl``, ``model_answer/<model>.jsonl`` and
``model_judgment/<judge>/<model>.jsonl``. Two layouts exist:

- v2.0: questions {uid, category, prompt}; answers {uid, model, messages: [user,
  {role: assistant, content: {answer, reasoning?}}]}; judgments {uid, judge, model,
  baseline, games: [{score, judgment}, {score, judgment}]}.
- v0.1: questions {question_id, category, turns: [{content}]}; answers {question_id,
  model_id, choices: [{turns: [{content}]}]}; judgments {question_id, judge, model, games}
  with the baseline in the judge config (``gpt-4-0314`` by default).

Game 1 shows the baseline as A and the model as B, game 2 the reverse. A score ``A>>B``
means A is much better (strength 2), ``A>B`` better (strength 1), ``A=B`` a tie; the mirrored
spellings (``B<A``, ...) mean the same. A game without a score is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judge_app.core.types import ImportedVerdict, Message, Outcome, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest.collect import Collector, read_benchmark_folder
from judge_app.ingest.jsonl import Record, iter_records, peek_first_record
from judge_app.ingest.reader import ReaderCode
from judge_app.ingest.records import get_id, get_str

DEFAULT_TASK = "arena-hard"
DEFAULT_BASELINE = "gpt-4-0314"  # v0.1 records do not name it
QUESTIONS = "question.jsonl"
# score -> (outcome for A, strength)
SCORES: dict[str, tuple[Outcome, int | None]] = {
    "A>>B": ("a", 2), "A>B": ("a", 1), "A=B": ("tie", None), "B>A": ("b", 1),
    "B>>A": ("b", 2), "B<<A": ("a", 2), "B<A": ("a", 1), "B=A": ("tie", None),
    "A<B": ("b", 1), "A<<B": ("b", 2),
}


def looks_like(path: Path) -> bool:
    if not path.is_dir() or not (path / "model_answer").is_dir():
        return False
    first = peek_first_record(path / QUESTIONS)
    if first is None:
        return False
    turns = first.get("turns")
    return "uid" in first or (isinstance(turns, list) and bool(turns)
                              and isinstance(turns[0], dict))


def _qid(rec: Record, file: str, line: int) -> str:
    return get_id(rec, "uid" if "uid" in rec else "question_id", file, line)


def _text(value: Any, file: str, line: int, field: str) -> str:
    """Message content: a string, or (v2 answers) an object with the text in ``answer``."""
    if isinstance(value, dict):
        value = value.get("answer")
        field += ".answer"
    if not isinstance(value, str):
        raise ValidationError("expected text", file=file, line=line, field=field)
    return value


def _read_questions(path: Path, found: Collector) -> None:
    file = str(path)
    for line, rec in iter_records(path):
        prompt_id = _qid(rec, file, line)
        if "prompt" in rec:
            texts = [_text(rec["prompt"], file, line, "prompt")]
        else:
            turns = rec.get("turns")
            if not isinstance(turns, list) or not turns:
                raise ValidationError("expected prompt or turns", file=file, line=line,
                                      field="turns")
            texts = [_text(t.get("content") if isinstance(t, dict) else None, file, line,
                           f"turns[{i}].content") for i, t in enumerate(turns)]
        messages = tuple({"role": "user", "content": t} for t in texts)
        found.prompt(prompt_id, messages, file, line, "prompt",
                     category=get_str(rec, "category", file, line))


def _read_answers(path: Path, found: Collector) -> None:
    file = str(path)
    for line, rec in iter_records(path):
        prompt_id = _qid(rec, file, line)
        if prompt_id not in found.prompts:
            raise ValidationError(f"answer to unknown question {prompt_id!r}", file=file,
                                  line=line, field="uid" if "uid" in rec else "question_id")
        model = (get_str(rec, "model", file, line) or get_str(rec, "model_id", file, line)
                 or path.name.split(".")[0])
        response: tuple[Message, ...]
        if "messages" in rec:
            messages = rec["messages"]
            answers = [m for m in messages if isinstance(m, dict)
                       and m.get("role") == "assistant"] if isinstance(messages, list) else []
            if not answers:
                raise ValidationError("no assistant message", file=file, line=line,
                                      field="messages")
            response = tuple({"role": "assistant", "content": _text(
                m.get("content"), file, line, "messages[-1].content")} for m in answers)
        else:
            choices = rec.get("choices")
            turns = choices[0].get("turns") if isinstance(choices, list) and choices and \
                isinstance(choices[0], dict) else None
            if not isinstance(turns, list) or not turns:
                raise ValidationError("expected messages or choices[0].turns", file=file,
                                      line=line, field="choices")
            response = tuple({"role": "assistant", "content": _text(
                t.get("content") if isinstance(t, dict) else t, file, line,
                f"choices[0].turns[{i}].content")} for i, t in enumerate(turns))
        found.output(prompt_id, model, response, file, line, "messages")


def _read_judgments(path: Path, found: Collector) -> list[ImportedVerdict]:
    file = str(path)
    verdicts: list[ImportedVerdict] = []
    for line, rec in iter_records(path):
        prompt_id = _qid(rec, file, line)
        model = get_str(rec, "model", file, line) or path.name.split(".")[0]
        baseline = get_str(rec, "baseline", file, line) or DEFAULT_BASELINE
        judge = get_str(rec, "judge", file, line) or path.parent.name
        if model == baseline:
            continue  # the baseline judged against itself carries no information
        for key, name in (("model", model), ("baseline", baseline)):
            if not found.has_output(prompt_id, name):
                raise ValidationError(f"model {name!r} has no answer to question "
                                      f"{prompt_id!r}", file=file, line=line, field=key)
        games = rec.get("games")
        if not isinstance(games, list):
            raise ValidationError("expected a list of games", file=file, line=line,
                                  field="games")
        for i, game in enumerate(games[:2]):
            score = game.get("score") if isinstance(game, dict) else None
            if score is None:
                continue  # the judge gave no verdict label
            if score not in SCORES:
                raise ValidationError(f"expected a score such as A>>B, A>B, A=B, B>A, B>>A, "
                                      f"found {score!r}", file=file, line=line,
                                      field=f"games[{i}].score")
            outcome, strength = SCORES[score]
            first, second = (baseline, model) if i == 0 else (model, baseline)
            raw = game.get("judgment")
            raw_text = raw.get("answer") if isinstance(raw, dict) else raw
            verdicts.append(ImportedVerdict(
                prompt_id=prompt_id, model_a=first, model_b=second, outcome=outcome,
                rater_id=judge, source="judge", left_side="a", strength=strength,
                judge_model=judge, raw_answer=raw_text if isinstance(raw_text, str) else None,
            ))
    return verdicts


def read_arena_hard(paths: list[Path], task_name: str | None = None) -> list[TaskBundle]:
    bundles = []
    for folder in paths:
        found, verdicts = read_benchmark_folder(
            folder, QUESTIONS, "*/*.jsonl", _read_questions, _read_answers, _read_judgments)
        config = TaskConfig(
            name=task_name or DEFAULT_TASK,
            title="Arena-Hard",
            instructions="Which assistant answers the user's prompt better?",
            strength=True,
            allow_empty_responses=True,
            provenance=f"Arena-Hard folder {folder.name}",
        )
        bundles.append(TaskBundle(config, list(found.prompts.values()),
                                  list(found.outputs.values()), verdicts,
                                  source_files=[str(folder / QUESTIONS)]))
    return bundles


READER = ReaderCode(looks_like, read_arena_hard, reads_folders=True)
