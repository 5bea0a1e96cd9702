"""The judge runs page with Streamlit's AppTest: runs table, estimate, judges against people."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.judges.config import parse_config
from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.services.judge_runs import plan_run, run_plan
from judge_app.storage.db import Database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer
from tests.ui_helpers import app_test, shown

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

def page(token: str) -> AppTest:
    return app_test("judge_runs", token)


@pytest.fixture
def admin(page_db: Database) -> str:
    db = page_db
    import_bundle(db, make_bundle("t1", n_prompts=2))
    token = raters.add_rater(db, "boss", admin=True).token
    with FakeOpenAIServer() as server:
        cfg = parse_config({"name": "judge1", "model": "fake", "template": "overall",
                            "base_url": server.base_url})
        run_plan(db, plan_run(db, "t1", cfg))
    return token


def test_runs_are_listed_with_progress(admin: str) -> None:
    at = page(admin).run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["rater_id"]) == ["judge1"] and list(table["status"]) == ["done"]
    assert list(table["progress"]) == [1.0]


def test_estimate_from_a_config_path(admin: str, tmp_path: Path) -> None:
    config = tmp_path / "j.toml"
    config.write_text('name = "judge2"\nmodel = "m"\ntemplate = "overall"\n'
                      'base_url = "http://127.0.0.1:9/v1"\n')
    at = page(admin).run()
    at.text_input(key="judge_run_path").input(str(config))
    next(b for b in at.button if b.label == "Estimate").click()
    at.run()
    assert not at.exception
    assert "6 pairs, 12 calls, 0 cached, 12 to make" in shown(at)


def test_a_bad_config_is_reported(admin: str, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('name = "x"\nmodel = "m"\n')
    at = page(admin).run()
    at.text_input(key="judge_run_path").input(str(config))
    next(b for b in at.button if b.label == "Estimate").click()
    at.run()
    assert "bad.toml" in shown(at) and at.error
