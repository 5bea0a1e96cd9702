"""Coverage on the Tasks page: the bundled demo is complete as shipped, and the figure says
what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from judge_app.core.types import ImportedVerdict, Output, Prompt, TaskBundle, TaskConfig
from judge_app.ingest.loader import load_bundles
from judge_app.services.imports import import_bundle
from judge_app.services.overview import coverage_note, task_overview
from judge_app.storage.db import Database

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]


def test_demo_pandalm_is_fully_covered(db: Database) -> None:
    [bundle] = load_bundles([ROOT / "tasks" / "demo-pandalm"], "native")
    assert bundle.config.overlap == 3  # three annotators judged every item
    import_bundle(db, bundle)
    [row] = task_overview(db)
    assert row["coverage"] == 1.0
    assert row["missing"] == f"all {row['pairs']} pairs have 3 or more verdicts"
    assert row["pairs"] + row["gold pairs"] >= 999 - 50


def _task(raters_per_pair: list[int], overlap: int) -> TaskBundle:
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},))
               for i in range(len(raters_per_pair))]
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"{m} {i}"},))
               for i in range(len(raters_per_pair)) for m in ("m1", "m2")]
    verdicts = [ImportedVerdict(f"q{i}", "m1", "m2", "a", f"r{k}")
                for i, n in enumerate(raters_per_pair) for k in range(n)]
    return TaskBundle(TaskConfig(name="short", title="Short", overlap=overlap), prompts,
                      outputs, verdicts)


def test_coverage_names_the_missing_rater(db: Database) -> None:
    import_bundle(db, _task([3] * 12, overlap=4))
    [row] = task_overview(db)
    assert row["coverage"] == 0.0
    assert row["missing"] == ("12 of 12 pairs have 3 of 4 verdicts; 1 more rater per pair "
                              "needed (12 verdicts)")


def test_coverage_note_cases() -> None:
    assert coverage_note({}, 3) == "no pairs to rate"
    assert coverage_note({0: 5}, 2) == ("5 of 5 pairs have 0 of 2 verdicts; 2 more raters per "
                                        "pair needed (10 verdicts)")
    assert coverage_note({0: 1, 2: 3, 4: 6}, 3) == (
        "4 of 10 pairs have fewer than 3 verdicts (0 to 2); 6 more verdicts needed")
    assert coverage_note({1: 1, 3: 1}, 2) == ("1 of 2 pairs have 1 of 2 verdicts; 1 more "
                                              "rater per pair needed (1 verdict)")
