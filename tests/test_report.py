"""The HTML report: self-contained, escaped, complete; PandaLM's alpha in the demo report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.ingest.loader import load_bundles
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import LeaderboardQuery
from judge_app.services.report import build_report
from judge_app.storage.db import Database
from tests.analysis_helpers import EVIL, simulated_bundle

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]


def assert_self_contained(page: str, charts: bool = True) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert ("<svg" in page) == charts


@pytest.fixture
def report(db: Database) -> str:
    import_bundle(db, simulated_bundle())
    return build_report(db, LeaderboardQuery("sim", baseline="gamma"))


def test_report_is_self_contained_and_complete(report: str) -> None:
    assert_self_contained(report)
    for heading in ("Leaderboard", "Win rates", "Quality against cost and latency",
                    "Agreement", "Rater pairs (Cohen", "Judges against the human majority",
                    "Rater quality", "Position bias", "Length bias"):
        assert f">{heading}" in report
    assert report.count("<svg") >= 6  # intervals, heatmap, cost, latency, two bias charts
    assert "win_rate_se" in report and "cost_front" in report


def test_report_escapes_model_names(report: str) -> None:
    assert EVIL not in report
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report


def test_task_without_verdicts_or_costs(db: Database) -> None:
    bundle = simulated_bundle("quiet", raters=(), judges=(), costs=False)
    import_bundle(db, bundle)
    page = build_report(db, LeaderboardQuery("quiet"))
    assert_self_contained(page, charts=False)
    assert "No verdicts from source &#x27;all&#x27; yet" in page
    assert "Krippendorff's alpha (nominal): <b>n/a</b>" in page


def test_verdicts_without_costs_give_a_sentence(db: Database) -> None:
    import_bundle(db, simulated_bundle("nocost", costs=False))
    page = build_report(db, LeaderboardQuery("nocost"))
    assert "No mean cost recorded" in page and "No mean latency recorded" in page


def test_demo_pandalm_report_shows_alpha(db: Database) -> None:
    for bundle in load_bundles([ROOT / "tasks" / "demo-pandalm"], "native"):
        import_bundle(db, bundle)
    page = build_report(db, LeaderboardQuery("demo-pandalm"))
    assert_self_contained(page)
    assert "alpha (nominal): <b>0.8642</b>" in page
    assert "llama-7b" in page


def test_unknown_task_is_an_error(db: Database) -> None:
    from judge_app.errors import NotFoundError
    import_bundle(db, TaskBundle(TaskConfig(name="t"), [Prompt("q", ())], [Output("q", "m", ())]))
    with pytest.raises(NotFoundError):
        build_report(db, LeaderboardQuery("nope"))
