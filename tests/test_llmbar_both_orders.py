"""LLMBar ships a judge's verdict in both orders with no timestamps (GPT-4, Natural set).
Imported as two verdicts per pair, our swap consistency reproduces LLMBar's own figure."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from judge_app.ingest.loader import load_bundles
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import agreement
from judge_app.storage.schema import open_database
from tests.conftest import DATA
from tests.ingest_helpers import write_task

FOLDER = DATA / "llmbar"
JUDGE = "GPT-4"
OUTCOME = {"1": "a", "2": "b"}  # model_a = output_1


def items() -> list[dict[str, Any]]:
    return json.loads(gzip.decompress((FOLDER / "result.json.gz").read_bytes()))


def published(name: str) -> tuple[int, int]:
    text = json.loads((FOLDER / "statistics.json").read_text("utf-8"))[name]
    hits, total = text.split(" = ")[0].split(" / ")
    return int(hits), int(total)


def llmbar_task(folder: Path) -> Path:
    """LLMBar's file as a native task: one prompt per item, its two outputs, the judge's run in
    each order as a verdict with its left side (swap = False showed output_1 first), and the
    label as the known answer."""
    data = items()
    prompts = [{"id": str(i), "prompt": it["input"]} for i, it in enumerate(data)]
    outputs = [{"prompt_id": str(i), "model": m, "response": it[m]}
               for i, it in enumerate(data) for m in ("output_1", "output_2")]
    verdicts = [{"prompt_id": str(i), "model_a": "output_1", "model_b": "output_2",
                 "outcome": OUTCOME[it["results"][-1][f"swap = {swap}"]["winner"]],
                 "rater": JUDGE, "source": "judge", "left": left}
                for i, it in enumerate(data) for swap, left in (("False", "a"), ("True", "b"))]
    gold = [{"prompt_id": str(i), "model_a": "output_1", "model_b": "output_2",
             "outcome": OUTCOME[str(it["label"])]} for i, it in enumerate(data)]
    return write_task(folder, 'name = "llmbar"\noutcomes = ["a", "b"]\n', prompts=prompts,
                      outputs=outputs, verdicts=verdicts, gold=gold)


def test_llmbar_published_figures(tmp_path: Path) -> None:
    [bundle] = load_bundles([llmbar_task(tmp_path / "llmbar")])
    assert len(bundle.verdicts) == 200
    db = open_database(tmp_path / "j.duckdb")
    assert import_bundle(db, bundle).verdicts_new == 200
    report = agreement(db, "llmbar", None)
    swap = report.swap_consistency.set_index("rater_id").loc[JUDGE]
    hits, total = published("equal")  # 95 / 100
    assert (swap["consistent"], swap["n"]) == (hits, total)
    # accuracy against the label: the judge's first verdict on a pair (either order here, as
    # the two carry no time) is right on 95 or 96 of 100, LLMBar's correct_False / correct_True
    quality = report.rater_quality.set_index("rater_id").loc[JUDGE]
    assert quality["gold_accuracy"] in {published(n)[0] / 100
                                        for n in ("correct_False", "correct_True")}
    # position bias per shown order, against a direct count from the file
    left = sum((it["results"][-1]["swap = False"]["winner"] == "1")
               + (it["results"][-1]["swap = True"]["winner"] == "2") for it in items())
    position = report.position_bias.set_index("rater_id").loc[JUDGE]
    assert (position["left_wins"], position["n"]) == (left, 200)
    assert left == 101  # 95 consistent pairs give one each, 3 always-first pairs two each
