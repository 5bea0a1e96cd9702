"""task.toml: every key validated, unknown keys named with their line; the writer round-trips."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge_app.core.types import OUTCOMES, Criterion, TaskConfig
from judge_app.errors import ValidationError
from judge_app.ingest import load_bundles
from judge_app.ingest.native_writer import task_toml, write_task_folder
from judge_app.ingest.task_format import parse_task_config, read_task_folder
from tests.ingest_helpers import REPO, assert_where, load_error, write_task

FULL = """\
name = "support-bot-v2"
title = "Support answers"
instructions = '''
Pick the **more helpful** answer.
'''
outcomes = ["a", "b", "tie", "both_bad"]
strength = true
rationale = "required"
rationale_min_length = 15
overlap = 3
reveal_models = true
show_reference = true
licence = "CC-BY-4.0"
provenance = "our logs"

[[criteria]]
name = "accuracy"
description = "Facts right?"
outcomes = ["a", "b", "tie"]

[[criteria]]
name = "tone"

[pairing]
design = "baseline"
baseline = "m1"
seed = 7

[quality]
gold_rate = 0.05
retest_rate = 0.1

[scheduling]
mode = "adaptive"
target = "top_k:3"
level = 0.9
"""


def config_of(text: str) -> TaskConfig:
    return parse_task_config(text, "task.toml")


def toml_error(text: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        config_of(text)
    return info.value


def test_full_task_toml() -> None:
    config = config_of(FULL)
    assert config == TaskConfig(
        name="support-bot-v2", title="Support answers",
        instructions="Pick the **more helpful** answer.\n", outcomes=OUTCOMES, strength=True,
        criteria=(Criterion("accuracy", "Facts right?", ("a", "b", "tie")), Criterion("tone")),
        rationale="required", rationale_min_length=15, overlap=3, reveal_models=True,
        show_reference=True, design="baseline", baseline="m1", seed=7, gold_rate=0.05,
        retest_rate=0.1, licence="CC-BY-4.0", provenance="our logs", scheduling="adaptive",
        target="top_k:3", target_level=0.9,
    )


def test_provenance_under_its_old_key_source_is_still_read() -> None:
    """Task files written before the rename say `source = ...` for the provenance."""
    assert config_of(FULL.replace("provenance =", "source =")) == config_of(FULL)
    error = toml_error('name = "x"\nprovenance = "ours"\nsource = "ours"')
    assert error.file == "task.toml" and error.field == "source"
    assert "provenance only" in str(error)


def test_defaults() -> None:
    assert config_of('name = "x"') == TaskConfig(name="x")
    assert parse_task_config("", "task.toml", default_name="folder").name == "folder"


@pytest.mark.parametrize(
    ("old", "new", "field", "line", "message"),
    [
        ('overlap = 3', 'overlap = "3"', "overlap", 10, "expected a whole number"),
        ('overlap = 3', 'overlap = 0', "overlap", 10, "at least one"),
        ('overlap = 3', 'overlap = true', "overlap", 10, "expected a whole number"),
        ('strength = true', 'strength = 1', "strength", 7, "expected true or false"),
        ('strength = true', 'strenght = true', "strenght", 7, "did you mean 'strength'"),
        ('licence = "CC-BY-4.0"', 'license = "x"', "license", 13, "did you mean 'licence'"),
        ('rationale = "required"', 'rationale = "maybe"', "rationale", 8, "off, optional"),
        ('rationale_min_length = 15', 'rationale_min_length = -1', "rationale_min_length", 9,
         "negative"),
        ('"a", "b", "tie", "both_bad"]', '"a", "b", "draw"]', "outcomes", 6, "unknown outcome"),
        ('"a", "b", "tie", "both_bad"]', '"a", "tie"]', "outcomes", 6, "at least outcomes a"),
        ('"a", "b", "tie", "both_bad"]', '"a", "b", "a"]', "outcomes", 6, "listed twice"),
        ('design = "baseline"', 'design = "swiss"', "pairing.design", 25, "all_pairs"),
        ('design = "baseline"', 'desing = "x"', "pairing.desing", 25, "did you mean 'design'"),
        ('baseline = "m1"', '', "pairing.baseline", None, "needs the baseline"),
        ('design = "baseline"', 'design = "all_pairs"', "pairing.baseline", 26,
         "applies only"),
        ('seed = 7', 'seed = 7\nbudget = 10', "pairing.budget", 28, "for design = sampled"),
        ('gold_rate = 0.05', 'gold_rate = 1', "quality.gold_rate", 30, "below 1"),
        ('retest_rate = 0.1', 'retest_rate = -0.1', "quality.retest_rate", 31, "at least 0"),
        ('mode = "adaptive"', 'mode = "smart"', "scheduling.mode", 34, "uniform or adaptive"),
        ('target = "top_k:3"', 'target = "top:3"', "scheduling.target", 35, "unknown target"),
        ('target = "top_k:3"', 'target = "width:-1"', "scheduling.target", 35,
         "positive number"),
        ('level = 0.9', 'level = 1.5', "scheduling.level", 36, "below 1"),
        ('level = 0.9', 'levle = 0.9', "scheduling.levle", 36, "did you mean 'level'"),
        ('name = "tone"', 'name = "accuracy"', "criteria[1].name", 22, "defined twice"),
        ('name = "tone"', 'nam = "tone"', "criteria[1].nam", 22, "unknown key"),
        ('description = "Facts right?"', 'description = 3', "criteria[0].description", 18,
         "expected a string"),
        ('outcomes = ["a", "b", "tie"]', 'outcomes = ["b"]', "criteria[0].outcomes", 19,
         "at least outcomes a"),
        ('name = "support-bot-v2"', 'name = "has space"', "name", 1, "task name"),
        ('name = "support-bot-v2"\n', '', "name", None, "missing required key"),
    ],
)
def test_bad_key(old: str, new: str, field: str, line: int | None, message: str) -> None:
    assert old in FULL
    err = toml_error(FULL.replace(old, new, 1))
    assert (err.file, err.field, err.line) == ("task.toml", field, line), str(err)
    assert message in str(err)


def test_sampled_needs_budget() -> None:
    err = toml_error('name = "x"\n[pairing]\ndesign = "sampled"\n')
    assert err.field == "pairing.budget"
    sampled = config_of('name = "x"\n[pairing]\ndesign = "sampled"\nbudget = 20\nseed = 3\n')
    assert (sampled.design, sampled.budget, sampled.seed) == ("sampled", 20, 3)


def test_invalid_toml_names_the_line() -> None:
    err = toml_error('name = "x"\ntitle = \n')
    assert err.line == 2 and "invalid TOML" in str(err)


def test_tables_must_be_tables() -> None:
    assert toml_error('name = "x"\npairing = 3\n').field == "pairing"
    assert toml_error('name = "x"\ncriteria = ["a"]\n').field == "criteria[0]"


def test_folder_checks(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "t", FULL.replace('baseline = "m1"', 'baseline = "m9"'))
    assert_where(load_error(folder), "task.toml", None, "pairing.baseline")
    (folder / "outputs.jsonl").unlink()
    with pytest.raises(ValidationError, match="missing outputs.jsonl"):
        read_task_folder(folder)
    (folder / "prompts.json").write_text("[]")
    with pytest.raises(ValidationError, match="found both prompts.jsonl and prompts.json"):
        read_task_folder(folder)


def test_name_from_folder_and_override(tmp_path: Path) -> None:
    folder = write_task(tmp_path / "my-task", toml="")
    assert read_task_folder(folder).config.name == "my-task"
    [bundle] = load_bundles([folder / "task.toml"], task_name="renamed")
    assert bundle.config.name == "renamed"
    with pytest.raises(ValidationError, match="invalid task name"):
        load_bundles([folder], task_name="bad name")


def test_docs_example_is_valid(tmp_path: Path) -> None:
    """The complete example in docs/task-format.md loads as it is written."""
    doc = (REPO / "docs" / "task-format.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"```\w+ title=(\S+)\n(.*?)```", doc, flags=re.S))
    assert {"task.toml", "prompts.jsonl", "outputs.jsonl", "gold.jsonl",
            "verdicts.jsonl"} <= set(blocks)
    folder = tmp_path / "support-bot"
    folder.mkdir()
    for name, text in blocks.items():
        (folder / name).write_text(text, encoding="utf-8")
    [bundle] = load_bundles([folder])
    assert bundle.prompts and bundle.outputs and bundle.gold and bundle.verdicts


# ---- writer round trips -------------------------------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
outcome_sets = st.sampled_from([("a", "b"), ("a", "b", "tie"), OUTCOMES, ("a", "b", "both_bad")])
names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@st.composite
def configs(draw: st.DrawFn) -> TaskConfig:
    design = draw(st.sampled_from(["all_pairs", "baseline", "sampled"]))
    rationale = draw(st.sampled_from(["off", "optional", "required"]))
    crit_names = draw(st.lists(texts.filter(str.strip), max_size=3, unique=True))
    return TaskConfig(
        name=draw(names), title=draw(texts),
        instructions=draw(st.one_of(texts, st.just("line 1\n\n- *two*\n'quoted'"))),
        outcomes=draw(outcome_sets), strength=draw(st.booleans()),
        criteria=tuple(Criterion(n, draw(texts), draw(outcome_sets)) for n in crit_names),
        rationale=rationale,
        rationale_min_length=0 if rationale == "off" else draw(st.integers(0, 500)),
        overlap=draw(st.integers(1, 9)), reveal_models=draw(st.booleans()),
        show_reference=draw(st.booleans()), allow_empty_responses=draw(st.booleans()),
        design=design,
        baseline=draw(names) if design == "baseline" else None,
        budget=draw(st.integers(1, 10**6)) if design == "sampled" else None,
        seed=draw(st.integers(0, 2**31)), gold_rate=draw(st.floats(0, 0.99)),
        retest_rate=draw(st.floats(0, 0.99)), licence=draw(texts), provenance=draw(texts),
        scheduling=draw(st.sampled_from(["uniform", "adaptive"])),
        target=draw(st.sampled_from(["ranking", "top_k:2", "baseline:m1", "width:30",
                                     "ranking|width:25"])),
        target_level=draw(st.floats(0.5, 0.999)),
    )


@settings(max_examples=150, deadline=None)
@given(configs())
def test_task_toml_round_trip(config: TaskConfig) -> None:
    assert config_of(task_toml(config)) == config


def test_folder_round_trip(tmp_path: Path) -> None:
    source = write_task(tmp_path / "a", FULL.replace('"m1"', '"m2"'), prompts=[
        {"id": "p1", "prompt": "Say hi.", "category": "c", "reference": "hi", "extra": [1]},
        {"id": "p2", "messages": [{"role": "user", "content": "x"},
                                  {"role": "assistant", "content": "y"},
                                  {"role": "user", "content": "z"}]},
    ], gold=[{"prompt_id": "p1", "model_a": "m1", "model_b": "m2", "outcome": "both_bad"}],
        verdicts=[{"prompt_id": "p2", "model_a": "m2", "model_b": "m1", "outcome": "a",
                   "rater": "r", "strength": 1, "left": "a", "created_at": "2024-01-01"}])
    [bundle] = load_bundles([source])
    write_task_folder(bundle, tmp_path / "b")
    [again] = load_bundles([tmp_path / "b"])
    assert again.config == bundle.config
    assert (again.prompts, again.outputs) == (bundle.prompts, bundle.outputs)
    assert (again.gold, again.verdicts) == (bundle.gold, bundle.verdicts)
