"""The pair page's service calls per vote, in-process: statements and time of each.

One rater votes ``--votes`` times on ``demo-alpaca`` of a demo database (optionally with N judge
verdicts added, as bench_rater_browser.py does), through the calls the pair page makes: per
vote a click on an outcome (the pair area's rerun) and a submit. Every statement is counted and
timed by wrapping the cursors (the statements run unchanged). ``-v`` lists each statement.

To compare with an older version, run that checkout's code with this script:
``PYTHONPATH=/tmp/old .venv/bin/python benchmarks/bench_rater_queries.py`` (the calls of the
code before 2026-12-01, `rating_view` + `client_id` + `record_verdict` + `reveal`, are used
when `rating.submit` does not exist).
``--ahead`` reads each next pair while the rater reads, as the page does since 2026-12-02
(`rating.take_ahead`, timed on its own line), so the submit stores the verdict and takes the
pair read (after one check) instead of drawing it.
Run: .venv/bin/python benchmarks/bench_rater_queries.py [--votes 30] [--verdicts 0] [--ahead] [-v]
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TASK = "demo-alpaca"
COUNTS: collections.Counter[str] = collections.Counter()
SQL_COUNT: collections.Counter[tuple[str, str]] = collections.Counter()
SQL_MS: collections.Counter[tuple[str, str]] = collections.Counter()
LABEL = ["setup"]


class _Counting:
    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        key = (LABEL[0], " ".join(str(sql).split())[:90])
        start = time.perf_counter()
        self._cur.execute(sql, *args, **kwargs)
        SQL_MS[key] += (time.perf_counter() - start) * 1000
        SQL_COUNT[key] += 1
        COUNTS[LABEL[0]] += 1
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--votes", type=int, default=30)
    parser.add_argument("--verdicts", type=int, default=0)
    parser.add_argument("-v", action="store_true", help="list every statement")
    parser.add_argument("--ahead", action="store_true",
                        help="read each next pair ahead while the rater reads, as the page "
                             "does (rating.take_ahead), and submit with it")
    args = parser.parse_args()

    from judge_app.services import queue, raters, rating, sessions, verdicts
    from judge_app.storage.db import Database
    from judge_app.storage.schema import open_database

    real = Database.cursor

    @contextlib.contextmanager
    def counting(self: Database) -> Iterator[Any]:
        with real(self) as cur:
            yield _Counting(cur)

    path = Path(tempfile.mkdtemp()) / "queries.duckdb"
    subprocess.run([sys.executable, "-m", "judge_app.cli", "demo", "--db", str(path)],
                   check=True, capture_output=True)
    if args.verdicts:
        subprocess.run([sys.executable, str(HERE / "bench_rater_browser.py"), "--fill",
                        str(path), str(args.verdicts)], check=True)
    db = open_database(path)
    session = sessions.sign_in(db, raters.add_rater(db, "bench", tasks=[TASK]).token)
    assert session is not None
    Database.cursor = counting  # type: ignore[method-assign]
    times: dict[str, list[float]] = collections.defaultdict(list)

    def timed(label: str, fn: Callable[..., Any], *a: Any, **k: Any) -> Any:
        LABEL[0] = label
        start = time.perf_counter()
        result = fn(*a, **k)
        times[label].append((time.perf_counter() - start) * 1000)
        return result

    new = hasattr(rating, "submit")
    view = timed("first view", rating.rating_view, db, session, TASK)
    votes = 0
    while votes < args.votes and view.pair is not None:
        aid = view.pair.assignment_id
        if new:
            ahead = (timed("while reading: rating.take_ahead", rating.take_ahead, db, session,
                           view) if args.ahead else None)
            timed("outcome click: rating_view", rating.rating_view, db, session, TASK,
                  shown=view)
            _, view = timed("submit: rating.submit", rating.submit, db, session,
                            verdicts.VerdictInput(aid, "left", None), ahead=ahead)
        else:
            timed("outcome click: rating_view", rating.rating_view, db, session, TASK)
            cid = timed("submit: client_id", rating.client_id, db, aid)
            recorded = timed("submit: record_verdict", verdicts.record_verdict, db, session,
                             verdicts.VerdictInput(aid, "left", cid))
            timed("submit: reveal", queue.reveal, db, recorded["rater_id"], aid)
            view = timed("submit: rating_view (next pair)", rating.rating_view, db, session,
                         TASK)
        votes += 1
    print(f"{votes} votes, {args.verdicts:,} extra verdicts, load {os.getloadavg()[0]:.1f}")
    print("| call | statements per call | p50 ms | p95 ms |")
    print("|---|---|---|---|")
    for label, ts in times.items():
        if label == "first view":
            continue
        ts = sorted(ts)
        print(f"| {label} | {COUNTS[label] / len(ts):.1f} | {statistics.median(ts):.1f} | "
              f"{ts[min(len(ts) - 1, int(0.95 * len(ts)))]:.1f} |")
    per_vote = sum(n for label, n in COUNTS.items() if label not in ("first view", "setup"))
    print(f"statements per vote (click + submit): {per_vote / max(votes, 1):.1f}")
    if args.v:
        for (label, sql), n in sorted(SQL_COUNT.items()):
            if label not in ("first view", "setup"):
                print(f"{n / votes:5.1f} x {SQL_MS[(label, sql)] / n:6.2f} ms  {label}: {sql}")


if __name__ == "__main__":
    main()
