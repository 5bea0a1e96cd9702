from __future__ import annotations

import threading
import uuid

import pytest

from judge_app.errors import PermissionDenied, ValidationError
from judge_app.services import queue, raters
from judge_app.services.imports import import_bundle
from judge_app.services.verdicts import VerdictInput, record_verdict, skip, undo_last
from judge_app.storage.db import Database
from tests.conftest import make_bundle, signed_in

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

SESSIONS: dict[str, str] = {}


def setup_task(db: Database, **config: object) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=3, models=("m1", "m2"), **config))
    for name in ("ann", "bob"):
        SESSIONS[name] = signed_in(db, name, tasks=["t1"])


def vote(db: Database, rater: str, assignment_id: str, choice: str = "left") -> dict:
    return record_verdict(db, SESSIONS[rater], VerdictInput(
        assignment_id, choice, uuid.uuid4().hex))  # type: ignore[arg-type]


def test_rater_gets_each_pair_once_and_order_is_stable(db: Database) -> None:
    setup_task(db, overlap=2)
    seen = []
    while (item := queue.next_assignment(db, "ann", "t1")) is not None:
        again = queue.next_assignment(db, "ann", "t1")
        assert again == item  # a rerun shows the same assignment, same sides
        seen.append(item.prompt[0]["content"])
        vote(db, "ann", item.assignment_id)
    assert sorted(seen) == ["question 0", "question 1", "question 2"]
    assert queue.progress(db, "ann", "t1").done == 3


def test_overlap_target_is_honoured(db: Database) -> None:
    setup_task(db, overlap=1)
    got = {"ann": 0, "bob": 0}
    for _ in range(4):
        for r in got:
            item = queue.next_assignment(db, r, "t1")
            if item:
                vote(db, r, item.assignment_id)
                got[r] += 1
    assert sum(got.values()) == 3


def test_double_submit_stores_one_verdict(db: Database) -> None:
    setup_task(db)
    item = queue.next_assignment(db, "ann", "t1")
    assert item
    v = VerdictInput(item.assignment_id, "right", "client-1")
    first, second = record_verdict(db, SESSIONS["ann"], v), record_verdict(db, SESSIONS["ann"], v)
    assert first["verdict_id"] == second["verdict_id"]
    # Another tab with a new client id does not add a second verdict to the same assignment.
    vote(db, "ann", item.assignment_id, "left")
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 1


def test_tabs_sending_different_ids_for_one_assignment_store_one_verdict(db: Database) -> None:
    """Twelve threads submit different verdict ids for one assignment at the same moment (two
    tabs, or the arena's vote twice): one verdict is stored, and every caller gets it."""
    import_bundle(db, make_bundle("t1", n_prompts=3, models=("m1", "m2")))
    session = signed_in(db, "ann", tasks=["t1"])
    item = queue.next_assignment(db, "ann", "t1")
    assert item is not None
    barrier = threading.Barrier(12)
    stored: list[str] = []

    def tab() -> None:
        barrier.wait()
        row = record_verdict(db, session, VerdictInput(item.assignment_id, "left",
                                                       uuid.uuid4().hex))
        stored.append(row["verdict_id"])

    threads = [threading.Thread(target=tab) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(stored) == 12 and len(set(stored)) == 1
    with db.cursor() as cur:
        n = cur.execute("SELECT count(*) FROM verdicts WHERE assignment_id = ?",
                        [item.assignment_id]).fetchone()
    assert n is not None and n[0] == 1


def test_undo_reopens_the_pair(db: Database) -> None:
    setup_task(db)
    item = queue.next_assignment(db, "ann", "t1")
    assert item
    vote(db, "ann", item.assignment_id)
    nxt = queue.next_assignment(db, "ann", "t1")
    assert nxt and nxt.assignment_id != item.assignment_id
    undone = undo_last(db, SESSIONS["ann"], "t1")
    assert undone and undone.verdict["assignment_id"] == item.assignment_id
    assert undone.pair_returns
    assert queue.next_assignment(db, "ann", "t1") == item
    with db.cursor() as cur:
        assert cur.execute("SELECT count(*) FROM active_verdicts").fetchone()[0] == 0
        assert cur.execute("SELECT count(*) FROM verdicts").fetchone()[0] == 2


def test_outcome_is_normalised_from_left_right(db: Database) -> None:
    setup_task(db)
    item = queue.next_assignment(db, "ann", "t1")
    assert item
    row = vote(db, "ann", item.assignment_id, "left")
    assert row["outcome"] == row["left_side"]
    texts = {row["model_a"]: "m1", row["model_b"]: "m2"}
    assert texts == {"m1": "m1", "m2": "m2"}


def test_rules_are_enforced(db: Database) -> None:
    setup_task(db, outcomes=("a", "b"), rationale="required", rationale_min_length=5)
    ann = SESSIONS["ann"]
    item = queue.next_assignment(db, "ann", "t1")
    assert item
    with pytest.raises(PermissionDenied):
        vote(db, "bob", item.assignment_id)
    with pytest.raises(ValidationError, match="does not allow"):
        record_verdict(db, ann, VerdictInput(item.assignment_id, "tie", "c1", rationale="long"))
    with pytest.raises(ValidationError, match="rationale"):
        record_verdict(db, ann, VerdictInput(item.assignment_id, "left", "c2", rationale="no"))
    record_verdict(db, ann, VerdictInput(item.assignment_id, "left", "c3", rationale="clearer"))


def test_skip_moves_on_and_unassigned_rater_is_refused(db: Database) -> None:
    setup_task(db)
    item = queue.next_assignment(db, "ann", "t1")
    assert item
    skip(db, SESSIONS["ann"], item.assignment_id, "s1", flagged=True)
    nxt = queue.next_assignment(db, "ann", "t1")
    assert nxt and nxt.assignment_id != item.assignment_id
    raters.add_rater(db, "eve")
    with pytest.raises(PermissionDenied):
        queue.next_assignment(db, "eve", "t1")


def test_blind_view_has_no_model_names(db: Database) -> None:
    import_bundle(db, make_bundle("t2", n_prompts=1, models=("secret-model-x", "other-model-y")))
    raters.add_rater(db, "ann", tasks=["t2"])
    item = queue.next_assignment(db, "ann", "t2")
    assert item
    shown = repr((item.assignment_id, item.task_id, item.prompt, item.reference))
    assert "secret-model-x" not in shown and "other-model-y" not in shown
    assert {item.left[0]["content"], item.right[0]["content"]} == {
        "answer 0 by secret-model-x", "answer 0 by other-model-yanswer 0 by other-model-y"}
