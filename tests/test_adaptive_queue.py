"""Adaptive scheduling in the rater queue, on a real DuckDB file with simulated raters."""

from __future__ import annotations

import math
import random
import uuid
from collections import Counter

import pytest

from judge_app.core.types import GoldAnswer, Output, Prompt, TaskBundle, TaskConfig
from judge_app.services import adaptive, queue
from judge_app.services.imports import import_bundle
from judge_app.services.verdicts import VerdictInput, record_verdict
from judge_app.storage import queue as queue_store
from judge_app.storage.db import Database
from tests.conftest import signed_in

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

RATERS = ("ann", "bob", "cid", "dee")


def _bundle(strengths: dict[str, float], **config: object) -> TaskBundle:
    # 24 prompts: 16 "code", 8 "chat" (a 2:1 mix every model pair should keep).
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},),
                      category="code" if i % 3 else "chat") for i in range(24)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"answer {i} by {m}"},))
               for i in range(24) for m in strengths]
    gold = [GoldAnswer("q0", "m1", "m2", "a"), GoldAnswer("q1", "m1", "m3", "a")]
    return TaskBundle(TaskConfig(name="t", **config), prompts, outputs,  # type: ignore[arg-type]
                      gold=gold, source_files=["t/outputs.jsonl"])


def _run_votes(db: Database, strengths: dict[str, float], sessions: dict[str, str],
               votes: int, seed: int = 0) -> tuple[list[dict], bool]:
    """Raters take turns; each votes by the true strengths. Returns the assignments voted
    and whether the queue ran dry (None for every rater)."""
    rng = random.Random(seed)
    voted: list[dict] = []
    while len(voted) < votes:
        progress = False
        for rater in RATERS:
            item = queue.next_assignment(db, rater, "t")
            if item is None:
                continue
            progress = True
            with db.cursor() as cur:
                row = queue_store.assignment_with_pair(cur, item.assignment_id)
            assert row is not None
            d = strengths[row["model_a"]] - strengths[row["model_b"]]
            winner = "a" if rng.random() < 1 / (1 + math.exp(-d)) else "b"
            choice = "left" if winner == row["left_side"] else "right"
            record_verdict(db, sessions[rater], VerdictInput(
                item.assignment_id, choice, uuid.uuid4().hex))  # type: ignore[arg-type]
            voted.append(row)
        if not progress:
            return voted, True
    return voted, False


@pytest.fixture(autouse=True)
def _fresh_fit_cache() -> None:
    adaptive.forget("t")


def _setup(db: Database, strengths: dict[str, float], **config: object) -> dict[str, str]:
    import_bundle(db, _bundle(strengths, **config))
    return {r: signed_in(db, r, tasks=["t"]) for r in RATERS}


def _close_share(voted: list[dict]) -> float:
    regular = [r for r in voted if r["purpose"] == "normal"]
    return sum((r["model_a"], r["model_b"]) == ("m3", "m4") for r in regular) / len(regular)


STRENGTHS = {"m1": 3.0, "m2": 1.5, "m3": 0.2, "m4": 0.0}  # m3 and m4 are the close call


def test_adaptive_queue_sends_votes_to_the_open_comparison(db: Database) -> None:
    sessions = _setup(db, STRENGTHS, overlap=4, scheduling="adaptive", gold_rate=0.05,
                      retest_rate=0.05)
    voted, dry = _run_votes(db, STRENGTHS, sessions, 100)
    assert not dry
    # Uniform would give m3-m4 one vote in six; adaptive gives it far more.
    assert _close_share(voted[30:]) > 0.4
    # Honest coverage: every model pair keeps the task's 2:1 mix of code and chat prompts.
    with db.cursor() as cur:
        cats = dict(cur.execute("SELECT pair_id, pr.category FROM pairs p JOIN prompts pr "
                                "USING (task_id, prompt_id)").fetchall())
    # (Re-tests repeat regular pairs and count; gold pairs are fixed items and do not.)
    chosen = [r for r in voted if r["purpose"] != "gold"]
    by_pair = Counter((r["model_a"], r["model_b"], cats[r["pair_id"]]) for r in chosen)
    regular = [r for r in voted if r["purpose"] == "normal"]
    for a, b in {(r["model_a"], r["model_b"]) for r in chosen}:
        code, chat = by_pair[(a, b, "code")], by_pair[(a, b, "chat")]
        if code + chat >= 9:
            assert abs(code / (code + chat) - 2 / 3) <= 0.1, (a, b, code, chat)
    # Left/right stays randomised, and gold pairs and swapped re-tests stay in the queue.
    left_a = sum(r["left_side"] == "a" for r in regular) / len(regular)
    assert 0.35 <= left_a <= 0.65
    kinds = Counter(r["purpose"] for r in voted)
    assert kinds["gold"] >= 1 and kinds["retest"] >= 3


def test_uniform_queue_is_unchanged(db: Database) -> None:
    sessions = _setup(db, STRENGTHS, overlap=4)
    voted, _ = _run_votes(db, STRENGTHS, sessions, 60)
    assert 0.1 <= _close_share(voted) <= 0.25


def test_queue_stops_when_the_target_is_met(db: Database) -> None:
    far = {"m1": 4.0, "m2": 2.0, "m3": 0.0}
    sessions = _setup(db, far, overlap=4, scheduling="adaptive", target="ranking")
    voted, dry = _run_votes(db, far, sessions, 10_000)
    assert dry  # nobody is given a pair any more ...
    assert len(voted) < 24 * 3 * 4  # ... long before every pair had its 4 raters
    status = adaptive.progress(db, "t", source="human")
    assert status.met and status.message.startswith("target met")
    assert queue.progress(db, "ann", "t").remaining == 0
