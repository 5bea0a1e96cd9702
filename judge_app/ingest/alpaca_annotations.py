"""AlpacaEval annotations (``annotations.json``, optionally gzipped) as judge verdicts.

Each record compares ``output_1`` by ``generator_1`` (the baseline) with ``output_2`` by
``generator_2`` on one instruction. ``preference`` follows AlpacaEval's own scoring
(``metrics/helpers.py``: ``describe_head2head``), for every released version:

- a number in [1, 2]: 1 means output_1 wins, 2 output_2 wins; AlpacaEval 2 writes floats in
  between (the judge's probability from log-probabilities), so P(generator_1 better) =
  2 - preference; the outcome is the likelier side and exactly 1.5 is a draw;
- 0 (AlpacaEval 1's draw, which its scoring maps to 1.5): a draw, probability 1/2;
- null or NaN: not annotated, no verdict (AlpacaEval leaves it out of n_total too);
- anything else is refused (AlpacaEval would silently drop it).

AlpacaEval shuffles the order it shows the judge, so the left side stays unknown.
Both outputs become the task's outputs; prompt ids are the same hashes of the instruction
that the model_outputs reader uses.
"""

from __future__ import annotations

import math
from pathlib import Path

from judge_app.core.types import ImportedVerdict, Outcome, TaskBundle, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest.alpaca_eval import prompt_id_for
from judge_app.ingest.collect import Collector
from judge_app.ingest.jsonl import Record, iter_records, json_type
from judge_app.ingest.reader import ReaderCode, sniff_record
from judge_app.ingest.records import get_name, get_str, parse_response

DEFAULT_TASK = "alpaca-eval-annotations"
DEFAULT_ANNOTATOR = "alpaca-eval-annotator"


def looks_like(record: Record) -> bool:
    return {"instruction", "output_1", "output_2", "preference"} <= record.keys()


def _preference(rec: Record, file: str, line: int) -> float | None:
    """The preference on AlpacaEval's [1, 2] scale (a 0 draw becomes 1.5), None if absent."""
    value = rec.get("preference")
    if value is None or (type(value) is float and math.isnan(value)):
        return None  # not annotated
    if type(value) in (int, float) and value == 0:
        return 1.5  # AlpacaEval 1 writes a draw as 0
    if type(value) not in (int, float) or not 1.0 <= value <= 2.0:
        shown = repr(value) if type(value) in (int, float) else json_type(value)
        raise ValidationError(
            "expected a number in [1, 2] (1: output_1 wins, 2: output_2 wins, 1.5: draw), "
            f"0 (a draw) or null (not annotated), found {shown}",
            file=file, line=line, field="preference",
        )
    return float(value)


def _outcome(preference: float) -> Outcome:
    if preference < 1.5:
        return "a"
    return "b" if preference > 1.5 else "tie"


def read_alpaca_annotations(paths: list[Path], task_name: str | None = None) -> list[TaskBundle]:
    found = Collector()
    verdicts: list[ImportedVerdict] = []
    for path in paths:
        file = str(path)
        for line, rec in iter_records(path):
            instruction = get_name(rec, "instruction", file, line, text=True)
            prompt_id = prompt_id_for(instruction)
            found.prompt(prompt_id, ({"role": "user", "content": instruction},), file, line,
                         "instruction", category=get_str(rec, "dataset", file, line))
            models = []
            for n in ("1", "2"):
                model = get_name(rec, f"generator_{n}", file, line)
                response = parse_response(rec.get(f"output_{n}"), file, line, True, f"output_{n}")
                found.output(prompt_id, model, response, file, line, f"output_{n}")
                models.append(model)
            if models[0] == models[1]:
                raise ValidationError("generator_1 and generator_2 must differ", file=file,
                                      line=line, field="generator_2")
            preference = _preference(rec, file, line)
            if preference is None:
                continue
            annotator = get_str(rec, "annotator", file, line) or DEFAULT_ANNOTATOR
            raw = rec.get("raw_completion")
            verdicts.append(ImportedVerdict(
                prompt_id=prompt_id, model_a=models[0], model_b=models[1],
                outcome=_outcome(preference), rater_id=annotator, source="judge",
                probability=2.0 - preference, judge_model=annotator,
                raw_answer=raw if isinstance(raw, str) else None,
            ))
    if not found.outputs:
        raise ValidationError("no records found", file=str(paths[0]) if paths else None)
    config = TaskConfig(
        name=task_name or DEFAULT_TASK,
        title="AlpacaEval annotations",
        instructions="Which response follows the instruction better?",
        allow_empty_responses=True,
        provenance="AlpacaEval annotations: " + ", ".join(p.name for p in paths),
    )
    return [TaskBundle(config, list(found.prompts.values()), list(found.outputs.values()),
                       verdicts, source_files=[str(p) for p in paths])]


READER = ReaderCode(sniff_record(looks_like), read_alpaca_annotations)
