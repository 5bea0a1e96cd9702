"""The next pair read ahead while the rater reads (services.rating.take_ahead): nothing is held
ahead, the vote takes the pair read when it still holds and another when it does not, and
nothing about the queue's guarantees changes (overlap, one verdict per vote, progress, undo,
the end of the task), on DuckDB and PostgreSQL."""

from __future__ import annotations

import itertools

import pytest

from judge_app.services import queue, rating, verdicts
from judge_app.services.imports import import_bundle
from judge_app.services.verdicts import VerdictInput
from judge_app.storage import queue as store_queue
from judge_app.storage.db import Database
from tests.conftest import make_bundle, signed_in

pytestmark = pytest.mark.both_backends


def _count(db: Database, sql: str, *params: object) -> int:
    with db.cursor() as cur:
        return int(cur.execute(sql, list(params)).fetchone()[0])


def _open(db: Database, rater: str) -> int:
    """Assignments the rater holds without a verdict or skip."""
    return _count(db, "SELECT count(*) FROM assignments a WHERE a.rater_id = ? AND NOT EXISTS "
                      "(SELECT 1 FROM verdicts v WHERE v.assignment_id = a.assignment_id)", rater)


def _vote(db: Database, session: str, view: rating.RatingView, ahead: rating.Ahead | None,
          choice: str = "left") -> rating.RatingView:
    assert view.pair is not None
    _, after = rating.submit(db, session, VerdictInput(view.pair.assignment_id, choice, None),
                             ahead=ahead)
    return after


def test_a_vote_takes_the_pair_read_ahead_and_stores_one_verdict(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=4, overlap=1))
    ann = signed_in(db, "ann", tasks=["t1"])
    shown = rating.rating_view(db, ann, "t1")
    ahead = rating.take_ahead(db, ann, shown)
    assert ahead.view.pair is not None and shown.pair is not None
    assert ahead.view.pair.assignment_id != shown.pair.assignment_id
    # Read, not held: a rater who leaves now keeps only the pair on screen from others.
    assert _count(db, "SELECT count(*) FROM assignments WHERE rater_id = 'ann'") == 1
    assert _pair_of(db, rating.take_ahead(db, ann, shown)) == _pair_of(db, ahead)  # same draw
    assert rating.rating_view(db, ann, "t1").pair == shown.pair

    after = _vote(db, ann, shown, ahead)
    assert after is ahead.view  # what the page is already drawing
    assert _count(db, "SELECT count(*) FROM assignments WHERE assignment_id = ?",
                  ahead.view.pair.assignment_id) == 1
    assert after.progress == queue.progress(db, "ann", "t1")
    assert after.progress.done == 1
    # A second Enter on the pair just voted, with the same view read ahead: one verdict,
    # no new assignment, and the page shows the pair read ahead (the rater's open one).
    again = _vote(db, ann, shown, ahead)
    assert again.pair == ahead.view.pair
    assert _count(db, "SELECT count(*) FROM verdicts WHERE rater_id = 'ann'") == 1
    assert _count(db, "SELECT count(*) FROM assignments WHERE rater_id = 'ann'") == 2


def test_a_pair_read_ahead_and_given_to_another_rater_meanwhile_is_not_taken(
        db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=4, overlap=1))
    ann = signed_in(db, "ann", tasks=["t1"])
    shown = rating.rating_view(db, ann, "t1")
    ahead = rating.take_ahead(db, ann, shown)
    assert ahead.view.pair is not None
    pair_id = _pair_of(db, ahead)
    with db.transaction() as cur:  # bob was given that pair while ann read hers
        cur.execute("INSERT INTO assignments (assignment_id, task_id, pair_id, rater_id, "
                    "left_side, purpose) VALUES ('bob-1', 't1', ?, 'bob', 'a', 'normal')",
                    [pair_id])
    after = _vote(db, ann, shown, ahead)
    assert after.pair is not None and after.pair != ahead.view.pair
    assert after.progress == queue.progress(db, "ann", "t1")
    assert _count(db, "SELECT count(*) FROM assignments WHERE pair_id = ?", pair_id) == 1


def test_a_human_verdict_imported_on_the_pair_read_ahead_keeps_its_overlap(
        db: Database) -> None:
    """An import that fills the overlap of the pair read ahead, while the rater reads: the
    vote takes another pair (the pair's imported rows are among what the draw rests on)."""
    import_bundle(db, make_bundle("t1", n_prompts=4, overlap=1))
    ann = signed_in(db, "ann", tasks=["t1"])
    shown = rating.rating_view(db, ann, "t1")
    ahead = rating.take_ahead(db, ann, shown)
    pair_id = _pair_of(db, ahead)
    with db.transaction() as cur:
        cur.execute("INSERT INTO verdicts (verdict_id, task_id, pair_id, prompt_id, rater_id, "
                    "source, output_a, output_b, model_a, model_b, outcome) "
                    "SELECT 'imported-1', task_id, pair_id, prompt_id, 'crowd-1', 'human', "
                    "output_a, output_b, model_a, model_b, 'a' FROM pairs WHERE pair_id = ?",
                    [pair_id])
    after = _vote(db, ann, shown, ahead)
    assert after.pair is not None and after.pair != ahead.view.pair
    assert _count(db, "SELECT count(*) FROM assignments WHERE pair_id = ?", pair_id) == 0


def test_a_pair_taken_by_another_rater_while_the_read_ahead_draws_is_not_taken(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bob is given the pair between the read ahead's draw and its count of the pair's rows:
    the counts must be of the rows the draw saw (one snapshot, also on PostgreSQL, whose
    default isolation reads each statement anew), or the vote takes a pair already full."""
    import_bundle(db, make_bundle("t1", n_prompts=4, overlap=1))
    ann = signed_in(db, "ann", tasks=["t1"])
    shown = rating.rating_view(db, ann, "t1")
    counted = store_queue.draw_marks

    def bob_first(cur: object, row: dict[str, object]) -> tuple[int, int, int]:
        with db.transaction() as other:
            other.execute("INSERT INTO assignments (assignment_id, task_id, pair_id, rater_id, "
                          "left_side, purpose) VALUES ('bob-1', 't1', ?, 'bob', 'a', 'normal')",
                          [row["pair_id"]])
        monkeypatch.setattr(store_queue, "draw_marks", counted)
        return counted(cur, row)

    monkeypatch.setattr(store_queue, "draw_marks", bob_first)
    ahead = rating.take_ahead(db, ann, shown)
    pair_id = _pair_of(db, ahead)
    assert _count(db, "SELECT count(*) FROM assignments WHERE rater_id = 'bob'") == 1
    after = _vote(db, ann, shown, ahead)
    assert after.pair is not None and after.pair != ahead.view.pair
    assert _count(db, "SELECT count(*) FROM assignments WHERE pair_id = ?", pair_id) == 1


def test_work_in_another_tab_while_reading_comes_before_the_pair_read_ahead(
        db: Database) -> None:
    """An undo, or a pair taken, in the rater's other tab after this tab read ahead: the
    vote here gives the pair that other tab left open, not the one read ahead."""
    import_bundle(db, make_bundle("t1", n_prompts=5, overlap=1))
    ann = signed_in(db, "ann", tasks=["t1"])
    first = rating.rating_view(db, ann, "t1")
    second = _vote(db, ann, first, None)
    ahead = rating.take_ahead(db, ann, second)
    assert ahead.peek.new and first.pair is not None
    assert verdicts.undo_last(db, ann, "t1") is not None  # the other tab takes back `first`
    after = _vote(db, ann, second, ahead)
    assert after.pair is not None and after.pair.assignment_id == first.pair.assignment_id
    assert _count(db, "SELECT count(*) FROM assignments WHERE pair_id = ?",
                  _pair_of(db, ahead)) == 0

    ahead = rating.take_ahead(db, ann, after)
    assert after.pair is not None
    verdicts.skip(db, ann, after.pair.assignment_id)  # the other tab skips it, takes the next
    other_tab = rating.rating_view(db, ann, "t1", after_vote=True)
    assert other_tab.pair is not None and other_tab.pair != after.pair
    shown = _vote(db, ann, after, ahead)  # a repeat here: the skip stands
    assert shown.pair is not None
    assert shown.pair.assignment_id == other_tab.pair.assignment_id
    assert _open(db, "ann") == 1


def _pair_of(db: Database, ahead: rating.Ahead) -> str:
    assert ahead.peek.row is not None
    return str(ahead.peek.row["pair_id"])


def test_taking_ahead_keeps_overlap_and_completes_coverage(db: Database) -> None:
    """Three raters, overlap 2, each always reading the next pair ahead: no pair is given to
    more raters than its overlap, and every pair ends with exactly that many verdicts."""
    import_bundle(db, make_bundle("t1", n_prompts=5, overlap=2))
    sessions = {name: signed_in(db, name, tasks=["t1"]) for name in ("ann", "bob", "cy")}
    views = {name: rating.rating_view(db, s, "t1") for name, s in sessions.items()}
    aheads = {name: rating.take_ahead(db, sessions[name], views[name])
              for name in sessions if views[name].pair is not None}
    assert sum(_open(db, name) for name in sessions) == len(aheads)  # nothing held ahead
    for name in itertools.cycle(list(sessions)):
        if all(v.pair is None for v in views.values()):
            break
        view = views[name]
        if view.pair is None:
            continue
        views[name] = _vote(db, sessions[name], view, aheads.pop(name, None))
        if views[name].pair is not None:
            aheads[name] = rating.take_ahead(db, sessions[name], views[name])
    pairs = _count(db, "SELECT count(*) FROM pairs WHERE task_id = 't1'")
    assert _count(db, "SELECT max(n) FROM (SELECT count(*) AS n FROM assignments "
                      "WHERE task_id = 't1' GROUP BY pair_id) AS per_pair") == 2
    assert _count(db, "SELECT count(*) FROM (SELECT pair_id FROM verdicts WHERE task_id = 't1' "
                      "GROUP BY pair_id HAVING count(*) = 2) AS full_pairs") == pairs
    assert _count(db, "SELECT count(*) FROM verdicts WHERE task_id = 't1'") == 2 * pairs
    for name in sessions:
        assert _open(db, name) == 0
        progress = queue.progress(db, name, "t1")
        assert progress.remaining == 0 and progress.done == _count(
            db, "SELECT count(*) FROM verdicts WHERE rater_id = ?", name)


def test_undo_brings_the_pair_back_before_the_one_read_ahead(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=4, overlap=1))
    ann = signed_in(db, "ann", tasks=["t1"])
    first = rating.rating_view(db, ann, "t1")
    second = _vote(db, ann, first, rating.take_ahead(db, ann, first))
    third = rating.take_ahead(db, ann, second)  # read while the rater reads the second
    undone = verdicts.undo_last(db, ann, "t1")
    assert undone is not None and undone.pair_returns
    back = rating.rating_view(db, ann, "t1", after_vote=True)
    assert back.pair is not None and first.pair is not None
    assert back.pair.assignment_id == first.pair.assignment_id
    # After the pair that came back: the one that was on screen, then the one read ahead.
    ahead = rating.take_ahead(db, ann, back)
    assert ahead.view.pair == second.pair and not ahead.peek.new
    shown = _vote(db, ann, back, ahead)
    assert shown.pair == second.pair
    assert _pair_of(db, rating.take_ahead(db, ann, shown)) == _pair_of(db, third)


def test_the_last_pair_has_nothing_read_ahead_and_ends_the_task(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=1, models=("m1", "m2"), overlap=1))
    ann = signed_in(db, "ann", tasks=["t1"])
    only = rating.rating_view(db, ann, "t1")
    ahead = rating.take_ahead(db, ann, only)
    assert ahead.view.pair is None
    done = _vote(db, ann, only, ahead)
    assert done.pair is None and done.progress == queue.progress(db, "ann", "t1")
    assert done.progress.done == 1 and done.progress.remaining == 0


def test_a_signed_out_rater_reads_nothing_ahead(db: Database) -> None:
    from judge_app.errors import SignedOut
    from judge_app.services import sessions

    import_bundle(db, make_bundle("t1", n_prompts=3, overlap=1))
    ann = signed_in(db, "ann", tasks=["t1"])
    shown = rating.rating_view(db, ann, "t1")
    sessions.sign_out(db, ann)
    with pytest.raises(SignedOut):
        rating.take_ahead(db, ann, shown)
    assert _count(db, "SELECT count(*) FROM assignments WHERE rater_id = 'ann'") == 1
