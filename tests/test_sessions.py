"""Browser sessions at the service level: every rater write re-checks the session; undo after
a reveal; an optional rationale that is given meets the minimum length."""

from __future__ import annotations

import uuid

import pytest

from judge_app.errors import PermissionDenied, SignedOut, ValidationError
from judge_app.services import queue, raters, sessions
from judge_app.services.imports import import_bundle
from judge_app.services.rating import rating_view
from judge_app.services.verdicts import VerdictInput, record_verdict, skip, undo_last
from judge_app.storage.db import Database
from tests.conftest import make_bundle, signed_in

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

def count(db: Database, sql: str = "SELECT count(*) FROM verdicts") -> int:
    with db.cursor() as cur:
        return int(cur.execute(sql).fetchone()[0])


def vote(db: Database, session: str, choice: str = "left") -> dict:
    pair = rating_view(db, session, "t1").pair
    assert pair is not None
    return record_verdict(db, session, VerdictInput(pair.assignment_id, choice,  # type: ignore[arg-type]
                                                    uuid.uuid4().hex))


def test_a_session_is_a_hashed_id_not_the_token(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=2, models=("m1", "m2")))
    token = raters.add_rater(db, "ann", tasks=["t1"]).token
    session = sessions.sign_in(db, token)
    assert session and session != token
    assert sessions.rater_of(db, session)["rater_id"] == "ann"  # type: ignore[index]
    with db.cursor() as cur:
        stored = cur.execute("SELECT * FROM rater_sessions").fetchall()
    assert session not in repr(stored) and token not in repr(stored)
    assert sessions.sign_in(db, "not-a-token") is None
    assert sessions.rater_of(db, "not-a-session") is None


@pytest.mark.parametrize("end", ["disable", "new link", "sign out"])
def test_no_write_from_a_session_that_ended(db: Database, end: str) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=4, models=("m1", "m2")))
    session = signed_in(db, "ann", tasks=["t1"])
    vote(db, session)
    pair = rating_view(db, session, "t1").pair
    assert pair is not None
    before = count(db)
    if end == "disable":
        raters.set_disabled(db, "ann")
    elif end == "new link":
        raters.add_rater(db, "ann")
    else:
        sessions.sign_out(db, session)
    assert sessions.rater_of(db, session) is None
    with pytest.raises(SignedOut):
        record_verdict(db, session, VerdictInput(pair.assignment_id, "left", "c1"))
    with pytest.raises(SignedOut):
        skip(db, session, pair.assignment_id, "s1")
    with pytest.raises(SignedOut):
        undo_last(db, session, "t1")
    with pytest.raises(SignedOut):
        rating_view(db, session, "t1")
    assert count(db) == before
    if end == "disable":  # enabling again does not revive the ended session
        raters.set_disabled(db, "ann", False)
        assert sessions.rater_of(db, session) is None


def test_an_expired_session_does_not_count(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=2, models=("m1", "m2")))
    session = signed_in(db, "ann", tasks=["t1"])
    with db.transaction() as cur:
        cur.execute("UPDATE rater_sessions SET expires_at = created_at - INTERVAL '1 second'")
    assert sessions.rater_of(db, session) is None
    with pytest.raises(SignedOut):
        rating_view(db, session, "t1")


def test_another_raters_session_cannot_write_on_my_assignment(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=2, models=("m1", "m2"), overlap=2))
    ann, bob = signed_in(db, "ann", tasks=["t1"]), signed_in(db, "bob", tasks=["t1"])
    pair = rating_view(db, ann, "t1").pair
    assert pair is not None
    with pytest.raises(PermissionDenied, match="belong"):
        record_verdict(db, bob, VerdictInput(pair.assignment_id, "left", "c1"))
    assert count(db) == 0


def test_undo_after_a_reveal_withdraws_the_vote_and_the_pair_stays_closed(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=3, models=("m1", "m2"), reveal_models=True,
                                  retest_rate=0.5))
    session = signed_in(db, "ann", tasks=["t1"])
    first = vote(db, session)
    assert queue.reveal(db, "ann", first["assignment_id"]) is not None
    undone = undo_last(db, session, "t1")
    assert undone and not undone.pair_returns
    assert undo_last(db, session, "t1") is None  # a withdrawal is not undone
    seen = []
    while (pair := rating_view(db, session, "t1").pair) is not None:
        seen.append(pair.assignment_id)
        vote(db, session)
    assert first["assignment_id"] not in seen and len(seen) == 2  # no return, no re-test
    with db.cursor() as cur:
        pairs = cur.execute("SELECT pair_id FROM active_verdicts").fetchall()
    assert first["pair_id"] not in {p for (p,) in pairs} and len(pairs) == 2
    assert queue.progress(db, "ann", "t1").done == 2


def test_undo_without_a_reveal_brings_the_pair_back(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=3, models=("m1", "m2")))
    session = signed_in(db, "ann", tasks=["t1"])
    first = vote(db, session)
    undone = undo_last(db, session, "t1")
    assert undone and undone.pair_returns
    pair = rating_view(db, session, "t1").pair
    assert pair and pair.assignment_id == first["assignment_id"]


def test_an_optional_rationale_that_is_given_meets_the_minimum(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=3, models=("m1", "m2"), rationale="optional",
                                  rationale_min_length=10))
    session = signed_in(db, "ann", tasks=["t1"])
    pair = rating_view(db, session, "t1").pair
    assert pair is not None
    with pytest.raises(ValidationError, match="at least 10"):
        record_verdict(db, session, VerdictInput(pair.assignment_id, "left", "c1",
                                                 rationale="short"))
    record_verdict(db, session, VerdictInput(pair.assignment_id, "left", "c2",
                                             rationale="   "))  # empty is fine
    pair = rating_view(db, session, "t1").pair
    assert pair is not None
    record_verdict(db, session, VerdictInput(pair.assignment_id, "left", "c3",
                                             rationale="A is clearly right"))
    assert count(db) == 2
