"""Landing an import: the whole bundle in one transaction, or nothing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from judge_app.core.ids import canonical_json, content_hash, output_id, pair_id, text_hash
from judge_app.core.pairing import generate_pairs
from judge_app.core.types import GoldAnswer, ImportedVerdict, TaskBundle, flip, text_of
from judge_app.errors import ValidationError
from judge_app.services.queue import forget_task_config
from judge_app.storage import catalog, raters, verdicts
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
        return (
            f"{self.task_id}: task {self.task}; {self.prompts_new} new prompts, "
            f"{self.outputs_new} new outputs, {self.pairs_new} new pairs, "
            f"{self.verdicts_new} new verdicts" + (f", {self.replaced} replaced" if self.replaced
                                                   else "") + warned
        )


def _config_json(bundle: TaskBundle) -> str:
    return json.dumps(dataclasses.asdict(bundle.config), sort_keys=True, ensure_ascii=False)


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
    now = datetime.now(UTC).replace(tzinfo=None)
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
        client_id = ids[0]
        prob = v.probability
        if prob is not None and swapped:
            prob = 1.0 - prob
        rows.append({
            "verdict_id": client_id, "task_id": task_id,
            "pair_id": pid, "prompt_id": v.prompt_id, "rater_id": v.rater_id,
            "source": v.source, "output_a": output_id(task_id, v.prompt_id, a),
            "output_b": output_id(task_id, v.prompt_id, b), "model_a": a, "model_b": b,
            "left_side": left, "outcome": flip(v.outcome) if swapped else v.outcome,
            "strength": v.strength, "rationale": v.rationale, "flagged": False,
            "probability": prob, "raw_answer": v.raw_answer, "judge_model": v.judge_model,
            "created_at": _utc(v.created_at) if v.created_at else now,
            "legacy_id": ids[-1],
        })
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


def import_bundle(db: Database, bundle: TaskBundle, *, replace: bool = False) -> ImportReport:
    """Insert what is new; content changed under an existing id is refused unless ``replace``."""
    task_id = bundle.config.name
    where = bundle.source_files[0] if bundle.source_files else task_id
    _check_references(bundle, where)
    config_json = _config_json(bundle)
    ids = {(o.prompt_id, o.model): output_id(task_id, o.prompt_id, o.model)
           for o in bundle.outputs}
    prompts, outputs = _prompt_frame(task_id, bundle), _output_frame(task_id, bundle, ids)
    pairs, verdict_rows = _pair_frame(task_id, bundle, ids), _verdict_rows(task_id, bundle)
    rater_rows = sorted({(v.rater_id, str(v.source)) for v in bundle.verdicts})

    with db.transaction() as cur:
        state = catalog.upsert_task(
            cur, task_id, bundle.config.title or task_id, config_json, content_hash(config_json)
        )
        report = ImportReport(task_id=task_id, task=state)
        if state == "changed":
            if not replace:
                raise ValidationError(
                    f"task '{task_id}' already exists with a different task.toml; "
                    "pass --replace to overwrite it", file=where,
                )
            catalog.replace_task_config(
                cur, task_id, bundle.config.title or task_id, config_json,
                content_hash(config_json),
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
