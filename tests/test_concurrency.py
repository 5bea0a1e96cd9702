"""Many writers at once, in threads and in processes: nothing lost, nothing doubled."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import pytest

from judge_app.services import queue
from judge_app.services.imports import import_bundle
from judge_app.services.verdicts import (
    JudgeVerdict,
    VerdictInput,
    record_judge_verdicts,
    record_verdict,
)
from judge_app.storage.db import Database
from tests.conftest import make_bundle, signed_in

ROOT = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def _count(db: Database, sql: str = "SELECT count(*) FROM verdicts") -> int:
    with db.cursor() as cur:
        return int(cur.execute(sql).fetchone()[0])


def _at_once(work: Callable[[T], None], args: Iterable[T]) -> list[BaseException]:
    """Run `work` on every argument in its own thread, all at once; what they raised."""
    errors: list[BaseException] = []

    def guarded(arg: T) -> None:
        try:
            work(arg)
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


@pytest.mark.both_backends
def test_16_threads_submit_1000_verdicts_each(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=50, models=("m1", "m2", "m3")))
    with db.cursor() as cur:
        pairs = [r[0] for r in cur.execute("SELECT pair_id FROM pairs").fetchall()]

    def submit(k: int) -> None:
        for start in range(0, 1000, 50):  # 20 submissions of 50 verdicts per thread
            batch = [JudgeVerdict("t1", pairs[(k + i) % len(pairs)], f"judge{k}", "a",
                                  f"t{k}-{i}") for i in range(start, start + 50)]
            record_judge_verdicts(db, batch)
        record_judge_verdicts(db, batch)  # the last batch again: a double submit

    assert _at_once(submit, range(16)) == []
    assert _count(db) == 16_000
    assert _count(db, "SELECT count(DISTINCT verdict_id) FROM verdicts") == 16_000


@pytest.mark.both_backends
def test_raters_voting_at_once_one_by_one(db: Database) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=40, models=("m1", "m2"), overlap=2))
    names = [f"r{k}" for k in range(6)]
    sessions = {name: signed_in(db, name, tasks=["t1"]) for name in names}
    seen: dict[str, list[str]] = {n: [] for n in names}

    def work(name: str) -> None:
        while (item := queue.next_assignment(db, name, "t1")) is not None:
            seen[name].append(item.assignment_id)
            v = VerdictInput(item.assignment_id, "left", uuid.uuid4().hex)
            record_verdict(db, sessions[name], v)
            record_verdict(db, sessions[name], v)  # double click

    assert _at_once(work, names) == []
    assert _count(db) == 80  # 40 pairs x overlap 2, each once
    assert _count(db, "SELECT max(c) FROM (SELECT count(*) c FROM verdicts "
                      "GROUP BY rater_id, pair_id) AS n") == 1
    mine = {a for ids in seen.values() for a in ids}
    assert len(mine) == sum(len(ids) for ids in seen.values())  # nobody got another's item


def test_two_processes_share_the_file(db: Database, tmp_path: Path) -> None:
    """A second process writes while this one imports: it works through this process, which
    owns the file (it never opens the file itself), and nothing is lost."""
    import_bundle(db, make_bundle("t1", n_prompts=5, models=("m1", "m2")))
    with db.cursor() as cur:
        pair = cur.execute("SELECT pair_id FROM pairs LIMIT 1").fetchone()[0]
    assert db.owned_here
    script = textwrap.dedent(f"""
        from judge_app.storage.schema import open_database
        from judge_app.services.verdicts import JudgeVerdict, record_judge_verdicts
        db = open_database({str(db.path)!r})
        for i in range(200):
            record_judge_verdicts(db, [JudgeVerdict("t1", {pair!r}, "other", "b", f"o{{i}}")])
        print("done", db.opens)
    """)
    other = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for n in range(5):
        import_bundle(db, make_bundle(f"mine{n}", n_prompts=200, models=("m1", "m2")))
        record_judge_verdicts(db, [JudgeVerdict("t1", pair, "me", "a", f"m{n}")])
    out, err = other.communicate(timeout=300)
    assert other.returncode == 0, err
    assert out.split() == ["done", "0"]  # it never opened the file
    assert db.opens == 1  # and this process opened it once, and kept it
    assert _count(db, "SELECT count(*) FROM verdicts WHERE rater_id = 'other'") == 200
    assert _count(db, "SELECT count(*) FROM verdicts WHERE rater_id = 'me'") == 5
    assert _count(db, "SELECT count(*) FROM tasks") == 6


def test_a_client_takes_over_when_the_owner_closes(db: Database) -> None:
    """When the owner lets go between units of work, a client's next unit owns the file."""
    import_bundle(db, make_bundle("t1", n_prompts=5, models=("m1", "m2")))
    script = textwrap.dedent(f"""
        import sys, time
        from judge_app.storage.schema import open_database
        db = open_database({str(db.path)!r})
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM tasks").fetchone()
        print("remote", db.owned_here, flush=True)
        sys.stdin.readline()  # the test process closes the file now
        with db.cursor() as cur:
            n = cur.execute("SELECT count(*) FROM tasks").fetchone()[0]
        print("after", db.owned_here, n, db.opens, flush=True)
    """)
    other = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    assert other.stdout is not None and other.stdin is not None
    assert other.stdout.readline().split() == ["remote", "False"]
    db.close()
    other.stdin.write("go\n")
    other.stdin.flush()
    out, err = other.communicate(timeout=300)
    assert other.returncode == 0, err
    assert out.split() == ["after", "True", "1", "1"]


@pytest.mark.both_backends
def test_raters_voting_at_once_through_the_pages_submit(db: Database) -> None:
    """The pair page's path: each vote stores the verdict and takes the next assignment in one
    transaction (services.rating.submit); overlap, one verdict per attempt and own queues hold."""
    from judge_app.services import rating

    import_bundle(db, make_bundle("t1", n_prompts=30, models=("m1", "m2"), overlap=2))
    names = [f"r{k}" for k in range(6)]
    sessions = {name: signed_in(db, name, tasks=["t1"]) for name in names}
    seen: dict[str, list[str]] = {n: [] for n in names}

    def work(name: str) -> None:
        view = rating.rating_view(db, sessions[name], "t1")
        while view.pair is not None:
            seen[name].append(view.pair.assignment_id)
            vote = VerdictInput(view.pair.assignment_id, "left", None)
            _, view = rating.submit(db, sessions[name], vote)
            _, again = rating.submit(db, sessions[name], vote)  # double Enter
            assert again.pair == view.pair

    assert _at_once(work, names) == []
    assert _count(db) == 60  # 30 pairs x overlap 2, each once
    assert _count(db, "SELECT max(c) FROM (SELECT count(*) c FROM assignments "
                      "WHERE purpose = 'normal' GROUP BY pair_id) AS n") == 2
    assert _count(db, "SELECT max(c) FROM (SELECT count(*) c FROM verdicts "
                      "GROUP BY rater_id, pair_id) AS n") == 1
    mine = {a for ids in seen.values() for a in ids}
    assert len(mine) == sum(len(ids) for ids in seen.values())  # nobody got another's item
    with db.cursor() as cur:
        owners = cur.execute("SELECT v.rater_id = a.rater_id FROM verdicts v "
                             "JOIN assignments a USING (assignment_id)").fetchall()
    assert all(row[0] for row in owners)
