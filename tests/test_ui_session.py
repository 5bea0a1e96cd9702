"""Page logic with AppTest: where admins land, where analysis pages open, optional rationale."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.core.types import Criterion
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
    import_bundle(db, make_bundle("d-crit", n_prompts=3, models=("m1", "m2"),
                                  rationale="optional", criteria=(Criterion("accuracy"),)))
    tokens = {"boss": raters.add_rater(db, "boss", admin=True).token,
              "ann": raters.add_rater(db, "ann", tasks=["c-why"]).token,
              "cid": raters.add_rater(db, "cid", tasks=["d-crit"]).token}
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


def test_criteria_rationale_and_flag_are_stored_and_not_carried_to_the_next_pair(
    app_db: tuple[Database, dict[str, str]],
) -> None:
    """The value widgets keep their keys from pair to pair (the browser updates them in
    place): what was given for one pair goes with its verdict and is cleared for the next."""
    db = app_db[0]
    at = app(app_db[1]["cid"]).run()

    def button(prefix: str):  # type: ignore[no-untyped-def]
        return next(b for b in at.button if str(b.key).startswith(prefix))

    first = button("submit_").key
    button("out_left_").click().run()
    at.radio[0].set_value("right").run()
    at.text_area[0].input("B gets the facts right").run()
    at.checkbox[0].check().run()
    button("submit_").click().run()
    assert not at.exception
    assert button("submit_").key != first  # the next pair
    assert (at.radio[0].value, at.text_area[0].value, at.checkbox[0].value) == (None, "", False)
    button("out_right_").click().run()
    button("submit_").click().run()
    with db.cursor() as cur:
        rows = cur.execute("SELECT raw_choice, criteria, rationale, flagged FROM verdicts "
                           "WHERE rater_id = 'cid' ORDER BY created_at").fetchall()
    assert [r[0] for r in rows] == ["left", "right"]
    assert "accuracy" in str(rows[0][1]) and rows[0][2:] == ("B gets the facts right", True)
    assert rows[1][1:] == (None, None, False)
