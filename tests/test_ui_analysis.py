"""The analysis pages with AppTest: an admin sees the figures, a rater is refused."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from tests.analysis_helpers import simulated_bundle
from tests.ui_helpers import app_test

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

@pytest.fixture
def tokens(page_db: Database) -> dict[str, str]:
    db = page_db
    import_bundle(db, simulated_bundle("sim", prompts=12))
    import_bundle(db, simulated_bundle("empty", raters=(), judges=(), prompts=2))
    return {"boss": raters.add_rater(db, "boss", admin=True).token,
            "ann": raters.add_rater(db, "ann2", tasks=["sim"]).token}


def page(name: str, token: str, task: str = "sim") -> AppTest:
    # analysis_task: as if chosen on another analysis page
    return app_test(name, token, analysis_task=task).run()


def elements(at: AppTest, kind: str) -> list:  # type: ignore[type-arg]
    return [e for e in at.main if e.type == kind]


def charts(at: AppTest) -> int:
    return len(elements(at, "vega_lite_chart"))


def table(at: AppTest, index: int = 0):  # type: ignore[no-untyped-def]
    return elements(at, "dataframe")[index].value


def all_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("error", "warning", "info", "caption", "title")
                     for e in getattr(at, kind))


@pytest.mark.parametrize("name", ["leaderboard", "agreement", "bias"])
def test_rater_is_refused(tokens: dict[str, str], name: str) -> None:
    at = page(name, tokens["ann"])
    assert "needs admin rights" in all_text(at)
    assert charts(at) == 0 and not elements(at, "dataframe")


def test_leaderboard_page(tokens: dict[str, str]) -> None:
    at = page("leaderboard", tokens["boss"])
    assert not at.exception
    board = table(at)
    assert board["model"].iloc[0] == "alpha" and len(board) == 4
    assert charts(at) >= 4  # intervals, heatmap, cost, latency
    # the source filter lists what is present; one judge alone still gives a leaderboard
    source = at.selectbox[1]
    assert source.options == ["all", "human", "judge:judge-x"]
    source.set_value("judge:judge-x").run()
    assert not at.exception
    assert table(at)["battles"].sum() == 2 * 12 * 6
    baseline = next(s for s in at.selectbox if s.label == "Win rate against")
    baseline.set_value("gamma").run()
    assert "win_rate" in table(at).columns


def test_leaderboard_page_without_verdicts(tokens: dict[str, str]) -> None:
    at = page("leaderboard", tokens["boss"], task="empty")
    assert not at.exception
    assert "no verdicts" in all_text(at)


def test_agreement_page(tokens: dict[str, str]) -> None:
    at = page("agreement", tokens["boss"])
    assert not at.exception
    labels = {m.label: m.value for m in at.metric}
    assert labels["Pairs rated twice or more"] == "72"
    assert labels["Krippendorff's alpha (nominal)"] != "n/a"
    # people only by default: kappa and rater quality; the judge is named, not tabled
    assert len(elements(at, "dataframe")) == 2
    assert "1 judge(s) rated this task" in all_text(at)
    at.segmented_control[0].set_value("all").run()
    assert len(elements(at, "dataframe")) >= 3  # kappa, judges (two tabs), rater quality
    at.selectbox[0].set_value("empty").run()
    assert {m.label: m.value for m in at.metric}["Krippendorff's alpha (nominal)"] == "n/a"


def test_bias_page(tokens: dict[str, str]) -> None:
    at = page("bias", tokens["boss"])
    assert not at.exception
    assert charts(at) == 2  # position and length; nobody judged a pair twice
    assert "No verdicts this figure can use." in all_text(at)
