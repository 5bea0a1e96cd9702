"""Export files as a user finds them: one card per export, normal permissions, CSV cells a
spreadsheet will not run, JSON and Parquet unchanged."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from judge_app.cli import main
from judge_app.core.types import ImportedVerdict, Output, Prompt, TaskBundle, TaskConfig
from judge_app.export.writers import csv_safe, neutralise_formula
from judge_app.services.exports import ExportRequest, export_task
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

FORMULAS = ["=HYPERLINK(\"http://x\",\"y\")", "+SUM(1,2)", "-2+3", "@cmd", "\tTAB", "\rCR"]


def _bundle() -> TaskBundle:
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": text},))
               for i, text in enumerate(FORMULAS)]
    models = ("m1", "m2")
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"{text} by {m}"},))
               for i, text in enumerate(FORMULAS) for m in models]
    verdicts = [ImportedVerdict(f"q{i}", "m1", "m2", "a" if i % 2 else "b", rater,
                                left_side="a")
                for i in range(len(FORMULAS)) for rater in ("ann", "ben")]
    return TaskBundle(TaskConfig(name="sheet", title="Sheet"), prompts, outputs, verdicts)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "exports.duckdb"
    db = open_database(path)
    import_bundle(db, _bundle())
    db.close()
    return path


@pytest.fixture
def db(db_path: Path) -> Iterator[Database]:
    database = open_database(db_path)
    yield database
    database.close()


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_two_exports_share_a_folder_each_with_its_own_card(
    db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    runs = [("trl", "train.jsonl"), ("battles", "battles.jsonl"), ("verdicts", "train.parquet")]
    for fmt, name in runs:
        code = main(["export", "--task", "sheet", "--format", fmt, "--out", str(out / name),
                     "--db", str(db_path)])
        assert code == 0, capsys.readouterr().err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted([name for _, name in runs] + [f"{n}.card.md" for _, n in runs])
    for fmt, name in runs:
        card = (out / f"{name}.card.md").read_text(encoding="utf-8")
        assert f"data_files: {name}" in card or f'data_files: "{name}"' in card
        assert f"- Format: `{fmt}`" in card
    # the same export again is refused, and the first one's card is left as it was
    before = (out / "train.jsonl.card.md").read_bytes()
    code = main(["export", "--task", "sheet", "--format", "trl", "--out",
                 str(out / "train.jsonl"), "--db", str(db_path)])
    assert code == 1 and "already exists" in capsys.readouterr().err
    assert (out / "train.jsonl.card.md").read_bytes() == before


@pytest.mark.usefixtures("umask")
def test_exported_files_get_normal_permissions(db: Database, tmp_path: Path) -> None:
    result = export_task(db, ExportRequest("sheet", "openai-dpo"), tmp_path / "o" / "d.jsonl")
    assert result.sidecar_path is not None
    for path in (result.path, result.card_path, result.sidecar_path):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    forced = export_task(db, ExportRequest("sheet", "openai-dpo"), result.path, force=True)
    assert stat.S_IMODE(forced.path.stat().st_mode) == 0o644
    os.umask(0o027)  # a stricter umask is respected too
    private = export_task(db, ExportRequest("sheet", "battles"), tmp_path / "p" / "b.csv")
    assert stat.S_IMODE(private.path.stat().st_mode) == 0o640
    assert not [p for p in tmp_path.rglob(".*.tmp")]


def test_neutralise_formula_only_touches_text() -> None:
    assert [neutralise_formula(v) for v in FORMULAS] == ["'" + v for v in FORMULAS]
    for value in ("plain", "", "a=b", -1.5, 3, None):
        assert neutralise_formula(value) == value
    frame = pd.DataFrame({"name": ["=1+1", "ok"], "delta": [-1.5, 2.0], "n": [-3, 4],
                          "messages": [[{"content": "=x"}], []]})
    safe = csv_safe(frame)
    assert list(safe["name"]) == ["'=1+1", "ok"]
    assert list(safe["delta"]) == [-1.5, 2.0] and list(safe["n"]) == [-3, 4]
    assert list(safe["messages"]) == ['[{"content": "=x"}]', "[]"]  # JSON text starts with [
    assert list(frame["name"]) == ["=1+1", "ok"]  # the caller's frame is left alone


def _cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def test_csv_export_neutralises_formulas(db: Database, tmp_path: Path) -> None:
    found = {}
    for fmt in ("trl", "battles", "verdicts"):
        result = export_task(db, ExportRequest("sheet", fmt), tmp_path / f"{fmt}.csv")
        found[fmt] = cells = _cells(result.path)
        assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], fmt
    # trl has the prompt texts as plain cells; they were written with a leading quote
    cells = found["trl"]
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells and "'-2+3" in cells
    assert "'\tTAB" in cells and "'\rCR" in cells


def test_json_and_parquet_keep_the_text_exactly(db: Database, tmp_path: Path) -> None:
    jsonl = export_task(db, ExportRequest("sheet", "trl"), tmp_path / "t.jsonl")
    prompts = sorted(json.loads(line)["prompt"] for line in jsonl.path.read_text().splitlines())
    chosen = {f"{t} by m1" for t in FORMULAS} | {f"{t} by m2" for t in FORMULAS}
    assert prompts == sorted(FORMULAS)
    rows = [json.loads(line) for line in jsonl.path.read_text().splitlines()]
    assert {r["chosen"] for r in rows} <= chosen
    assert b"'=" not in jsonl.path.read_bytes()
    parquet = export_task(db, ExportRequest("sheet", "trl"), tmp_path / "t.parquet")
    table = pq.read_table(parquet.path)
    assert sorted(table.column("prompt").to_pylist()) == sorted(FORMULAS)


def test_leaderboard_csv_in_the_terminal(db_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    # a negative anchor makes every rating negative: numbers stay numbers
    code = main(["leaderboard", "--task", "sheet", "--format", "csv", "--anchor",
                 "m1=-100", "--db", str(db_path)])
    out = capsys.readouterr().out
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert float(rows[0]["rating"]) < 0 and not rows[0]["rating"].startswith("'")
