"""What a user picks by name, in one place and one shape: the CLI's commands, the import
formats and the export formats.

Each entry is a name, one line of help, and where its code lives ("module:attribute"),
imported only when used: `judge-app --help` lists every format without importing pandas or a
single reader. Adding an import or export format, or a command, is one entry here plus its
code (docs/layout.md says where that code goes).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    name: str
    help: str  # one line, for --help and for "unknown format" messages
    target: str  # "package.module:attribute", imported by load()
    kind: str = ""  # a family within a registry (export: "preference" formats share a path)

    def load(self) -> Any:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)


def names(entries: Iterable[Entry], kind: str | None = None) -> tuple[str, ...]:
    return tuple(e.name for e in entries if kind is None or e.kind == kind)


# `judge-app` commands, in the order --help lists them: each entry's register() adds that
# command and any close relatives (judge: runs, escalate; leaderboard: agreement, gate).
COMMANDS: tuple[Entry, ...] = (
    Entry("init", "create or upgrade the database", "judge_app.cli.init:register"),
    Entry("import", "import tasks and verdicts", "judge_app.cli.import_cmd:register"),
    Entry("demo", "load the bundled demo tasks", "judge_app.cli.demo:register"),
    Entry("raters", "add, list, disable and assign raters", "judge_app.cli.raters:register"),
    Entry("serve", "run the web app", "judge_app.cli.serve:register"),
    Entry("generate", "answer a task's prompts with a model behind an endpoint",
          "judge_app.cli.generate:register"),
    Entry("judge", "LLM-judge runs and escalation to people", "judge_app.cli.judge:register"),
    Entry("leaderboard", "ratings, agreement and the release gate",
          "judge_app.cli.analysis:register"),
    Entry("progress", "is a task's target met, and the votes it still needs",
          "judge_app.cli.progress:register"),
    Entry("report", "the HTML report of a task", "judge_app.cli.report:register"),
    Entry("export", "datasets, battles, verdicts, leaderboards", "judge_app.cli.export:register"),
    Entry("copy", "copy a database into a new one (DuckDB <-> PostgreSQL)",
          "judge_app.cli.copy:register"),
)

# Readers for `judge-app import --format` and the import page; `auto` tries them in this
# order. Each target is a judge_app.ingest.reader.ReaderCode.
IMPORT_FORMATS: tuple[Entry, ...] = (
    Entry("native", "a task folder with task.toml, prompts.jsonl and outputs.jsonl",
          "judge_app.ingest.task_format:READER"),
    Entry("mt-bench", "an MT-Bench folder: question.jsonl, model_answer/*.jsonl, "
          "model_judgment/*_pair.jsonl", "judge_app.ingest.mt_bench:READER"),
    Entry("arena-hard", "an Arena-Hard folder: question.jsonl, model_answer/*.jsonl, "
          "model_judgment/<judge>/*.jsonl", "judge_app.ingest.arena_hard:READER"),
    Entry("alpaca-eval", "AlpacaEval model_outputs.json[.gz]: a list of {instruction, output, "
          "generator}", "judge_app.ingest.alpaca_eval:READER"),
    Entry("pandalm", "PandaLM testset-v1.json: a list of {idx, cmp_key, instruction, input, "
          "response1, response2, annotator1..3}", "judge_app.ingest.pandalm:READER"),
    Entry("alpaca-eval-annotations", "AlpacaEval annotations.json[.gz]: a list of "
          "{instruction, output_1, generator_1, output_2, generator_2, preference}",
          "judge_app.ingest.alpaca_annotations:READER"),
    Entry("fastchat-battles", "FastChat clean battle records: {question_id, model_a, model_b, "
          "winner, judge, conversation_a, conversation_b, turn, tstamp}",
          "judge_app.ingest.fastchat_battles:READER"),
    Entry("verdicts", "judge_app's verdicts export (.jsonl, .parquet or .csv): {verdict_id, "
          "task_id, pair_id, rater_id, source, model_a, model_b, outcome, ...}; the task's "
          "prompts and outputs must be in the database or imported in the same command",
          "judge_app.ingest.verdict_export:READER"),
    Entry("trl", "a TRL preference dataset (.jsonl, .json or .parquet): {prompt, chosen, "
          "rejected}, plain text or conversational", "judge_app.ingest.trl_prefs:READER"),
)

# `judge-app export --format` and the export page. A "preference" format is a function
# (pairs with their texts, task name) -> table; the others read their own rows
# (services/exports.py).
EXPORT_FORMATS: tuple[Entry, ...] = (
    Entry("trl", "TRL preference pairs, text: prompt, chosen, rejected",
          "judge_app.export.formats:trl", "preference"),
    Entry("trl-chat", "TRL preference pairs as message lists",
          "judge_app.export.formats:trl_chat", "preference"),
    Entry("openai-dpo", "OpenAI DPO fine-tuning file (provenance in a sidecar)",
          "judge_app.export.formats:openai_dpo", "preference"),
    Entry("kto", "KTO: each pair as a desirable and an undesirable completion",
          "judge_app.export.formats:kto", "preference"),
    Entry("battles", "FastChat clean battle records, one per verdict",
          "judge_app.export.formats:battles"),
    Entry("verdicts", "every standing verdict with its provenance",
          "judge_app.storage.exports:verdict_table"),
    Entry("leaderboard", "the leaderboard table",
          "judge_app.services.leaderboard:compute_leaderboard"),
)
