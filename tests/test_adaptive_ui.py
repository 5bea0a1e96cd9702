"""The admin console shows an adaptive task's target line (AppTest, real DuckDB file)."""

from __future__ import annotations

import dataclasses

import pytest

from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from tests.analysis_helpers import simulated_bundle
from tests.ui_helpers import app_test

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

@pytest.fixture
def token(page_db: Database) -> str:
    db = page_db
    bundle = simulated_bundle("ada", prompts=12)
    bundle.config = dataclasses.replace(bundle.config, scheduling="adaptive",
                                        target="ranking|width:1000")
    import_bundle(db, bundle)
    import_bundle(db, simulated_bundle("uni", prompts=4))
    return raters.add_rater(db, "boss", admin=True).token


def captions(name: str, token: str, task: str) -> str:
    at = app_test(name, token, analysis_task=task)
    at.run()
    if name == "admin_tasks":
        at.selectbox[0].set_value(task).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    return "\n".join(str(c.value) for c in at.caption)


@pytest.mark.parametrize("name", ["leaderboard", "admin_tasks"])
def test_target_line_for_adaptive_tasks_only(token: str, name: str) -> None:
    text = captions(name, token, "ada")
    assert "adaptive scheduling: target met: ranking settled at 95%" in text
    assert "adaptive scheduling" not in captions(name, token, "uni")
