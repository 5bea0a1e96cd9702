"""Page logic with Streamlit's AppTest: login, admin checks, submitting, rationale, undo."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.services import queue, raters
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from tests.ui_helpers import UI, app_test

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ADMIN_PAGES = ["admin_tasks", "admin_raters", "admin_import", "leaderboard", "agreement", "bias",
               "judge_runs", "export"]


def bundle(name: str, **config: object) -> TaskBundle:
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},))
               for i in range(3)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"answer {i}{m[-1]}"},))
               for i in range(3) for m in ("model-x", "model-y")]
    return TaskBundle(TaskConfig(name=name, title=name.upper(), **config),  # type: ignore[arg-type]
                      prompts, outputs)


@pytest.fixture
def app_db(page_db: Database) -> tuple[Database, dict[str, str]]:
    db = page_db
    import_bundle(db, bundle("t1"))
    import_bundle(db, bundle("t2", rationale="required", rationale_min_length=10))
    tokens = {
        "ann": raters.add_rater(db, "ann", tasks=["t1"]).token,
        "rita": raters.add_rater(db, "rita", tasks=["t2"]).token,
        "bob": raters.add_rater(db, "bob", tasks=["t1"]).token,
        "boss": raters.add_rater(db, "boss", admin=True).token,
    }
    raters.set_disabled(db, "bob")
    return db, tokens


def app(token: str | None = None, page: str | None = None) -> AppTest:
    return app_test(page, token, timeout=30)


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("error", "info", "success", "warning", "markdown", "title")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


def button(at: AppTest, prefix: str):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if str(b.key).startswith(prefix))


def test_unknown_token_is_refused(app_db: tuple[Database, dict[str, str]]) -> None:
    at = AppTest.from_file(str(UI / "app.py"), default_timeout=30)
    at.query_params["token"] = "not-a-token"
    at.run()
    assert "not valid" in texts(at)
    assert "token" not in at.session_state


def test_disabled_rater_is_refused(app_db: tuple[Database, dict[str, str]]) -> None:
    at = app(app_db[1]["bob"]).run()
    assert "disabled" in texts(at)
    assert not any(str(b.key or "").startswith("out_") for b in at.button)


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_rater_cannot_open_admin_pages(
    app_db: tuple[Database, dict[str, str]], page: str
) -> None:
    at = app(app_db[1]["ann"], page).run()
    assert "needs admin rights" in texts(at)
    admin = app(app_db[1]["boss"], page).run()
    assert not admin.exception and "needs admin rights" not in texts(admin)


def test_submit_records_a_verdict_and_shows_the_next_pair(
    app_db: tuple[Database, dict[str, str]],
) -> None:
    db, tokens = app_db
    at = app(tokens["ann"]).run()
    first = button(at, "out_left_").key
    button(at, "out_left_").click().run()
    button(at, "submit_").click().run()
    assert not at.exception
    assert queue.progress(db, "ann", "t1").done == 1
    assert button(at, "out_left_").key != first  # the next pair, in the same run
    assert "1 / 3 done" in at.get("progress")[0].proto.text


def test_submit_without_an_outcome_asks_for_one(
    app_db: tuple[Database, dict[str, str]],
) -> None:
    db, tokens = app_db
    at = app(tokens["ann"]).run()
    button(at, "submit_").click().run()
    assert "Choose an outcome" in texts(at)
    assert queue.progress(db, "ann", "t1").done == 0


def test_required_rationale_is_enforced(app_db: tuple[Database, dict[str, str]]) -> None:
    db, tokens = app_db
    at = app(tokens["rita"]).run()
    button(at, "out_right_").click().run()
    at.text_area[0].input("too short").run()
    button(at, "submit_").click().run()
    assert "at least 10 characters" in texts(at)
    assert queue.progress(db, "rita", "t2").done == 0
    at.text_area[0].input("B explains the steps").run()
    button(at, "submit_").click().run()
    assert queue.progress(db, "rita", "t2").done == 1


def test_undo_brings_the_pair_back_and_it_can_be_judged_again(
    app_db: tuple[Database, dict[str, str]],
) -> None:
    db, tokens = app_db
    at = app(tokens["ann"]).run()
    first = button(at, "out_left_").key
    button(at, "out_tie_").click().run()
    button(at, "submit_").click().run()
    button(at, "undo_").click().run()
    assert queue.progress(db, "ann", "t1").done == 0
    assert button(at, "out_left_").key == first
    button(at, "out_left_").click().run()
    button(at, "submit_").click().run()  # a fresh client id after the undo
    assert queue.progress(db, "ann", "t1").done == 1


def test_all_done_state(app_db: tuple[Database, dict[str, str]]) -> None:
    db, tokens = app_db
    at = app(tokens["ann"]).run()
    for _ in range(3):
        button(at, "out_both_bad_").click().run()
        button(at, "submit_").click().run()
    assert "All done" in texts(at)
    assert queue.progress(db, "ann", "t1").done == 3


def test_progress_total_stays_put_after_an_undo(app_db: tuple[Database, dict[str, str]]) -> None:
    db, tokens = app_db
    at = app(tokens["ann"]).run()
    button(at, "out_left_").click().run()
    button(at, "submit_").click().run()
    button(at, "undo_").click().run()
    progress = queue.progress(db, "ann", "t1")
    assert (progress.done, progress.total) == (0, 3)


def test_much_better_is_stored_as_strength_two(
    app_db: tuple[Database, dict[str, str]],
) -> None:
    db, tokens = app_db
    import_bundle(db, bundle("t3", strength=True))
    token = raters.add_rater(db, "sam", tasks=["t3"]).token
    at = app(token).run()
    button(at, "out_right_").click().run()
    button(at, "much_btn_").click().run()
    button(at, "submit_").click().run()
    button(at, "out_tie_").click().run()
    button(at, "submit_").click().run()
    with db.cursor() as cur:
        rows = cur.execute("SELECT raw_choice, strength FROM active_verdicts WHERE rater_id = "
                           "'sam' ORDER BY created_at").fetchall()
    assert rows == [("right", 2), ("tie", None)]
