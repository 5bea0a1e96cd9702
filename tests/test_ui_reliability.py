"""The reliability model on the Leaderboard and Agreement pages (AppTest, real DuckDB file)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from tests.reliability_sim import crowd_bundle
from tests.ui_helpers import app_test

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

@pytest.fixture
def token(page_db: Database) -> str:
    import_bundle(page_db, crowd_bundle(prompts=12))
    return raters.add_rater(page_db, "boss", admin=True).token


def page(name: str, token: str) -> AppTest:
    return app_test(name, token, timeout=90, analysis_task="crowd").run()


def frames(at: AppTest) -> list:  # type: ignore[type-arg]
    return [e.value for e in at.main if e.type == "dataframe"]


def test_leaderboard_page_offers_the_reliability_model(token: str) -> None:
    at = page("leaderboard", token)
    assert not at.exception
    assert "Rater reliability" not in [s.value for s in at.subheader]  # not the default
    plain_predicted = frames(at)[-1]
    choice = next(s for s in at.selectbox if s.label == "Rating model")
    assert choice.options == ["bradley-terry", "reliability"]
    choice.set_value("reliability").run()
    assert not at.exception and not at.warning
    assert "Rater reliability" in [s.value for s in at.subheader]
    board, rater_table = frames(at)[:2]
    assert board["model"].iloc[0] == "top" and len(board) == 5
    # the predicted win rates come from the same model: a reliable rater's, so more decided
    predicted = frames(at)[-1]
    assert predicted.loc["top", "poor"] > plain_predicted.loc["top", "poor"] + 0.02
    by_rater = rater_table.set_index("rater_id")
    assert by_rater.loc["judge-left", "reliability"] < 0.3
    assert by_rater.loc["judge-left", "guess_left"] > 0.8


def test_leaderboard_page_explains_an_incompatible_choice(token: str) -> None:
    at = page("leaderboard", token)
    next(s for s in at.selectbox if s.label == "Intervals").set_value("bootstrap")
    next(s for s in at.selectbox if s.label == "Rating model").set_value("reliability")
    at.run()
    assert not at.exception
    assert any("drop --ci" in w.value for w in at.warning)


def test_agreement_page_shows_reliability_beside_the_agreement_figures(token: str) -> None:
    at = page("agreement", token)
    assert not at.exception
    quality = frames(at)[-1]
    assert "reliability" not in quality.columns
    next(c for c in at.checkbox if c.label == "Reliability model").check().run()
    assert not at.exception
    quality = frames(at)[-1].set_index("rater_id")
    assert {"reliability", "guess_left", "loo_agreement", "left_share"} <= set(quality.columns)
    assert quality.loc["clicker", "guess_left"] > 0.8
    assert quality.loc["coin", "reliability"] < quality.loc["careful-1", "reliability"]
