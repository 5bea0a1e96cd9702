"""Community formats in: MT-Bench, Arena-Hard, AlpacaEval annotations, FastChat battles, TRL."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from judge_app.errors import ValidationError
from judge_app.ingest.loader import detect, load_bundles
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database

DATA = Path(__file__).parent / "data"


def _verdicts(db: Database, task: str) -> pd.DataFrame:
    with db.cursor() as cur:
        return cur.execute(
            "SELECT rater_id, source, model_a, model_b, outcome, strength, probability, "
            "left_side, raw_answer FROM active_verdicts WHERE task_id = ? "
            "ORDER BY created_at, verdict_id", [task],
        ).df()


def _import(db: Database, path: Path, fmt: str = "auto", task: str | None = None) -> str:
    (bundle,) = load_bundles([path], fmt, task)
    import_bundle(db, bundle)
    return bundle.config.name


@pytest.mark.parametrize(("path", "reader"), [
    ("mt_bench", "mt-bench"), ("arena_hard", "arena-hard"), ("arena_hard_v01", "arena-hard"),
    ("alpaca_eval/annotations.json", "alpaca-eval-annotations"),
    ("fastchat/clean_battles.jsonl", "fastchat-battles"),
    ("fastchat/clean_battle_public.json", "fastchat-battles"),
    ("trl/plain.jsonl", "trl"), ("trl/conversational.jsonl", "trl"),
    ("trl/implicit.jsonl", "trl"),
])
def test_auto_recognises(path: str, reader: str) -> None:
    assert detect(DATA / path).name == reader


def test_auto_says_when_it_cannot(tmp_path: Path) -> None:
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"question": "x", "answer": "y"}\n')
    with pytest.raises(ValidationError) as err:
        detect(odd)
    message = str(err.value)
    assert "cannot recognise" in message and "--format trl" in message
    assert "--format mt-bench" in message


def test_mt_bench(db: Database) -> None:
    task = _import(db, DATA / "mt_bench")
    v = _verdicts(db, task)
    # 3 questions x 3 pairs x 2 turns x 2 games, less the 6 games the judge failed ("error")
    assert len(v) == 30
    assert set(v["rater_id"]) == {"gpt-4"} and set(v["source"]) == {"judge"}
    assert set(v["left_side"]) == {"a", "b"}
    with db.cursor() as cur:
        prompt = cur.execute("SELECT messages, reference FROM prompts WHERE task_id = ? AND "
                             "prompt_id = '111'", [task]).fetchone()
        response = cur.execute("SELECT response FROM outputs WHERE task_id = ? AND "
                               "model = 'llama-13b' AND prompt_id = '81'", [task]).fetchone()
    assert prompt is not None and response is not None
    assert [m["role"] for m in json.loads(prompt[0])] == ["user", "user"]
    assert prompt[1] == "Area is 3.\n\n5 pi"
    assert len(json.loads(response[0])) == 2
    wins = v[(v["model_a"] == "gpt-3.5-turbo") & (v["model_b"] == "vicuna-7b-v1.3")]
    assert set(wins["outcome"]) == {"a"}


def test_arena_hard_v2(db: Database) -> None:
    task = _import(db, DATA / "arena_hard")
    v = _verdicts(db, task)
    assert len(v) == 11  # one game without a score is skipped
    assert set(v["rater_id"]) == {"gpt-4.1"}
    # qwen, first question: game 1 "A>>B" with the baseline (o3-mini) as A
    first = v[(v["model_b"] == "qwen2.5-7b-instruct") & (v["strength"] == 2)]
    assert list(first["outcome"]) == ["a"] and first.iloc[0]["model_a"] == "o3-mini-2025-01-31"
    assert v["raw_answer"].str.contains("verdict").any()
    with db.cursor() as cur:
        text = cur.execute("SELECT response_text FROM outputs WHERE task_id = ? AND model = "
                           "'o3-mini-2025-01-31' LIMIT 1", [task]).fetchone()
    assert text is not None and text[0].startswith("o3-mini-2025-01-31 answers")


def test_arena_hard_v01(db: Database) -> None:
    v = _verdicts(db, _import(db, DATA / "arena_hard_v01", task="ah01"))
    assert len(v) == 4
    assert set(v["model_a"]) | set(v["model_b"]) == {"gpt-4-0314", "mistral-7b"}
    # game 1: A = baseline gpt-4-0314 "A>B"; game 2: A = mistral "B>A": both say baseline wins
    assert list(v["outcome"][:2]) == ["a", "a"]


@pytest.mark.parametrize("gz", [False, True])
def test_alpaca_eval_annotations(db: Database, tmp_path: Path, gz: bool) -> None:
    path = DATA / "alpaca_eval" / "annotations.json"
    if gz:
        path = tmp_path / "annotations.json.gz"
        path.write_bytes(gzip.compress((DATA / "alpaca_eval" / "annotations.json").read_bytes()))
    v = _verdicts(db, _import(db, path))
    assert len(v) == 3  # the record with preference null was not annotated
    assert sorted(v["outcome"]) == ["a", "b", "tie"]
    # canonical order: gpt4_1106_preview < tiny-chat-1b, so P(a better) = 2 - preference
    assert sorted(v["probability"].round(4)) == [0.1125, 0.5, 0.9588]
    assert set(v["source"]) == {"judge"}


def test_fastchat_battles(db: Database) -> None:
    v = _verdicts(db, _import(db, DATA / "fastchat" / "clean_battles.jsonl"))
    # canonical order sorts the models: vicuna-13b is model_b in both battles it won
    assert list(v["outcome"]) == ["b", "both_bad", "tie", "b"]
    sources = dict(zip(v["rater_id"], v["source"], strict=False))
    assert sources == {"arena_user_17": "human", "arena_user_18": "human", "gpt4_pair": "judge"}


def test_fastchat_battles_without_conversations(db: Database) -> None:
    task = _import(db, DATA / "fastchat" / "clean_battle_public.json")
    assert len(_verdicts(db, task)) == 2
    with db.cursor() as cur:
        text = cur.execute("SELECT messages FROM prompts WHERE task_id = ? LIMIT 1",
                           [task]).fetchone()
    assert text is not None and "no conversation" in text[0]


@pytest.mark.parametrize("name", ["plain.jsonl", "conversational.jsonl", "implicit.jsonl"])
def test_trl(db: Database, name: str) -> None:
    task = _import(db, DATA / "trl" / name, task=name.split(".")[0])
    v = _verdicts(db, task)
    assert set(v["model_a"]) == {"response-1"} and set(v["model_b"]) == {"response-2"}
    assert set(v["rater_id"]) == {"dataset-label"}
    assert set(v["outcome"]) <= {"a", "b"}


def test_trl_outcome_follows_label_not_position(db: Database) -> None:
    task = _import(db, DATA / "trl" / "plain.jsonl")
    with db.cursor() as cur:
        rows = cur.execute(
            "SELECT o.response_text FROM active_verdicts v JOIN outputs o ON o.output_id = "
            "CASE WHEN v.outcome = 'a' THEN v.output_a ELSE v.output_b END WHERE v.task_id = ?",
            [task],
        ).fetchall()
    assert sorted(t for (t,) in rows) == [" blue.", " four."]


def test_trl_parquet(db: Database, tmp_path: Path) -> None:
    frame = pd.read_json(DATA / "trl" / "conversational.jsonl", lines=True)
    path = tmp_path / "train-00000-of-00001.parquet"
    frame.to_parquet(path)
    assert detect(path).name == "trl"
    assert len(_verdicts(db, _import(db, path))) == 2


def test_bad_input_names_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "battles.jsonl"
    lines = (DATA / "fastchat" / "clean_battles.jsonl").read_text().splitlines()
    record = json.loads(lines[2])
    record["winner"] = "model_c"
    bad.write_text("\n".join([*lines[:2], json.dumps(record), *lines[3:]]) + "\n")
    with pytest.raises(ValidationError) as err:
        load_bundles([bad])
    assert (err.value.file, err.value.line, err.value.field) == (str(bad), 3, "winner")

    folder = tmp_path / "mt"
    shutil.copytree(DATA / "mt_bench", folder)
    judged = folder / "model_judgment" / "gpt-4_pair.jsonl"
    rows = judged.read_text().splitlines()
    record = json.loads(rows[4])
    record["model_2"] = "ghost-model"
    judged.write_text("\n".join([*rows[:4], json.dumps(record), *rows[5:]]) + "\n")
    with pytest.raises(ValidationError) as err:
        load_bundles([folder])
    assert (err.value.line, err.value.field) == (5, "model_2")


def test_conflicting_answers_are_refused(tmp_path: Path) -> None:
    records = json.loads((DATA / "alpaca_eval" / "annotations.json").read_text())
    twin = dict(records[0], output_1="a different baseline answer", generator_2="other")
    path = tmp_path / "annotations.json"
    path.write_text(json.dumps([*records, twin]))
    with pytest.raises(ValidationError) as err:
        load_bundles([path])
    assert err.value.field == "output_1" and err.value.line is not None


def test_nothing_half_imported(db: Database, tmp_path: Path) -> None:
    """A bad file among good ones: no task from any of them lands."""
    good = DATA / "fastchat" / "clean_battles.jsonl"
    bad = tmp_path / "more.jsonl"
    bad.write_text('{"question_id": 1, "model_a": "x", "model_b": "x", "winner": "tie"}\n')
    with pytest.raises(ValidationError):
        for bundle in load_bundles([good, bad]):
            import_bundle(db, bundle)
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM tasks").fetchall() == [(0,)]


def test_cli_import_community_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from judge_app.cli import main

    db = str(tmp_path / "cli.duckdb")
    assert main(["import", str(DATA / "mt_bench"), "--db", db]) == 0
    assert "mt-bench: task new" in capsys.readouterr().out
    assert main(["import", str(DATA / "trl" / "plain.jsonl"), "--format", "trl", "--task",
                 "hh", "--db", db]) == 0
    assert "hh: task new" in capsys.readouterr().out
    assert main(["import", str(DATA / "trl" / "plain.jsonl"), "--format", "arena-hard",
                 "--db", db]) == 1
    assert "question.jsonl" in capsys.readouterr().err

