"""Prompts, outputs, gold answers and verdicts of a task folder: file, line and field named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from judge_app.ingest import load_bundles
from tests.ingest_helpers import OUTPUTS, PROMPTS, assert_where, load_error, write_task


def with_change(rows: list[dict], index: int, **change: Any) -> list[dict]:
    """A copy of rows where row ``index`` has fields changed (value None removes the field)."""
    copy = [dict(r) for r in rows]
    for key, value in change.items():
        if value is None:
            copy[index].pop(key, None)
        else:
            copy[index][key] = value
    return copy


def load(folder: Path) -> Any:
    [bundle] = load_bundles([folder])
    return bundle


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"model": None}, "model", "missing required field"),
        ({"model": 7}, "model", "expected a string, found a number"),
        ({"model": " "}, "model", "must not be empty"),
        ({"prompt_id": None}, "prompt_id", "missing required field"),
        ({"prompt_id": 1.5}, "prompt_id", "expected a string or an integer"),
        ({"prompt_id": "nope"}, "prompt_id", "unknown prompt 'nope'"),
        ({"response": None}, "response", "missing required field"),
        ({"response": ""}, "response", "empty response"),
        ({"response": "   \n"}, "response", "empty response"),
        ({"response": {"text": "x"}}, "response", "expected a string or a list"),
        ({"response": []}, "response", "must not be an empty list"),
        ({"response": [{"role": "user", "content": "x"}]}, "response[0].role", "assistant"),
        ({"response": [{"role": "assistant", "content": 3}]}, "response[0].content", "string"),
        ({"response": [{"role": "assistant", "content": ""}]}, "response", "empty response"),
        ({"latency_ms": "fast"}, "latency_ms", "expected a number, found a string"),
        ({"latency_ms": True}, "latency_ms", "expected a number, found a boolean"),
        ({"cost_usd": -1}, "cost_usd", "must not be negative"),
        ({"output_tokens": 1.5}, "output_tokens", "expected a whole number"),
        ({"model_version": 2}, "model_version", "expected a string"),
        ({"metadata": [1]}, "metadata", "expected an object"),
    ],
)
def test_bad_output_field(tmp_path: Path, change: dict, field: str, message: str) -> None:
    folder = write_task(tmp_path / "t", outputs=with_change(OUTPUTS, 2, **change))
    err = load_error(folder)
    assert_where(err, "outputs.jsonl", 3, field)
    assert message in str(err)


def test_duplicate_output(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "t", outputs=[*OUTPUTS, OUTPUTS[1]])
    err = load_error(folder)
    assert_where(err, "outputs.jsonl", 5, "model")
    assert "duplicate output" in str(err) and "line 2" in str(err)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"id": None}, "id", "missing required field"),
        ({"id": ""}, "id", "must not be empty"),
        ({"id": True}, "id", "expected a string or an integer"),
        ({"prompt": None}, "prompt", "missing required field"),
        ({"prompt": ["x"]}, "prompt", "expected a string"),
        ({"prompt": ""}, "prompt", "empty prompt"),
        ({"messages": [{"role": "user", "content": "x"}]}, "messages", "not both"),
        ({"prompt": None, "messages": "hi"}, "messages", "expected a list"),
        ({"prompt": None, "messages": [{"role": "robot", "content": "x"}]},
         "messages[0].role", "role must be"),
        ({"prompt": None, "messages": [{"role": "system", "content": "x"}]},
         "messages", "no user message"),
        ({"prompt": None, "messages": ["hi"]}, "messages[0]", "an object with role"),
        ({"category": 3}, "category", "expected a string"),
        ({"reference": 3}, "reference", "expected a string or null"),
    ],
)
def test_bad_prompt_field(tmp_path: Path, change: dict, field: str, message: str) -> None:
    folder = write_task(tmp_path / "t", prompts=with_change(PROMPTS, 1, **change))
    err = load_error(folder)
    assert_where(err, "prompts.jsonl", 2, field)
    assert message in str(err)


def test_duplicate_prompt_id(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "t", prompts=[*PROMPTS, {"id": "p1", "prompt": "again"}])
    err = load_error(folder)
    assert_where(err, "prompts.jsonl", 3, "id")
    assert "duplicate prompt id 'p1' (first on line 1)" in str(err)


def test_prompt_and_output_fields_are_kept(tmp_path: Path) -> None:
    prompts = [
        {"id": 1, "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "user", "content": "Bye"},
        ], "category": "chat", "reference": "Goodbye", "source": "x", "metadata": {"k": 1}},
    ]
    outputs = [
        {"prompt_id": 1, "model": "m1", "model_version": "v2", "response": "bye",
         "latency_ms": 12, "cost_usd": 0.001, "input_tokens": 30, "output_tokens": 2.0,
         "temperature": 0.2},
        {"prompt_id": "1", "model": "m2", "response": [
            {"role": "assistant", "content": "see you"}, {"role": "assistant", "content": "!"}
        ]},
    ]
    bundle = load(write_task(tmp_path / "t", prompts=prompts, outputs=outputs))
    [prompt] = bundle.prompts
    assert prompt.prompt_id == "1" and len(prompt.messages) == 4
    assert (prompt.category, prompt.reference) == ("chat", "Goodbye")
    assert prompt.metadata == {"source": "x", "k": 1}
    first, second = bundle.outputs
    assert first.response == ({"role": "assistant", "content": "bye"},)
    assert (first.model_version, first.latency_ms, first.cost_usd) == ("v2", 12.0, 0.001)
    assert (first.input_tokens, first.output_tokens) == (30, 2)
    assert first.metadata == {"temperature": 0.2}
    assert len(second.response) == 2 and second.latency_ms is None


def test_empty_response_allowed_when_the_task_says_so(tmp_path: Path) -> None:
    outputs = with_change(OUTPUTS, 0, response="")
    toml = 'name = "t"\nallow_empty_responses = true\n'
    bundle = load(write_task(tmp_path / "t", toml, outputs=outputs))
    assert bundle.outputs[0].response[0]["content"] == ""


# ---- verdicts and gold --------------------------------------------------------------------

VERDICT = {"prompt_id": "p1", "model_a": "m1", "model_b": "m2", "outcome": "a", "rater": "ann"}


def test_verdicts_and_gold_are_read(tmp_path: Path) -> None:
    verdicts = [
        {**VERDICT, "left": "b", "strength": 2, "rationale": "clearer",
         "created_at": "2024-05-01T12:30:00Z"},
        {**VERDICT, "model_a": "m2", "model_b": "m1", "outcome": "tie", "rater": "gpt",
         "source": "judge", "probability": 0.5, "judge_model": "gpt-4o", "raw_answer": "[[C]]"},
    ]
    gold = [{"prompt_id": "p2", "model_a": "m2", "model_b": "m1", "outcome": "a"}]
    bundle = load(write_task(tmp_path / "t", verdicts=verdicts, gold=gold))
    human, judge = bundle.verdicts
    assert (human.left_side, human.strength, human.source) == ("b", 2, "human")
    assert human.created_at == "2024-05-01T12:30:00Z"
    assert (judge.model_a, judge.outcome, judge.probability) == ("m2", "tie", 0.5)
    assert (judge.source, judge.judge_model, judge.raw_answer) == ("judge", "gpt-4o", "[[C]]")
    assert [(g.model_a, g.outcome) for g in bundle.gold] == [("m2", "a")]
    assert any(f.endswith("verdicts.jsonl") for f in bundle.source_files)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"prompt_id": "p9"}, "prompt_id", "unknown prompt"),
        ({"model_b": "m3"}, "model_b", "has no output for prompt"),
        ({"model_b": "m1"}, "model_b", "must differ"),
        ({"outcome": "left"}, "outcome", "expected one of"),
        ({"outcome": None}, "outcome", "missing required field"),
        ({"rater": None}, "rater", "missing required field"),
        ({"source": "robot"}, "source", "expected human or judge"),
        ({"left": "right"}, "left", "expected a"),
        ({"strength": 3}, "strength", "expected 1"),
        ({"strength": True}, "strength", "expected 1"),
        ({"outcome": "tie", "strength": 1}, "strength", "only to outcome a or b"),
        ({"probability": 1.5}, "probability", "between 0 and 1"),
        ({"created_at": "yesterday"}, "created_at", "ISO 8601"),
        ({"rationale": 5}, "rationale", "expected a string"),
        ({"ratr": "x"}, "ratr", "unknown field"),
    ],
)
def test_bad_verdict_field(tmp_path: Path, change: dict, field: str, message: str) -> None:
    verdicts = with_change([VERDICT, {**VERDICT, "rater": "b2"}], 1, **change)
    err = load_error(write_task(tmp_path / "t", verdicts=verdicts))
    assert_where(err, "verdicts.jsonl", 2, field)
    assert message in str(err)


def test_verdict_outcome_must_be_allowed_by_the_task(tmp_path: Path) -> None:
    toml = 'name = "t"\noutcomes = ["a", "b"]\n'
    folder = write_task(tmp_path / "t", toml, verdicts=[{**VERDICT, "outcome": "tie"}])
    err = load_error(folder)
    assert_where(err, "verdicts.jsonl", 1, "outcome")
    assert "not allowed by this task" in str(err)


def test_duplicate_verdict(tmp_path: Path) -> None:
    flipped = {**VERDICT, "model_a": "m2", "model_b": "m1", "outcome": "b"}
    err = load_error(write_task(tmp_path / "t", verdicts=[VERDICT, flipped]))
    assert_where(err, "verdicts.jsonl", 2, "rater")
    assert "duplicate verdict" in str(err)
    # The same rater at another time is a new verdict.
    later = {**flipped, "created_at": "2024-01-02"}
    assert len(load(write_task(tmp_path / "u", verdicts=[VERDICT, later])).verdicts) == 2


def test_bad_gold(tmp_path: Path) -> None:
    gold = [{"prompt_id": "p1", "model_a": "m1", "model_b": "m2", "outcome": "a"},
            {"prompt_id": "p1", "model_a": "m2", "model_b": "m1", "outcome": "b"}]
    assert_where(load_error(write_task(tmp_path / "t", gold=gold)), "gold.jsonl", 2, "model_b")
    bad = [{**gold[0], "outcome": "x"}]
    assert_where(load_error(write_task(tmp_path / "u", gold=bad)), "gold.jsonl", 1, "outcome")
