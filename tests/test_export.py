"""Exports: aggregation, file formats read back by `datasets`, naming, --force, crash safety."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge_app.cli import main
from judge_app.core.preferences import (
    PreferenceFilters,
    aggregate_pairs,
    select_preferences,
    summarise,
)
from judge_app.errors import JudgeAppError
from judge_app.export import writers
from judge_app.services.exports import ExportRequest, build, default_path, export_task
from judge_app.storage.db import Database
from tests.export_helpers import SECRET, TASK, load_prefs

os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"


pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

def _votes(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    """(pair, rater, outcome, source) tuples as the vote frame storage returns."""
    return pd.DataFrame([{
        "pair_id": p, "prompt_id": p, "model_a": "x", "model_b": "y", "rater_id": r,
        "source": s, "outcome": o, "strength": None, "probability": None,
        "judge_config_hash": None,
    } for p, r, o, s in rows])


# ---- aggregation (pure) -------------------------------------------------------------------

def test_majority_ties_and_splits() -> None:
    agg = aggregate_pairs(_votes([
        ("p1", "h1", "a", "human"), ("p1", "h2", "a", "human"), ("p1", "h3", "b", "human"),
        ("p2", "h1", "tie", "human"), ("p2", "h2", "tie", "human"), ("p2", "h3", "a", "human"),
        ("p3", "h1", "a", "human"), ("p3", "h2", "b", "human"),
        ("p4", "h1", "both_bad", "human"),
        ("p5", "j", "b", "judge"),
    ])).set_index("pair_id")
    assert agg.loc["p1", "majority"] == "a"
    assert agg.loc["p1", "agreement"] == pytest.approx(2 / 3)
    assert agg.loc["p2", "majority"] == "tie"
    assert agg.loc["p3", "majority"] == ""  # split: no majority
    assert agg.loc["p4", "majority"] == "both_bad"
    assert agg.loc["p5", "sources"] == "judge:j"
    chosen = select_preferences(agg.reset_index(), PreferenceFilters())
    assert sorted(chosen["pair_id"]) == ["p1", "p5"]
    assert chosen.set_index("pair_id").loc["p5", "model_chosen"] == "y"
    summary = summarise(agg.reset_index(), PreferenceFilters())
    assert (summary.preferences, summary.ties, summary.both_bad, summary.split) == (2, 1, 1, 1)


def test_min_votes_and_min_agreement() -> None:
    agg = aggregate_pairs(_votes([
        ("p1", "h1", "a", "human"), ("p1", "h2", "a", "human"), ("p1", "h3", "b", "human"),
        ("p2", "h1", "b", "human"), ("p2", "h2", "b", "human"),
        ("p3", "h1", "a", "human"),
    ]))
    pick = lambda **kw: sorted(select_preferences(agg, PreferenceFilters(**kw))["pair_id"])  # noqa: E731
    assert pick() == ["p1", "p2", "p3"]
    assert pick(min_votes=2) == ["p1", "p2"]
    assert pick(min_agreement=0.7) == ["p2", "p3"]
    assert pick(min_votes=2, min_agreement=0.7) == ["p2"]
    summary = summarise(agg, PreferenceFilters(min_votes=2, min_agreement=0.7))
    assert (summary.below_min_votes, summary.below_min_agreement) == (1, 1)
    with pytest.raises(ValueError):
        PreferenceFilters(min_agreement=1.5)


def test_margins_use_the_winning_side() -> None:
    votes = _votes([("p1", "j1", "b", "judge"), ("p1", "j2", "b", "judge")])
    votes["probability"] = [0.2, 0.4]  # P(a better)
    votes["strength"] = [2, 1]
    votes["judge_config_hash"] = ["h2", "h1"]
    row = aggregate_pairs(votes).iloc[0]
    assert row["probability_mean"] == pytest.approx(0.7)
    assert row["strength_mean"] == pytest.approx(1.5)
    assert row["judge_config_hashes"] == "h1,h2"
    assert aggregate_pairs(votes.iloc[0:0]).empty


# ---- formats, read back with `datasets` ---------------------------------------------------

@pytest.fixture
def loaded(db: Database) -> Database:
    load_prefs(db)
    return db


def _load(path: Path) -> object:
    from datasets import load_dataset

    kind = "parquet" if path.suffix == ".parquet" else "json"
    return load_dataset(kind, data_files=str(path), split="train",
                        cache_dir=str(path.parent / ".hf-cache"))


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_trl_formats_load_with_datasets(loaded: Database, tmp_path: Path, suffix: str) -> None:
    for fmt in ("trl", "trl-chat"):
        out = tmp_path / fmt / f"data{suffix}"
        result = export_task(loaded, ExportRequest(TASK, fmt), out)
        ds = _load(result.path)
        assert {"prompt", "chosen", "rejected"} <= set(ds.column_names)  # type: ignore[attr-defined]
        rows = {r["prompt_id"]: r for r in ds}  # type: ignore[attr-defined]
        # q0 m1-m2: m1 (2 of 3 humans); q0 m1-m3: m1 (judge); q4: m3 (judge); multi: m3
        assert len(ds) == 4  # type: ignore[arg-type]
        q4 = rows["q4"]
        assert q4["model_chosen"] == "m3" and q4["margin_probability"] == pytest.approx(0.8)
        assert q4["margin_strength"] == 2 and q4["sources"] == "judge:gpt-judge"
        multi = rows["multi"]
        if fmt == "trl":
            assert multi["chosen"] == "one by m3\n\ntwo by m3"
            assert isinstance(multi["prompt"], str)
        else:
            assert [m["role"] for m in multi["prompt"]] == ["system", "user", "user"]
            assert [m["content"] for m in multi["chosen"]] == ["one by m3", "two by m3"]
            assert multi["rejected"][0] == {"role": "assistant", "content": "one by m2"}
        assert result.card_path == result.path.parent / f"data{suffix}.card.md"
        assert result.card_path.is_file()


def test_kto_and_openai_dpo(loaded: Database, tmp_path: Path) -> None:
    kto = export_task(loaded, ExportRequest(TASK, "kto"), tmp_path / "kto" / "kto.parquet")
    ds = _load(kto.path)
    assert {"prompt", "completion", "label"} <= set(ds.column_names)  # type: ignore[attr-defined]
    assert sorted(ds["label"]) == [False] * 4 + [True] * 4  # type: ignore[index]
    dpo = export_task(loaded, ExportRequest(TASK, "openai-dpo"), tmp_path / "o" / "dpo.jsonl")
    lines = [json.loads(x) for x in dpo.path.read_text().splitlines()]
    assert len(lines) == 4
    assert set(lines[0]) == {"input", "preferred_output", "non_preferred_output"}
    assert lines[0]["input"]["messages"][0]["role"] in ("user", "system")
    assert lines[0]["preferred_output"][0]["role"] == "assistant"
    assert dpo.sidecar_path is not None
    assert len(dpo.sidecar_path.read_text().splitlines()) == 4
    loaded_dpo = _load(dpo.path)
    assert loaded_dpo.column_names == [  # type: ignore[attr-defined]
        "input", "preferred_output", "non_preferred_output"]


def test_both_bad_prompts(loaded: Database) -> None:
    built = build(loaded, ExportRequest(TASK, "trl", both_bad=True))
    assert list(built.table["prompt_id"]) == ["q3"]  # type: ignore[index]


def test_battles_and_verdicts(loaded: Database, tmp_path: Path) -> None:
    battles = export_task(loaded, ExportRequest(TASK, "battles"), tmp_path / "b" / "b.jsonl")
    records = [json.loads(x) for x in battles.path.read_text().splitlines()]
    assert len(records) == 13
    assert set(records[0]) == {"question_id", "model_a", "model_b", "winner", "judge",
                               "conversation_a", "conversation_b", "turn", "tstamp"}
    winners = {r["winner"] for r in records}
    assert winners == {"model_a", "model_b", "tie", "tie (bothbad)"}
    multi = next(r for r in records if r["question_id"] == "multi")
    assert [m["role"] for m in multi["conversation_a"]] == [
        "system", "user", "assistant", "user", "assistant"]
    assert multi["turn"] == 2
    verdicts = export_task(loaded, ExportRequest(TASK, "verdicts"), tmp_path / "v" / "v.parquet")
    frame = pd.read_parquet(verdicts.path)
    assert len(frame) == 13
    assert {"judge_model", "judge_config_hash", "judge_endpoint", "probability"} <= set(frame)
    assert "token_hash" not in frame
    for path in (verdicts.path, verdicts.card_path, battles.path):
        assert SECRET.encode() not in path.read_bytes()
    assert "https://api.example.com/v1" in set(frame["judge_endpoint"].dropna())


def test_card(loaded: Database, tmp_path: Path) -> None:
    result = export_task(loaded, ExportRequest(TASK, "trl", min_votes=1), tmp_path / "c.jsonl")
    text = result.card_path.read_text()
    assert text.startswith("---\nlicense: \"cc-by-4.0\"")
    assert "Exported as chosen/rejected: 4" in text
    assert "1 tie majorities, 1 both-bad majorities, 1 split votes" in text
    assert "`m1`" in text


def test_csv_keeps_nested_values_as_json(loaded: Database, tmp_path: Path) -> None:
    result = export_task(loaded, ExportRequest(TASK, "trl-chat"), tmp_path / "x.csv")
    frame = pd.read_csv(result.path)
    assert json.loads(frame["chosen"][0])[0]["role"] == "assistant"


# ---- naming, --force, crash safety, errors ------------------------------------------------

def test_default_path_is_timestamped_folder() -> None:
    from datetime import datetime

    path = default_path(ExportRequest("t", "trl"), datetime(2026, 1, 2, 3, 4, 5))
    assert path == Path("exports/t-trl-20260102-030405/t-trl.jsonl")


def test_never_overwrites_without_force(loaded: Database, tmp_path: Path) -> None:
    out = tmp_path / "d" / "data.jsonl"
    export_task(loaded, ExportRequest(TASK, "trl"), out)
    before = out.read_bytes()
    with pytest.raises(JudgeAppError, match="--force"):
        export_task(loaded, ExportRequest(TASK, "trl", min_votes=2), out)
    assert out.read_bytes() == before
    export_task(loaded, ExportRequest(TASK, "trl", min_votes=2), out, force=True)
    assert out.read_bytes() != before


def test_crash_leaves_no_partial_file(loaded: Database, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    def half_then_crash(table: object, handle: object) -> None:
        handle.write(b'{"prompt": "half')  # type: ignore[attr-defined]
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(writers._WRITERS, "jsonl", half_then_crash)
    out = tmp_path / "crash" / "data.jsonl"
    with pytest.raises(RuntimeError):
        export_task(loaded, ExportRequest(TASK, "trl"), out)
    assert list(out.parent.iterdir()) == []


def test_errors(loaded: Database, tmp_path: Path) -> None:
    with pytest.raises(JudgeAppError, match="no task"):
        build(loaded, ExportRequest("nope", "trl"))
    with pytest.raises(JudgeAppError, match="preference formats"):
        build(loaded, ExportRequest(TASK, "battles", min_votes=3))
    with pytest.raises(JudgeAppError, match="file type"):
        export_task(loaded, ExportRequest(TASK, "trl"), tmp_path / "x.txt")
    with pytest.raises(JudgeAppError, match="source"):
        build(loaded, ExportRequest(TASK, "trl", source="robots"))


def test_leaderboard(loaded: Database, tmp_path: Path) -> None:
    result = export_task(loaded, ExportRequest(TASK, "leaderboard"), tmp_path / "l.csv")
    board = pd.read_csv(result.path)
    assert sorted(board["model"]) == ["m1", "m2", "m3"]
    assert {"rating", "lower", "upper", "rank"} <= set(board)
    assert "`m1`" in result.card_path.read_text()


def test_source_filter(loaded: Database) -> None:
    human = build(loaded, ExportRequest(TASK, "trl", source="human"))
    judge = build(loaded, ExportRequest(TASK, "trl", source="judge:gpt-judge"))
    assert sorted(human.table["prompt_id"]) == ["multi", "q0"]  # type: ignore[index]
    assert sorted(judge.table["prompt_id"]) == ["q0", "q4"]  # type: ignore[index]
    assert math.isnan(human.info.summary.mean_agreement) is False  # type: ignore[union-attr]


def test_cli_export(loaded: Database, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db_path = loaded.target
    out = tmp_path / "cli" / "trl.parquet"
    assert main(["export", "--task", TASK, "--format", "trl", "--out", str(out),
                 "--db", db_path, "--min-agreement", "0.9"]) == 0
    assert "wrote 3 rows" in capsys.readouterr().out
    assert main(["export", "--task", TASK, "--format", "trl", "--out", str(out),
                 "--db", db_path]) == 1
    assert "--force" in capsys.readouterr().err


@given(st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.sampled_from(
    ["a", "b", "tie", "both_bad"]), st.sampled_from([None, 1, 2]),
    st.one_of(st.none(), st.floats(0, 1))), min_size=1, max_size=30))
@settings(max_examples=60, deadline=None)
def test_aggregation_ignores_which_side_is_a(votes: list[tuple[str, str, int | None,
                                                                float | None]]) -> None:
    """Swapping a and b (outcomes and probabilities flipped) chooses the same answers."""
    frame = pd.DataFrame([{
        "pair_id": p, "prompt_id": p, "model_a": "x", "model_b": "y", "rater_id": f"r{i}",
        "source": "judge" if prob is not None else "human", "outcome": o,
        "strength": s if o in ("a", "b") else None, "probability": prob,
        "judge_config_hash": None,
    } for i, (p, o, s, prob) in enumerate(votes)])
    swapped = frame.assign(
        model_a="y", model_b="x", outcome=frame["outcome"].map(
            {"a": "b", "b": "a", "tie": "tie", "both_bad": "both_bad"}),
        probability=1.0 - frame["probability"],
    )
    keep = ["pair_id", "model_chosen", "model_rejected", "n_votes", "agreement",
            "strength_mean", "probability_mean", "sources"]
    one, two = (select_preferences(aggregate_pairs(f), PreferenceFilters())[keep]
                for f in (frame, swapped))
    pd.testing.assert_frame_equal(one, two, check_exact=False, atol=1e-12)
