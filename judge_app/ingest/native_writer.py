"""Write a TaskBundle as a native task folder (the inverse of ``read_task_folder``).

Used to build the bundled demo tasks from their public sources, and to convert any format
the importers read into a folder a user can inspect and edit.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from judge_app.core.types import (
    GoldAnswer,
    ImportedVerdict,
    Output,
    Prompt,
    TaskBundle,
    TaskConfig,
)
from judge_app.ingest.jsonl import dump_jsonl


def _toml_str(text: str, multiline: bool = False) -> str:
    if multiline and "\n" in text and "'''" not in text and _printable(text):
        return "'''\n" + text + "'''"
    # JSON string escapes are valid TOML basic-string escapes; TOML also forbids raw DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _printable(text: str) -> bool:
    return not any((ord(c) < 32 and c not in "\n\t") or c == "\x7f" for c in text)


def _toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml_str(v) for v in values) + "]"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def task_toml(config: TaskConfig) -> str:
    """task.toml text for a config, every key present and explained by a comment."""
    c = config
    lines = [
        f"name = {_toml_str(c.name)}",
        f"title = {_toml_str(c.title)}",
        "# Shown to raters above every pair (markdown).",
        f"instructions = {_toml_str(c.instructions, multiline=True)}",
        "# Answers a rater may give: a, b, tie, both_bad (both answers are bad).",
        f"outcomes = {_toml_list(c.outcomes)}",
        "# Ask how much better (better / much better) when a or b wins.",
        f"strength = {_bool(c.strength)}",
        "# A written reason: off, optional or required; minimum length when given.",
        f"rationale = {_toml_str(c.rationale)}",
        f"rationale_min_length = {c.rationale_min_length}",
        "# How many raters judge each pair.",
        f"overlap = {c.overlap}",
        "# Show the model names after the verdict is saved (never before).",
        f"reveal_models = {_bool(c.reveal_models)}",
        "# Show the prompt's reference answer to raters.",
        f"show_reference = {_bool(c.show_reference)}",
        "# Accept empty responses (some real data sets contain empty answers that were judged).",
        f"allow_empty_responses = {_bool(c.allow_empty_responses)}",
        f"licence = {_toml_str(c.licence)}",
        f"provenance = {_toml_str(c.provenance)}",
    ]
    for criterion in c.criteria:
        lines += [
            "",
            "[[criteria]]",
            f"name = {_toml_str(criterion.name)}",
            f"description = {_toml_str(criterion.description)}",
            f"outcomes = {_toml_list(criterion.outcomes)}",
        ]
    lines += [
        "",
        "[pairing]",
        "# all_pairs: every two models per prompt; baseline: each model against one model;",
        "# sampled: a balanced random subset of `budget` pairs.",
        f"design = {_toml_str(c.design)}",
    ]
    if c.baseline is not None:
        lines.append(f"baseline = {_toml_str(c.baseline)}")
    if c.budget is not None:
        lines.append(f"budget = {c.budget}")
    lines += [
        f"seed = {c.seed}",
        "",
        "[quality]",
        "# Share of assignments that are gold pairs (known answer) / swapped re-tests.",
        f"gold_rate = {c.gold_rate!r}",
        f"retest_rate = {c.retest_rate!r}",
    ]
    if (c.scheduling, c.target, c.target_level) != ("uniform", "ranking", 0.95):
        lines += _scheduling_lines(c)
    return "\n".join(lines) + "\n"


def _scheduling_lines(c: TaskConfig) -> list[str]:
    """[scheduling], written only when it differs from the default (uniform)."""
    return [
        "",
        "[scheduling]",
        "# uniform: every pair alike; adaptive: the next votes go where they settle the target",
        "# (ranking, top_k:K, baseline:MODEL, width:W) at this confidence level; see",
        "# docs/analysis.md.",
        f"mode = {_toml_str(c.scheduling)}",
        f"target = {_toml_str(c.target)}",
        f"level = {c.target_level!r}",
    ]


def prompt_record(prompt: Prompt) -> dict[str, Any]:
    record: dict[str, Any] = {"id": prompt.prompt_id}
    messages = prompt.messages
    if len(messages) == 1 and messages[0]["role"] == "user" and len(messages[0]) == 2:
        record["prompt"] = messages[0]["content"]
    else:
        record["messages"] = list(messages)
    if prompt.category:
        record["category"] = prompt.category
    if prompt.reference is not None:
        record["reference"] = prompt.reference
    if prompt.metadata:
        record["metadata"] = prompt.metadata
    return record


def output_record(output: Output) -> dict[str, Any]:
    record: dict[str, Any] = {"prompt_id": output.prompt_id, "model": output.model}
    if output.model_version:
        record["model_version"] = output.model_version
    response = output.response
    if len(response) == 1 and len(response[0]) == 2:
        record["response"] = response[0]["content"]
    else:
        record["response"] = list(response)
    for key in ("latency_ms", "cost_usd", "input_tokens", "output_tokens"):
        value = getattr(output, key)
        if value is not None:
            record[key] = value
    if output.metadata:
        record["metadata"] = output.metadata
    return record


def gold_record(gold: GoldAnswer) -> dict[str, Any]:
    return {"prompt_id": gold.prompt_id, "model_a": gold.model_a, "model_b": gold.model_b,
            "outcome": gold.outcome}


def verdict_record(verdict: ImportedVerdict) -> dict[str, Any]:
    record: dict[str, Any] = {
        "prompt_id": verdict.prompt_id, "model_a": verdict.model_a, "model_b": verdict.model_b,
        "outcome": verdict.outcome, "rater": verdict.rater_id, "source": verdict.source,
    }
    optional = {
        "left": verdict.left_side, "strength": verdict.strength,
        "probability": verdict.probability, "rationale": verdict.rationale,
        "raw_answer": verdict.raw_answer, "judge_model": verdict.judge_model,
        "created_at": verdict.created_at,
    }
    record.update((k, v) for k, v in optional.items() if v is not None)
    return record


def write_task_folder(bundle: TaskBundle, folder: Path) -> None:
    """Write task.toml and the JSONL files (gold and verdicts only when there are any)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.toml").write_text(task_toml(bundle.config), encoding="utf-8")
    dump_jsonl([prompt_record(p) for p in bundle.prompts], folder / "prompts.jsonl")
    dump_jsonl([output_record(o) for o in bundle.outputs], folder / "outputs.jsonl")
    for name, rows in (("gold", [gold_record(g) for g in bundle.gold]),
                       ("verdicts", [verdict_record(v) for v in bundle.verdicts])):
        path = folder / f"{name}.jsonl"
        if rows:
            dump_jsonl(rows, path)
        elif path.exists():
            path.unlink()
