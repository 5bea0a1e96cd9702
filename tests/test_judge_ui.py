"""The judge runs page with Streamlit's AppTest: runs table, estimate, judges against people."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.judges.config import parse_config
from judge_app.judges.runner import plan_run, run_plan
from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer

PAGE = Path(__file__).resolve().parents[1] / "judge_app" / "ui" / "app_pages" / "judge_runs.py"


def page(token: str) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.session_state["token"] = token
    return at


def shown(at: AppTest) -> str:
    parts = [e.value for kind in ("error", "info", "success", "markdown", "caption")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


@pytest.fixture
def admin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "ui.duckdb"
    monkeypatch.setenv("JUDGE_APP_DB", str(path))
    db = open_database(path)
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
    assert list(table["judge_name"]) == ["judge1"] and list(table["status"]) == ["done"]
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
