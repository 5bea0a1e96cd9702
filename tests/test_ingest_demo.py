"""The bundled demo tasks load, have the expected shape, and match the script that built them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from judge_app.ingest import load_bundles
from tests.ingest_helpers import REPO

TASKS = REPO / "tasks"


def test_demo_pandalm() -> None:
    [bundle] = load_bundles([TASKS / "demo-pandalm"])
    assert bundle.config.name == "demo-pandalm"
    assert (len(bundle.prompts), len(bundle.outputs), len(bundle.verdicts)) == (999, 1998, 2997)
    assert {v.rater_id for v in bundle.verdicts} == {
        "pandalm-annotator-1", "pandalm-annotator-2", "pandalm-annotator-3"}
    assert bundle.gold and bundle.config.gold_rate > 0
    assert "Apache-2.0" in bundle.config.licence and "PandaLM" in bundle.config.provenance
    assert "Apache-2.0" in (TASKS / "demo-pandalm" / "SOURCE.md").read_text()


def test_demo_alpaca() -> None:
    [bundle] = load_bundles([TASKS / "demo-alpaca"])
    config = bundle.config
    assert len(bundle.prompts) == 50 and len(bundle.outputs) == 200
    assert len({o.model for o in bundle.outputs}) == 4
    assert all(len({o.model for o in bundle.outputs if o.prompt_id == p.prompt_id}) == 4
               for p in bundle.prompts)
    assert "both_bad" in config.outcomes and config.strength and config.criteria
    assert (config.rationale, config.overlap, config.reveal_models) == ("optional", 2, True)
    assert "CC BY-NC 4.0" in config.licence and "alpaca_eval" in config.provenance
    assert "CC BY-NC 4.0" in (TASKS / "demo-alpaca" / "SOURCE.md").read_text()


def test_demo_tasks_are_reproducible(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_demo_tasks.py"), "--out", str(tmp_path)],
        check=True, capture_output=True,
    )
    for task in ("demo-pandalm", "demo-alpaca", "demo-cost"):
        made = sorted(p.name for p in (tmp_path / task).iterdir())
        assert made == sorted(p.name for p in (TASKS / task).iterdir())
        for name in made:
            assert (tmp_path / task / name).read_bytes() == (TASKS / task / name).read_bytes()
