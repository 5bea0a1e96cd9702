"""Landing an import: the whole bundle in one transaction, or nothing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from judge_app.core.clock import stored_now
from judge_app.core.ids import canonical_json, content_hash, output_id, pair_id, text_hash
from judge_app.core.pairing import generate_pairs
from judge_app.core.types import (
    GoldAnswer,
    ImportedVerdict,
    TaskBundle,
    VerdictsBundle,
    flip,
    text_of,
)
from judge_app.core.verdict_rows import verdict_row
from judge_app.errors import ValidationError
from judge_app.services.queue import forget_task_config
from judge_app.storage import catalog, raters, verdicts
from judge_app.storage import judges as judge_store
from judge_app.storage.db import Database


@dataclass
class ImportReport:
    task_id: str
    task: str  # new | unchanged | replaced
    prompts_new: int = 0
    outputs_new: int = 0
    pairs_new: int = 0
    verdicts_new: int = 0
    replaced: int = 0
    warnings: list[str] = dataclasses.field(default_factory=list)
    verdicts_only: bool = False  # a verdicts export: no task settings, prompts or outputs

    @property
    def nothing_new(self) -> bool:
        return self.task == "unchanged" and not (
            self.prompts_new or self.outputs_new or self.pairs_new or self.verdicts_new
            or self.replaced
        )

    def summary(self, *, warnings: bool = True) -> str:
        warned = "".join(f"\nwarning: {w}" for w in self.warnings) if warnings else ""
        if self.nothing_new:
            return f"{self.task_id}: nothing new (already imported){warned}"
        if self.verdicts_only:
            pairs = f", {self.pairs_new} new pairs" if self.pairs_new else ""
            return f"{self.task_id}: {self.verdicts_new} new verdicts{pairs}{warned}"
        return (
            f"{self.task_id}: task {self.task}; {self.prompts_new} new prompts, "
            f"{self.outputs_new} new outputs, {self.pairs_new} new pairs, "
            f"{self.verdicts_new} new verdicts" + (f", {self.replaced} replaced" if self.replaced
                                                   else "") + warned
        )


def _config_json(bundle: TaskBundle) -> str:
    return json.dumps(dataclasses.asdict(bundle.config), sort_keys=True, ensure_ascii=False)


# Settings added since the release before migration 005: at their defaults they leave the hash
# as that release computed it.
_NEWER_SETTINGS = ("scheduling", "target", "target_level", "arena")


def _config_hash(bundle: TaskBundle) -> str:
    """Hash of the config as releases before migration 005 stored it (provenance under its old
    name, `source`; newer settings left out at their defaults), so a task imported then is
    'unchanged' when imported again now."""
    values = dataclasses.asdict(bundle.config)
    values["source"] = values.pop("provenance")
    defaults = {f.name: f.default for f in dataclasses.fields(bundle.config)}
    for name in _NEWER_SETTINGS:
        if values[name] == defaults[name]:
            del values[name]
    return content_hash(json.dumps(values, sort_keys=True, ensure_ascii=False))


def _prompt_frame(task_id: str, bundle: TaskBundle) -> pd.DataFrame:
    rows = []
    for p in bundle.prompts:
        messages = canonical_json(list(p.messages))
        metadata = canonical_json(p.metadata)
        rows.append((
            task_id, p.prompt_id, messages, p.category or "", p.reference, metadata,
            text_hash(messages, p.category, p.reference, metadata),
        ))
    return pd.DataFrame(rows, columns=catalog.PROMPT_COLUMNS)


def _output_frame(task_id: str, bundle: TaskBundle, ids: dict[tuple[str, str], str]
                  ) -> pd.DataFrame:
    rows = []
    for o in bundle.outputs:
        response = canonical_json(list(o.response))
        metadata = canonical_json(o.metadata)
        numbers = (o.latency_ms, o.cost_usd, o.input_tokens, o.output_tokens)
        rows.append((
            ids[(o.prompt_id, o.model)], task_id, o.prompt_id, o.model, o.model_version or "",
            response, text_of(o.response), *numbers, metadata,
            text_hash(response, o.model_version, *numbers, metadata),
        ))
    frame = pd.DataFrame(rows, columns=catalog.OUTPUT_COLUMNS)
    return frame.astype({"latency_ms": "float64", "cost_usd": "float64",
                         "input_tokens": "Int64", "output_tokens": "Int64"})


def _pair_frame(task_id: str, bundle: TaskBundle, ids: dict[tuple[str, str], str]
                ) -> pd.DataFrame:
    models_by_prompt: dict[str, list[str]] = {}
    for o in bundle.outputs:
        models_by_prompt.setdefault(o.prompt_id, []).append(o.model)
    pairs = {p.pair_id: p for p in generate_pairs(task_id, bundle.config, models_by_prompt)}
    gold: dict[str, str] = {}
    for g in bundle.gold:
        pid = pair_id(task_id, g.prompt_id, g.model_a, g.model_b)
        gold[pid] = g.outcome if g.model_a < g.model_b else flip(g.outcome)
    # Pairs that imported verdicts or gold answers need exist whatever the design says.
    needed = [(p.prompt_id, p.model_a, p.model_b) for p in pairs.values()]
    needed += [(v.prompt_id, v.model_a, v.model_b) for v in bundle.verdicts]
    needed += [(g.prompt_id, g.model_a, g.model_b) for g in bundle.gold]
    rows = []
    seen: set[str] = set()
    for prompt_id, m1, m2 in needed:
        pid = pair_id(task_id, prompt_id, m1, m2)
        if pid not in seen:
            seen.add(pid)
            a, b = sorted((m1, m2))
            rows.append((pid, task_id, prompt_id, ids[(prompt_id, a)], ids[(prompt_id, b)],
                         a, b, gold.get(pid)))
    return pd.DataFrame(rows, columns=catalog.PAIR_COLUMNS)


def _verdict_rows(task_id: str, bundle: TaskBundle) -> list[dict[str, Any]]:
    """Verdict rows with ids derived from their identity, so that a re-import matches them.

    Identity: rater, pair, time and the order the pair was shown in (a judge asked in both
    orders gives two verdicts, usually without timestamps). Rows alike in all of these are
    told apart by their rank among them. Verdicts with a known left side had ids without it
    before; `legacy_id` keeps that id so that data imported then is not imported twice.
    """
    now = stored_now()
    rows = []
    seen: dict[tuple[str | None, ...], int] = {}
    for v in bundle.verdicts:
        swapped = v.model_a > v.model_b
        a, b = sorted((v.model_a, v.model_b))
        pid = pair_id(task_id, v.prompt_id, a, b)
        left = None if v.left_side is None else (flip(v.left_side) if swapped else v.left_side)
        legacy: tuple[str | None, ...] = (v.rater_id, pid, v.created_at)
        key = legacy if left is None else (*legacy, f"left:{left}")
        ids = []
        for k in dict.fromkeys([key, legacy]):  # the legacy key once when it is the key
            seen[k] = seen.get(k, -1) + 1
            ids.append("import:" + content_hash([task_id, *k, seen[k]]))
        verdict_id = ids[0]
        prob = v.probability
        if prob is not None and swapped:
            prob = 1.0 - prob
        pair = {"task_id": task_id, "pair_id": pid, "prompt_id": v.prompt_id,
                "output_a": output_id(task_id, v.prompt_id, a),
                "output_b": output_id(task_id, v.prompt_id, b), "model_a": a, "model_b": b}
        rows.append(verdict_row(
            verdict_id, pair, v.rater_id, v.source, left_side=left,
            outcome=flip(v.outcome) if swapped else v.outcome, strength=v.strength,
            rationale=v.rationale, probability=prob, raw_answer=v.raw_answer,
            judge_model=v.judge_model, created_at=_utc(v.created_at) if v.created_at else now,
            legacy_id=ids[-1]))
    # Where one rater's verdicts at one time mix known and unknown left sides, the old ids
    # interleave with the new ones: no legacy matching there.
    mixed = {(r["rater_id"], r["pair_id"], r["created_at"]) for r in rows
             if r["left_side"] is None}
    for r in rows:
        if (r["rater_id"], r["pair_id"], r["created_at"]) in mixed:
            r["legacy_id"] = r["verdict_id"]
    return rows


def _utc(text: str) -> pd.Timestamp:
    """An imported time as the naive UTC instant the database keeps: an offset is converted
    (09:14+05:00 is stored as 04:14), a time without one is taken as UTC."""
    stamp = pd.Timestamp(text)
    return stamp.tz_convert(None) if stamp.tzinfo is not None else stamp


def _check_references(bundle: TaskBundle, where: str) -> None:
    """Verdicts and gold answers must point at outputs the bundle has."""
    have = {(o.prompt_id, o.model) for o in bundle.outputs}
    groups: list[tuple[str, Sequence[ImportedVerdict | GoldAnswer]]] = [
        ("verdict", bundle.verdicts), ("gold answer", bundle.gold),
    ]
    for kind, items in groups:
        for n, item in enumerate(items, start=1):
            for model in (item.model_a, item.model_b):
                if (item.prompt_id, model) not in have:
                    raise ValidationError(
                        f"{kind} {n} refers to an output that does not exist: prompt "
                        f"'{item.prompt_id}', model '{model}'", file=where, field="model",
                    )


def import_bundle(db: Database, bundle: TaskBundle | VerdictsBundle, *,
                  replace: bool = False) -> ImportReport:
    """Insert what is new; content changed under an existing id is refused unless ``replace``."""
    if isinstance(bundle, VerdictsBundle):
        return import_verdict_export(db, bundle)
    task_id = bundle.config.name
    where = bundle.source_files[0] if bundle.source_files else task_id
    _check_references(bundle, where)
    config_json = _config_json(bundle)
    ids = {(o.prompt_id, o.model): output_id(task_id, o.prompt_id, o.model)
           for o in bundle.outputs}
    prompts, outputs = _prompt_frame(task_id, bundle), _output_frame(task_id, bundle, ids)
    pairs, verdict_rows = _pair_frame(task_id, bundle, ids), _verdict_rows(task_id, bundle)
    rater_rows = sorted({(v.rater_id, v.source) for v in bundle.verdicts})

    with db.transaction() as cur:
        state = catalog.upsert_task(
            cur, task_id, bundle.config.title or task_id, config_json, _config_hash(bundle)
        )
        report = ImportReport(task_id=task_id, task=state)
        if state == "changed":
            if not replace:
                raise ValidationError(
                    f"task '{task_id}' already exists with a different task.toml; "
                    "pass --replace to overwrite it", file=where,
                )
            catalog.replace_task_config(
                cur, task_id, bundle.config.title or task_id, config_json, _config_hash(bundle),
            )
            report.task = "replaced"
        for label, merge, frame in (
            ("prompt", catalog.merge_prompts, prompts), ("output", catalog.merge_outputs, outputs),
        ):
            counts = merge(cur, frame, replace)
            if counts.changed and not replace:
                shown = ", ".join(counts.changed_ids[:5])
                raise ValidationError(
                    f"{counts.changed} {label}(s) already exist with different content "
                    f"(e.g. {shown}); pass --replace to overwrite them", file=where,
                )
            report.replaced += counts.changed
            setattr(report, f"{label}s_new", counts.new)
        report.pairs_new = catalog.insert_new_pairs(cur, pairs)
        people = raters.login_raters(cur, [r[0] for r in rater_rows])
        if people:
            raise ValidationError(
                f"verdicts are attributed to {people[0]!r}, a person who logs in to this app; "
                "imported verdicts cannot speak for them (rename the rater in the file)",
                file=next((f for f in bundle.source_files
                           if Path(f).name.startswith("verdicts.")), where),
                field="rater")
        raters.ensure_raters(cur, rater_rows)
        renamed = [r["legacy_id"] for r in verdict_rows if r["legacy_id"] != r["verdict_id"]]
        known = verdicts.existing_verdict_ids(cur, renamed) if renamed else set()
        report.verdicts_new = verdicts.insert_verdicts(
            cur, [r for r in verdict_rows if r["legacy_id"] not in known])
    if pairs.empty:
        report.warnings.append(
            "the task has no pairs: no prompt has outputs from two models yet (import the "
            "other models' outputs to make pairs)")
    if report.task == "replaced":
        forget_task_config(task_id)
    return report


# ---------------------------------------------------------------- verdicts export, read back

# What makes two rows with one verdict id the same verdict. Not the time: a verdict imported
# without one gets the import's time, so two imports of one task folder differ there.
VERDICT_IDENTITY = ["task_id", "pair_id", "rater_id", "source", "left_side", "outcome",
                    "strength", "probability", "consistent", "criteria", "judge_config_hash"]
CALL_IDENTITY = ["config_hash", "raw_choice", "strength", "probability"]


def _same(field: str, mine: Any, theirs: Any) -> bool:
    if field == "criteria" and mine is not None and theirs is not None:
        return bool(json.loads(mine) == json.loads(theirs))
    return bool(mine == theirs)


def _conflict(row: dict[str, Any], other: dict[str, Any], fields: list[str]) -> str | None:
    return next((f for f in fields if not _same(f, row[f], other[f])), None)


def import_verdict_export(db: Database, bundle: VerdictsBundle) -> ImportReport:
    """Verdicts from judge_app's `verdicts` export, with their ids: a verdict already stored
    is skipped, one stored under the same id with other content is refused (file, line,
    field). The task's outputs must be stored; pairs the verdicts need are made."""
    file, task_id = bundle.source_file, bundle.task_id
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    first: dict[str, tuple[dict[str, Any], int]] = {}
    for row, line in zip(bundle.rows, bundle.lines, strict=True):
        seen = first.get(row["verdict_id"])
        if seen is None:
            first[row["verdict_id"]] = (row, line)
            rows.append(row)
            lines.append(line)
            continue
        field = _conflict(row, seen[0], VERDICT_IDENTITY)
        if field is not None:
            raise ValidationError(
                f"verdict {row['verdict_id']!r} appears twice with different content (first "
                f"on line {seen[1]})", file=file, line=line, field=field)
    calls: dict[str, dict[str, Any]] = {}
    for call in bundle.calls:
        earlier = calls.setdefault(call["call_key"], call)
        field = _conflict(call, earlier, CALL_IDENTITY)
        if field is not None:
            raise ValidationError(
                f"judge call {call['call_key']!r} appears twice with different answers (first "
                f"on line {earlier['_line']})", file=file, line=call["_line"],
                field=f"judge_calls.{field}")
    report = ImportReport(task_id=task_id, task="unchanged", verdicts_only=True)
    with db.transaction() as cur:
        if catalog.get_task(cur, task_id) is None:
            raise ValidationError(
                f"task {task_id!r} is not in the database: a verdicts export holds no prompts "
                "or outputs, so import the task first (both at once: judge-app import "
                f"TASK_FOLDER {file})", file=file, line=lines[0], field="task_id")
        have = catalog.existing_outputs(
            cur, sorted({r[k] for r in rows for k in ("output_a", "output_b")}))
        for row, line in zip(rows, lines, strict=True):
            for side in ("a", "b"):
                if row[f"output_{side}"] not in have:
                    raise ValidationError(
                        f"task {task_id!r} has no output of model {row[f'model_{side}']!r} for "
                        f"prompt {row['prompt_id']!r}", file=file, line=line,
                        field=f"model_{side}")
        stored = verdicts.verdicts_by_id(cur, list(first), VERDICT_IDENTITY)
        for row, line in zip(rows, lines, strict=True):
            other = stored.get(row["verdict_id"])
            field = None if other is None else _conflict(row, other, VERDICT_IDENTITY)
            if field is not None:
                raise ValidationError(
                    f"verdict {row['verdict_id']!r} is already stored with a different "
                    f"{field} ({other[field]!r}, here {row[field]!r})",  # type: ignore[index]
                    file=file, line=line, field=field)
        new = [(r, n) for r, n in zip(rows, lines, strict=True) if r["verdict_id"] not in stored]
        _check_raters(cur, new, file)
        known_calls = judge_store.cached_calls(cur, sorted(calls))
        for key, call in calls.items():
            other = known_calls.get(key)
            field = None if other is None else _conflict(call, other, CALL_IDENTITY)
            if field is not None:
                raise ValidationError(
                    f"judge call {key!r} is already stored with a different {field}",
                    file=file, line=call["_line"], field=f"judge_calls.{field}")
        pairs = {r["pair_id"]: (r["pair_id"], task_id, r["prompt_id"], r["output_a"],
                                r["output_b"], r["model_a"], r["model_b"], None) for r, _ in new}
        if pairs:
            report.pairs_new = catalog.insert_new_pairs(
                cur, pd.DataFrame(list(pairs.values()), columns=catalog.PAIR_COLUMNS))
        raters.ensure_raters(cur, sorted({(r["rater_id"], r["source"]) for r, _ in new}))
        report.verdicts_new = verdicts.insert_verdicts(cur, [r for r, _ in new])
        judge_store.insert_calls(cur, [
            {k: v for k, v in c.items() if k != "_line"} for k, c in calls.items()
            if k not in known_calls])
    return report


def _check_raters(cur: Any, new: list[tuple[dict[str, Any], int]], file: str) -> None:
    """New verdicts may not speak for a person who logs in, nor change a rater's kind."""
    names = sorted({r["rater_id"] for r, _ in new})
    people = set(raters.login_raters(cur, names))
    for row, line in new:
        if row["rater_id"] in people:
            raise ValidationError(
                f"verdicts are attributed to {row['rater_id']!r}, a person who logs in to this "
                "app; imported verdicts cannot speak for them", file=file, line=line,
                field="rater_id")
    kinds = {name: raters.get_rater(cur, name) for name in names}
    for row, line in new:
        known = kinds[row["rater_id"]]
        if known is not None and known["source"] != row["source"]:
            raise ValidationError(
                f"rater {row['rater_id']!r} is a {known['source']} rater in this database, "
                f"not a {row['source']} one", file=file, line=line, field="source")
