"""Page logic with AppTest: where admins land, where analysis pages open, optional rationale."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.services import queue, raters
from judge_app.services.imports import import_bundle
from judge_app.services.verdicts import JudgeVerdict, record_judge_verdicts
from judge_app.storage.db import Database
from tests.conftest import make_bundle
from tests.ui_helpers import app_test

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

@pytest.fixture
def app_db(page_db: Database) -> tuple[Database, dict[str, str]]:
    db = page_db
    import_bundle(db, make_bundle("a-empty", n_prompts=2, models=("m1", "m2")))
    import_bundle(db, make_bundle("b-judged", n_prompts=2, models=("m1", "m2")))
    import_bundle(db, make_bundle("c-why", n_prompts=3, models=("m1", "m2"),
                                  rationale="optional", rationale_min_length=12))
    with db.cursor() as cur:
        pairs = [r[0] for r in cur.execute(
            "SELECT pair_id FROM pairs WHERE task_id = 'b-judged'").fetchall()]
    record_judge_verdicts(db, [JudgeVerdict("b-judged", p, "judge1", "a", f"j{p}")
                               for p in pairs])
    tokens = {"boss": raters.add_rater(db, "boss", admin=True).token,
              "ann": raters.add_rater(db, "ann", tasks=["c-why"]).token}
    return db, tokens


def app(token: str, page: str | None = None) -> AppTest:
    return app_test(page, token, timeout=30)


def texts(at: AppTest) -> str:
    return " ".join(str(e.value) for e in [*at.markdown, *at.title, *at.subheader, *at.error,
                                           *at.info, *at.caption])


def test_the_admin_lands_on_the_tasks_overview(app_db: tuple[Database, dict[str, str]]) -> None:
    at = app(app_db[1]["boss"]).run()
    assert not at.exception
    assert "Tasks overview" in texts(at)
    assert not any(str(b.key or "").startswith("out_") for b in at.button)
    rater = app(app_db[1]["ann"]).run()  # a rater still lands on the pair page
    assert any(str(b.key or "").startswith("out_") for b in rater.button)


def test_analysis_pages_open_on_the_first_task_with_verdicts(
    app_db: tuple[Database, dict[str, str]],
) -> None:
    at = app(app_db[1]["boss"], "leaderboard").run()
    assert not at.exception
    assert at.selectbox[0].value == "b-judged"


def test_an_optional_rationale_that_is_given_is_held_to_the_minimum(
    app_db: tuple[Database, dict[str, str]],
) -> None:
    db = app_db[0]
    at = app(app_db[1]["ann"]).run()
    assert "if given, at least 12 characters" in at.text_area[0].label
    next(b for b in at.button if str(b.key).startswith("out_left_")).click().run()
    at.text_area[0].input("too short").run()
    next(b for b in at.button if str(b.key).startswith("submit_")).click().run()
    assert "at least 12 characters" in texts(at)
    assert queue.progress(db, "ann", "c-why").done == 0
    at.text_area[0].input("").run()
    next(b for b in at.button if str(b.key).startswith("submit_")).click().run()
    assert queue.progress(db, "ann", "c-why").done == 1
