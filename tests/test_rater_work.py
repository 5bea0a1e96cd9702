"""The work one vote costs on the pair page, counted in database statements (never timed).

A vote's wait is mostly DuckDB statements (each a planned query of a few ms on a busy
machine), so their number is what a regression would change. The page runs under Streamlit's
AppTest on a real DuckDB file; every statement the page sends is counted by wrapping the
cursors it gets (the statements themselves run unchanged). AppTest reruns the whole page on a
click, where the browser reruns only the pair area, so the counts below include the page's
own header work (sign-in check, task list, settings), the same before and after a vote.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.core.pairing import draw_purpose, purposes_in_reach
from judge_app.core.types import TaskConfig
from judge_app.services import queue
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from judge_app.ui.components import lookahead
from tests.conftest import make_bundle, signed_in

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

UI = Path(__file__).resolve().parents[1] / "judge_app" / "ui"
# Measured when this test was written: 18 statements per submit run (5 of them the page's
# header, which the browser does not rerun) and 9 per run after choosing an outcome; a gold or
# re-test draw adds one or two. The code before took 32-37 and 13. Since the next pair is
# read ahead while the rater reads (ui/components/lookahead.py), a submit run sends 15, the
# vote's thread included (which checks that the pair read is still the rater's to take, and
# stores it), whatever the draw, and the reading ahead (off the vote's path) 11-13.
MAX_PER_SUBMIT = 16
MAX_PER_CHOICE = 10
MAX_AHEAD = 14


class _Counting:
    """A cursor that counts what it executes and passes everything through; statements sent
    by the threads that read the next pair ahead, and by the vote's thread, are counted apart."""

    def __init__(self, cur: Any, seen: dict[str, list[str]]) -> None:
        self._cur, self._seen = cur, seen

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        thread = threading.current_thread().name
        text = " ".join(str(sql).split())[:100]
        self._seen[{lookahead.THREAD_NAME: "ahead", lookahead.VOTE_THREAD_NAME: "vote"}.get(
            thread, "page")].append(text)
        if text.startswith("INSERT INTO verdicts"):
            self._seen["verdicts stored by"].append(thread)
        self._cur.execute(sql, *args, **kwargs)
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"page": [], "vote": [], "ahead": [],
                                  "verdicts stored by": []}
    real = Database.cursor

    @contextlib.contextmanager
    def counting(self: Database) -> Iterator[Any]:
        with real(self) as cur:
            yield _Counting(cur, seen)

    monkeypatch.setattr(Database, "cursor", counting)
    return seen


@pytest.fixture(params=[False, True], ids=["plain", "reveal"])
def page(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[AppTest, Database]]:
    path = tmp_path / "work.duckdb"
    monkeypatch.setenv("JUDGE_APP_DB", str(path))
    db = open_database(path)
    import_bundle(db, make_bundle("t1", n_prompts=6, reveal_models=request.param,
                                  retest_rate=0.2, overlap=2))
    signed_in(db, "other", tasks=["t1"])
    session = signed_in(db, "ann", tasks=["t1"])
    at = AppTest.from_file(str(UI / "app.py"), default_timeout=60)
    at.session_state["session"] = session
    yield at.run(), db
    db.close()


def _button(at: AppTest, prefix: str) -> Any:
    return next(b for b in at.button if str(b.key).startswith(prefix))


def _ahead_done(at: AppTest) -> None:
    """Wait for the work the page started reading the next pair ahead."""
    at.session_state[lookahead.KEY].result()


def test_a_vote_costs_a_bounded_number_of_statements(
    page: tuple[AppTest, Database], statements: dict[str, list[str]],
) -> None:
    at, db = page
    per_submit, per_choice, ahead = [], [], []
    for n in range(5):
        shown = _button(at, "out_left_").key
        _ahead_done(at)
        for seen in statements.values():
            seen.clear()
        _button(at, "out_left_").click().run()
        per_choice.append(len(statements["page"]))
        statements["page"].clear()
        _button(at, "submit_").click().run()
        per_submit.append(len(statements["page"]) + len(statements["vote"]))
        assert not at.exception
        assert _button(at, "out_left_").key != shown  # the next pair, drawn in the same run
        # The vote stored its verdict and took the pair read ahead, in a thread of its own
        # while that pair was drawn; reading ahead wrote nothing.
        assert statements["verdicts stored by"] == [lookahead.VOTE_THREAD_NAME]
        taken = [s.startswith("INSERT INTO assignments") for s in statements["vote"]]
        assert sum(taken) == 1 and not any(
            s.startswith("INSERT") for s in statements["page"] + statements["ahead"])
        _ahead_done(at)
        ahead.append(len(statements["ahead"]))
        expected = queue.progress(db, "ann", "t1")
        assert expected.done == n + 1
        assert f"{n + 1} / {expected.total} done" in at.get("progress")[0].proto.text
    assert max(per_submit) <= MAX_PER_SUBMIT, (per_submit, statements)
    assert max(per_choice) <= MAX_PER_CHOICE, (per_choice, statements)
    assert 0 < max(ahead) <= MAX_AHEAD, (ahead, statements)


def test_a_vote_that_fails_while_the_next_pair_is_drawn_shows_its_pair_again(
    page: tuple[AppTest, Database], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The next pair's texts go out while its vote is stored; if storing fails, that pair
    never counts as shown: the pair voted on comes back with the reason, nothing stored."""
    from judge_app.errors import JudgeAppError
    from judge_app.services import rating

    at, db = page
    _button(at, "out_left_").click().run()
    _button(at, "submit_").click().run()
    _ahead_done(at)
    voted = _button(at, "submit_").key
    _button(at, "out_left_").click().run()

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise JudgeAppError("the database is not reachable")

    monkeypatch.setattr(rating, "submit", fails)
    _button(at, "submit_").click().run()
    assert not at.exception
    assert [str(e.value) for e in at.error] == ["the database is not reachable"]
    assert _button(at, "submit_").key == voted
    assert queue.progress(db, "ann", "t1").done == 1


def test_an_undo_forgets_the_pair_read_ahead(page: tuple[AppTest, Database]) -> None:
    """What was read ahead counted the vote an undo takes back: after the undo, the next vote
    shows the progress as it is (in a task that reveals models the pair on screen stays)."""
    at, db = page
    for _ in range(2):
        _button(at, "out_left_").click().run()
        _button(at, "submit_").click().run()
        _ahead_done(at)
    _button(at, "undo_").click().run()
    _ahead_done(at)
    _button(at, "out_left_").click().run()
    _button(at, "submit_").click().run()
    assert not at.exception
    expected = queue.progress(db, "ann", "t1")
    assert f"{expected.done} / {expected.total} done" in at.get("progress")[0].proto.text


@pytest.mark.parametrize("done", range(40))
@pytest.mark.parametrize("rates", [(0.0, 0.0), (0.1, 0.0), (0.0, 0.3), (0.2, 0.2)])
def test_skipped_candidate_lookups_never_change_the_draw(
    done: int, rates: tuple[float, float]
) -> None:
    """The queue looks up gold pairs and re-tests only when the draw can use them (re-tests
    exist only in a task with a re-test rate)."""
    config = TaskConfig(name="t", gold_rate=rates[0], retest_rate=rates[1], seed=3)
    maybe_gold, maybe_retest = purposes_in_reach(config, "ann", done)
    for gold in (False, True):
        for retest in (False, True) if config.retest_rate > 0 else (False,):
            full = draw_purpose(config, "ann", done, gold_available=gold, retest_available=retest)
            looked_up = draw_purpose(config, "ann", done, gold_available=gold and maybe_gold,
                                  retest_available=retest and maybe_retest)
            assert looked_up == full


def test_a_repeated_submit_stores_one_verdict_and_takes_one_next_pair(db: Database) -> None:
    """Double Enter through the one-transaction vote: the second submit finds the first
    verdict, takes no second assignment, and still names the models only of the pair voted."""
    from judge_app.services import rating
    from judge_app.services.verdicts import VerdictInput

    import_bundle(db, make_bundle("t1", n_prompts=4, reveal_models=True, overlap=1))
    session = signed_in(db, "ann", tasks=["t1"])
    first = rating.rating_view(db, session, "t1")
    assert first.pair is not None and first.progress.done == 0
    vote = VerdictInput(first.pair.assignment_id, "left", None)
    named, after = rating.submit(db, session, vote)
    named_again, again = rating.submit(db, session, vote)
    assert after.pair is not None and again.pair is not None
    assert again.pair.assignment_id == after.pair.assignment_id != first.pair.assignment_id
    assert named is not None and named == named_again
    assert named == queue.reveal(db, "ann", first.pair.assignment_id)  # the database's answer
    assert after.progress == again.progress == queue.progress(db, "ann", "t1")
    assert after.progress.done == 1
    with db.cursor() as cur:
        stored = cur.execute("SELECT count(*) FROM verdicts WHERE rater_id = 'ann'").fetchone()
        held = cur.execute("SELECT count(*) FROM assignments WHERE rater_id = 'ann'").fetchone()
    assert stored == (1,) and held == (2,)
    # The next pair's models stay hidden: the view carries texts only.
    assert not {"model_a", "model_b", "pair_id"} & set(vars(after.pair))


def test_the_tab_forgets_the_choices_of_pairs_it_closed(page: tuple[AppTest, Database]) -> None:
    """A rater votes thousands of times in one tab: what the page keeps per assignment (the
    outcome chosen, when it was shown) must not pile up in the tab's session state."""
    at, _ = page
    voted = []
    for _ in range(5):
        voted.append(str(_button(at, "out_left_").key).removeprefix("out_left_"))
        _button(at, "out_left_").click().run()
        _button(at, "submit_").click().run()
        assert not at.exception
    for aid in voted[:-1]:  # the pair just closed is kept: a second Enter repeats its vote
        assert f"choice_{aid}" not in at.session_state
        assert aid not in at.session_state["shown_at"]
    assert f"choice_{voted[-1]}" in at.session_state
    assert len(at.session_state["shown_at"]) <= 2  # that one and the pair now shown
