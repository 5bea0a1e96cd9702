"""The rater flow under load: next pair and record verdict with 1,000,000 verdicts stored.

Setup: a live task (2,000 prompts x 4 models = 12,000 pairs, overlap 3) and an archive task,
with 1,000,000 verdicts already in the database (judge verdicts on both tasks, 1% of them
retracted), then 50 raters working at once through the service layer, each in its own thread,
each doing ``--rounds`` next_assignment + record_verdict cycles, reading each pair for a
random 0-20 s (mean ``--think`` = 10 s: about five verdicts a second in all).
Reports p50/p95/max of each call; the reference is the same calls with one rater alone.
Run: .venv/bin/python benchmarks/bench_rater_flow.py [--verdicts N] [--raters R] [--postgres]
(--postgres: the same on a throwaway PostgreSQL server, tests/pg_server.py, instead of a
DuckDB file; --db URL: on an existing, empty PostgreSQL database)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.services import queue, raters, sessions
from judge_app.services.imports import import_bundle
from judge_app.services.verdicts import VerdictInput, record_verdict
from judge_app.storage import verdicts as verdict_store
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database

MODELS = ("m-alpha", "m-beta", "m-gamma", "m-delta")


def task(name: str, n_prompts: int, overlap: int) -> TaskBundle:
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"prompt {i} " * 20},))
               for i in range(n_prompts)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"{m} says {i} " * 60},))
               for i in range(n_prompts) for m in MODELS]
    return TaskBundle(TaskConfig(name=name, title=name, overlap=overlap), prompts, outputs)


def fill_verdicts(db: Database, total: int) -> None:
    """Judge verdicts spread over every pair of both tasks; 1% later retracted."""
    with db.cursor() as cur:
        pairs = cur.execute(
            "SELECT pair_id, task_id, prompt_id, output_a, output_b, model_a, model_b FROM pairs"
        ).fetchall()
    rng = random.Random(0)
    now = datetime(2026, 1, 1)
    batch: list[dict[str, object]] = []
    made = 0
    while made < total:
        pair = pairs[made % len(pairs)]
        vid = f"bulk-{made}"
        batch.append({
            "verdict_id": vid, "task_id": pair[1], "pair_id": pair[0], "prompt_id": pair[2],
            # judge names on both sides of the raters' names, so zone maps cannot skip them
            "rater_id": f"{'az'[made % 2]}-judge-{made % 7}", "source": "judge",
            "output_a": pair[3], "output_b": pair[4], "model_a": pair[5], "model_b": pair[6],
            "left_side": "a",
            "outcome": rng.choice(["a", "b", "tie"]), "flagged": False, "created_at": now,
        })
        made += 1
        if made % 100 == 0 and made < total:  # a retraction of the verdict just made
            batch.append({**batch[-1], "verdict_id": f"undo:{vid}", "outcome": None,
                          "retracts": vid})
            made += 1
        if len(batch) >= 200_000:
            with db.transaction() as cur:
                verdict_store.insert_verdicts(cur, batch)
            batch = []
    if batch:
        with db.transaction() as cur:
            verdict_store.insert_verdicts(cur, batch)


def rater_loop(db: Database, rater: str, rounds: int, think: float,
               times: dict[str, list[float]], lock: threading.Lock) -> None:
    rng = random.Random(rater)
    session = sessions.sign_in(db, raters.add_rater(db, rater, tasks=["live"]).token)
    assert session is not None
    mine: dict[str, list[float]] = {"next_assignment": [], "record_verdict": []}
    time.sleep(rng.uniform(0, 2 * think))  # raters arrive over time, not all at once
    for _ in range(rounds):
        t = time.perf_counter()
        pair = queue.next_assignment(db, rater, "live")
        mine["next_assignment"].append(time.perf_counter() - t)
        if pair is None:
            break
        time.sleep(rng.uniform(0, 2 * think))  # reading the pair
        t = time.perf_counter()
        record_verdict(db, session, VerdictInput(pair.assignment_id, "left", uuid.uuid4().hex,
                                                 duration_ms=1000))
        mine["record_verdict"].append(time.perf_counter() - t)
    with lock:
        for key, values in mine.items():
            times[key].extend(values)


def run(db: Database, names: list[str], rounds: int, think: float) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"next_assignment": [], "record_verdict": []}
    lock = threading.Lock()
    threads = [threading.Thread(target=rater_loop, args=(db, n, rounds, think, times, lock))
               for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def summary(label: str, values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return (f"| {label} | {len(ms)} | {statistics.median(ms):.1f} | {p95:.1f} | "
            f"{ms[-1]:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verdicts", type=int, default=1_000_000)
    parser.add_argument("--raters", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--think", type=float, default=10.0, help="mean seconds per pair")
    parser.add_argument("--postgres", action="store_true",
                        help="run on a throwaway PostgreSQL server (Debian's binaries)")
    parser.add_argument("--db", default=None, help="an empty PostgreSQL database's URL")
    args = parser.parse_args()
    server = None
    if args.postgres:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
        from tests import pg_server

        server = pg_server.start()
        args.db = server.new_database("flow")
    try:
        bench(args)
    finally:
        if server is not None:
            server.stop()


def bench(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(args.db or Path(tmp) / "flow.duckdb")
        t = time.perf_counter()
        import_bundle(db, task("live", 2000, 3))
        import_bundle(db, task("archive", 3000, 1))
        fill_verdicts(db, args.verdicts)
        names = [f"rater{i:02d}" for i in range(args.raters)]
        for name in [*names, "solo"]:
            raters.add_rater(db, name, tasks=["live"])
        with db.cursor() as cur:
            stored = cur.execute("SELECT count(*) FROM verdicts").fetchone()
        print(f"setup: {stored[0] if stored else 0:,} verdicts in "
              f"{time.perf_counter() - t:.1f} s")
        alone = run(db, ["solo"], args.rounds * 2, 0.0)
        opens = db.opens
        together = run(db, names, args.rounds, args.think)
        print(f"database file opened {db.opens - opens} times during the run")
        print("| call | raters | n | p50 ms | p95 ms | max ms |")
        print("|---|---|---|---|---|---|")
        for key in ("next_assignment", "record_verdict"):
            print(summary(f"{key} | 1 (reference)", alone[key]))
            print(summary(f"{key} | {args.raters}", together[key]))


if __name__ == "__main__":
    main()
