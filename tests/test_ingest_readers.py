"""AlpacaEval and PandaLM readers, format detection, and the published PandaLM counts."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from judge_app.errors import ValidationError
from judge_app.ingest import READERS, load_bundles
from judge_app.ingest.alpaca_eval import prompt_id_for
from judge_app.ingest.pandalm import split_models
from tests.conftest import DATA
from tests.ingest_helpers import assert_where, load_error, write_task

PANDALM = DATA / "pandalm" / "testset-v1.json.gz"
ALPACA = DATA / "alpaca_eval_results" / "model_outputs"  # the 50 demo-alpaca instructions


def write_json(path: Path, value: Any) -> Path:
    text = json.dumps(value, indent=1)
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def alpaca_file(path: Path, model: str, instructions: list[str], **extra: Any) -> Path:
    rows = [{"instruction": i, "output": f"{model} on {i}", "generator": model, "dataset": "d",
             **extra} for i in instructions]
    return write_json(path, rows)


def pandalm_item(number: int, cmp_key: str = "m-1_m-2", **change: Any) -> dict[str, Any]:
    item = {"idx": number, "motivation_app": "App", "cmp_key": cmp_key, "instruction": "Do it",
            "input": f"input {number}", "response1": "r1", "response2": "r2",
            "annotator1": 1, "annotator2": 2, "annotator3": 0}
    item.update(change)
    return item


# ---- AlpacaEval ---------------------------------------------------------------------------

def test_alpaca_files_make_one_task(tmp_path: Path) -> None:
    a = alpaca_file(tmp_path / "a.json", "m1", ["x", "y", "z"], price_per_example=0.01)
    b = alpaca_file(tmp_path / "b.json.gz", "m2", ["z", "x"])
    [bundle] = load_bundles([a, b])
    assert bundle.config.name == "alpaca-eval"
    assert len(bundle.prompts) == 3 and len(bundle.outputs) == 5
    assert {p.prompt_id for p in bundle.prompts} == {prompt_id_for(i) for i in "xyz"}
    assert bundle.prompts[0].messages == ({"role": "user", "content": "x"},)
    assert bundle.prompts[0].category == "d"
    assert bundle.outputs[0].metadata == {"price_per_example": 0.01}
    # Another order, another task name: the same prompt ids (re-import is idempotent).
    [again] = load_bundles([b, a], task_name="mine")
    assert again.config.name == "mine"
    assert {p.prompt_id for p in again.prompts} == {p.prompt_id for p in bundle.prompts}


def test_alpaca_generator_from_file_name(tmp_path: Path) -> None:
    folder = tmp_path / "results" / "my-model"
    folder.mkdir(parents=True)
    path = write_json(folder / "model_outputs.json", [{"instruction": "x", "output": "y"}])
    other = write_json(tmp_path / "other-model.json.gz", [{"instruction": "x", "output": "z"}])
    [bundle] = load_bundles([path, other], fmt="alpaca-eval")
    assert [o.model for o in bundle.outputs] == ["my-model", "other-model"]


@pytest.mark.parametrize(
    ("rows", "line", "field", "message"),
    [
        ([{"instruction": "x", "output": "a", "generator": "m"},
          {"instruction": "x", "output": "b", "generator": "m"}], 7, "instruction",
         "duplicate output"),
        ([{"instruction": "x", "output": "a"}, {"instruction": "y", "output": " "}], 6,
         "output", "empty response"),
        ([{"instruction": "x", "output": "a"}, {"instruction": "", "output": "b"}], 6,
         "instruction", "must not be empty"),
        ([{"instruction": "x", "output": "a"}, {"instruction": "y", "output": 3}], 6,
         "output", "expected a string or a list"),
        ([{"instruction": "x", "output": "a"}, {"instruction": "y", "output": "b",
                                                "generator": 1}], 6, "generator", "string"),
    ],
)
def test_alpaca_bad_records(
    tmp_path: Path, rows: list[dict], line: int, field: str, message: str
) -> None:
    err = load_error(write_json(tmp_path / "m.json", rows))
    assert_where(err, "m.json", line, field)
    assert message in str(err)


def test_alpaca_real_outputs() -> None:
    [bundle] = load_bundles([ALPACA])
    assert len(bundle.prompts) == 50 and len(bundle.outputs) == 5 * 50
    assert Counter(o.model for o in bundle.outputs)["gpt4_1106_preview"] == 50


# ---- PandaLM ------------------------------------------------------------------------------

def test_pandalm_counts_and_published_majority() -> None:
    [bundle] = load_bundles([PANDALM])
    assert (len(bundle.prompts), len(bundle.outputs), len(bundle.verdicts)) == (999, 1998, 2997)
    assert len({v.rater_id for v in bundle.verdicts}) == 3
    assert {v.left_side for v in bundle.verdicts} == {"a"}
    assert len({o.model for o in bundle.outputs}) == 5
    labels: dict[str, list[str]] = {}
    for v in bundle.verdicts:
        labels.setdefault(v.prompt_id, []).append(v.outcome)
    majority = Counter(Counter(ls).most_common(1)[0][0] for ls in labels.values())
    assert (majority["tie"], majority["a"], majority["b"]) == (105, 422, 472)


def test_pandalm_reader(tmp_path: Path) -> None:
    items = [pandalm_item(0), pandalm_item(1, "m-1_m_3", input="", response2=True),
             pandalm_item(2, "m-2_m_3", response1="", annotator3=None)]
    [bundle] = load_bundles([write_json(tmp_path / "testset.json", items)])
    assert bundle.config.name == "pandalm" and bundle.config.allow_empty_responses
    assert [p.messages[0]["content"] for p in bundle.prompts] == [
        "Do it\n\ninput 0", "Do it", "Do it\n\ninput 2"]
    assert [(o.prompt_id, o.model) for o in bundle.outputs] == [
        ("0", "m-1"), ("0", "m-2"), ("1", "m-1"), ("1", "m_3"), ("2", "m-2"), ("2", "m_3")]
    assert bundle.outputs[3].response[0]["content"] == "True"
    assert [v.outcome for v in bundle.verdicts[:3]] == ["a", "b", "tie"]
    assert [v.rater_id for v in bundle.verdicts[:3]] == [
        "pandalm-annotator-1", "pandalm-annotator-2", "pandalm-annotator-3"]
    assert len(bundle.verdicts) == 8  # annotator3 did not rate item 2


def test_split_models_learns_names_with_underscores() -> None:
    keys = ["a_b", "a_c_d", "b_c_d", "x_y_z"]
    assert split_models(keys) == {"a_b": ("a", "b"), "a_c_d": ("a", "c_d"),
                                  "b_c_d": ("b", "c_d")}  # x_y_z stays ambiguous


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"annotator2": 3}, "annotator2", "expected 0 (tie)"),
        ({"annotator2": "1"}, "annotator2", "expected 0 (tie)"),
        ({"idx": "7"}, "idx", "integer"),
        ({"idx": 0}, "idx", "duplicate idx 0"),
        ({"cmp_key": "nounderscore"}, "cmp_key", "cannot split"),
        ({"cmp_key": "m-1_m-1"}, "cmp_key", "one model"),
        ({"response2": None}, "response2", "missing required field"),
        ({"response2": 5}, "response2", "expected a string"),
        ({"instruction": " ", "input": ""}, "instruction", "empty prompt"),
    ],
)
def test_pandalm_bad_items(tmp_path: Path, change: dict, field: str, message: str) -> None:
    items = [pandalm_item(0), pandalm_item(1, **change)]
    err = load_error(write_json(tmp_path / "testset.json", items), fmt="pandalm")
    assert_where(err, "testset.json", 14, field)
    assert message in str(err)


# ---- the loader ---------------------------------------------------------------------------

def test_auto_detection(tmp_path: Path) -> None:
    native = write_task(tmp_path / "native")
    alpaca = alpaca_file(tmp_path / "outputs.json", "m1", ["x"])
    panda = write_json(tmp_path / "panda.json", [pandalm_item(0)])
    bundles = load_bundles([native, alpaca, panda])
    assert [b.config.name for b in bundles] == ["t", "alpaca-eval", "pandalm"]


def test_folder_of_files_stands_for_its_files(tmp_path: Path) -> None:
    folder = tmp_path / "model_outputs"
    folder.mkdir()
    alpaca_file(folder / "m1.json.gz", "m1", ["x", "y"])
    alpaca_file(folder / "m2.json", "m2", ["x", "y"])
    (folder / "README.md").write_text("not data")
    for fmt in ("auto", "alpaca-eval"):
        [bundle] = load_bundles([folder], fmt)
        assert len(bundle.outputs) == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValidationError, match="no task.toml and no .json"):
        load_bundles([empty])


def test_unrecognised_input_says_what_is_known(tmp_path: Path) -> None:
    path = write_json(tmp_path / "battles.json", [{"question_id": 1, "winner": "model_a"}])
    err = load_error(path)
    assert_where(err, "battles.json", None, None)
    assert "cannot recognise" in str(err)
    for name in READERS:
        assert f"--format {name}" in str(err)
    csv = tmp_path / "x.csv"
    csv.write_text("a,b\n1,2\n")
    assert "cannot recognise" in str(load_error(csv))


def test_loader_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown format 'csv'") as info:
        load_bundles([tmp_path], fmt="csv")
    assert info.value.field == "--format"
    with pytest.raises(ValidationError, match="no such file"):
        load_bundles([tmp_path / "missing"])
    with pytest.raises(ValidationError, match="at least one"):
        load_bundles([])
    one, two = write_task(tmp_path / "one"), write_task(tmp_path / "two")
    with pytest.raises(ValidationError, match="define the task 't'"):
        load_bundles([one, two])
    with pytest.raises(ValidationError, match="makes 2 tasks"):
        load_bundles([one, two], task_name="x")
    with pytest.raises(ValidationError, match="no task.toml"):
        load_bundles([tmp_path / "one" / "prompts.jsonl"], fmt="native")
