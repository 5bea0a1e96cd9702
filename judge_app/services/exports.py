"""Exports: preference datasets, battle logs, verdicts and the leaderboard, with a card.

Shared by ``judge-app export`` and the export page: ``build`` makes the table (for a preview
or a download), ``export_task`` writes it and its dataset card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc

from judge_app.core import preferences as prefs
from judge_app.core.clock import utc_now
from judge_app.errors import JudgeAppError
from judge_app.export import card, formats, writers
from judge_app.registry import EXPORT_FORMATS, Entry
from judge_app.services.leaderboard import compute_leaderboard
from judge_app.services.lookup import task_not_found
from judge_app.storage import catalog
from judge_app.storage import exports as store
from judge_app.storage.analytics import Slice
from judge_app.storage.db import Database

EXPORTS_DIR = Path("exports")
_SOURCE = re.compile(r"^(all|human|judge|judge:.+)$")


@dataclass(frozen=True)
class ExportRequest:
    task: str
    fmt: str
    source: str = "all"
    min_votes: int = 1
    min_agreement: float = 0.0
    both_bad: bool = False  # preference formats: export the both-bad prompts instead


@dataclass
class BuiltExport:
    table: writers.Table
    info: card.CardInfo
    sidecar: pd.DataFrame | None = None  # openai-dpo: provenance, line by line

    @property
    def rows(self) -> int:
        return len(self.table) if isinstance(self.table, pd.DataFrame) else self.table.num_rows


@dataclass(frozen=True)
class ExportResult:
    path: Path
    card_path: Path
    sidecar_path: Path | None
    rows: int

    def summary(self) -> str:
        extra = f" (+ {self.sidecar_path.name})" if self.sidecar_path else ""
        return f"wrote {self.rows} rows to {self.path}{extra}; dataset card {self.card_path}"


def _check(req: ExportRequest) -> prefs.PreferenceFilters:
    if req.fmt not in formats.FORMATS:
        known = ", ".join(formats.FORMATS)
        raise JudgeAppError(f"unknown format {req.fmt!r} (choose from {known})")
    if not _SOURCE.match(req.source):
        raise JudgeAppError(f"unknown source {req.source!r} (all, human, judge or judge:NAME)")
    preference = req.fmt in formats.PREFERENCE_FORMATS
    if not preference and (req.min_votes != 1 or req.min_agreement or req.both_bad):
        raise JudgeAppError(
            "--min-votes, --min-agreement and --both-bad apply to the preference formats "
            f"({', '.join(formats.PREFERENCE_FORMATS)}), not to {req.fmt}"
        )
    try:
        return prefs.PreferenceFilters(req.min_votes, req.min_agreement)
    except ValueError as exc:
        raise JudgeAppError(str(exc)) from None


def _format(name: str) -> Entry:
    return next(e for e in EXPORT_FORMATS if e.name == name)


def build(db: Database, req: ExportRequest) -> BuiltExport:
    filters = _check(req)
    s = Slice(task_id=req.task, source=req.source)
    with db.cursor() as cur:
        task = catalog.get_task(cur, req.task)
        if task is None:
            raise task_not_found(cur, req.task)
    config = task["config"]
    info = card.CardInfo(
        task=req.task, title=task["title"], fmt=req.fmt, data_file="", rows=0,
        source=req.source, filters=filters, licence=str(config.get("licence", "")),
        task_provenance=str(config.get("provenance", "")), both_bad_only=req.both_bad,
    )
    sidecar = None
    table: writers.Table
    if req.fmt in formats.PREFERENCE_FORMATS:
        with db.cursor() as cur:
            votes = store.votes(cur, s)
            texts = store.pair_texts(cur, req.task)
        agg = prefs.aggregate_pairs(votes)
        info.summary = prefs.summarise(agg, filters)
        info.models = sorted(set(agg["model_a"]) | set(agg["model_b"]))
        if req.both_bad:
            table = formats.both_bad_prompts(prefs.select_both_bad(agg, filters), texts, req.task)
        else:
            rows = formats.with_texts(prefs.select_preferences(agg, filters), texts)
            table = _format(req.fmt).load()(rows, req.task)
            if req.fmt == "openai-dpo":  # OpenAI validates its files strictly
                sidecar = formats.provenance(rows, req.task)
    elif req.fmt == "battles":
        with db.cursor() as cur:
            battle_rows = store.battle_rows(cur, s)
        table = formats.battles(battle_rows)
        info.models = sorted(set(table["model_a"]) | set(table["model_b"]))
    elif req.fmt == "verdicts":
        with db.cursor() as cur:
            verdicts = store.verdict_table(cur, s)
        table = verdicts
        info.models = sorted(set(pc.unique(verdicts.column("model_a")).to_pylist())
                             | set(pc.unique(verdicts.column("model_b")).to_pylist()))
    else:
        table = compute_leaderboard(db, req.task, source=req.source)
        info.models = sorted(table["model"]) if "model" in table else []
    built = BuiltExport(table, info, sidecar)
    info.rows = built.rows
    return built


def default_path(req: ExportRequest, now: datetime | None = None) -> Path:
    """exports/<task>-<format>-<UTC time>/<task>-<format>.jsonl: one folder per export."""
    stamp = (now or utc_now()).strftime("%Y%m%d-%H%M%S")
    name = f"{req.task}-{req.fmt}" + ("-both-bad" if req.both_bad else "")
    return EXPORTS_DIR / f"{name}-{stamp}" / f"{name}.jsonl"


def card_path_for(path: Path) -> Path:
    """The dataset card's name: the data file's name + '.card.md', so several exports can
    share a folder, each with its own card."""
    return path.with_name(f"{path.name}.card.md")


def export_task(
    db: Database, req: ExportRequest, out: Path | None = None, force: bool = False
) -> ExportResult:
    path = out if out is not None else default_path(req)
    writers.kind_of(path)
    card_path = card_path_for(path)
    sidecar_path = path.with_name(f"{path.stem}.provenance.jsonl")
    built = build(db, req)
    targets = [path, card_path] + ([sidecar_path] if built.sidecar is not None else [])
    for target in targets:  # refuse before writing anything
        writers.check_free(target, force)
    built.info.data_file = path.name
    written: list[Path] = []
    try:  # all files or none: a later failure (a full disk) takes back the earlier ones
        if built.sidecar is not None:
            built.info.sidecar = sidecar_path.name
            writers.write_table(built.sidecar, sidecar_path, force)
            written.append(sidecar_path)
        writers.write_table(built.table, path, force)
        written.append(path)
        writers.write_text(card.render(built.info), card_path, force)
    except BaseException:
        for done in written:
            done.unlink(missing_ok=True)
        raise
    return ExportResult(path, card_path, sidecar_path if built.sidecar is not None else None,
                        built.rows)


def task_names(db: Database) -> list[str]:
    with db.cursor() as cur:
        return [t["task_id"] for t in catalog.list_tasks(cur)]


def preview(built: BuiltExport, n: int = 20) -> pd.DataFrame:
    table = built.table
    return table.head(n) if isinstance(table, pd.DataFrame) else table.slice(0, n).to_pandas()


def download(built: BuiltExport, kind: str) -> bytes:
    return writers.encode(built.table, kind)
