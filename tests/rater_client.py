"""A process of raters for the multi-server kill test: the rater page's own calls, no browser.

Run as ``python -m tests.rater_client DB TASK SESSION [SESSION ...]``. One thread per rater
session does what the pair page (ui/app_pages/rate.py) does on each vote: services.rating.
rating_view for the pair on screen, then services.rating.submit with the id the page uses
(None: derived from the assignment and its attempt, so a resubmit after a reload is the same
verdict). A line ``ack SESSION VERDICT_ID ASSIGNMENT_ID`` is printed (and flushed) only after
submit returned: the rater saw the next pair, so the vote was acknowledged. Any error (its
server killed) is what a rater sees as a broken page: wait, reload (rating_view), go on.
"""

from __future__ import annotations

import random
import sys
import threading
import time

from judge_app.services.rating import rating_view, submit
from judge_app.services.verdicts import VerdictInput
from judge_app.storage.schema import open_database

CHOICES = ("left", "right", "tie")
_print = threading.Lock()


def say(line: str) -> None:
    with _print:
        print(line, flush=True)


def rater(target: str, task_id: str, session_id: str, seed: int) -> None:
    rng = random.Random(seed)
    db = open_database(target)
    while True:
        try:
            view = rating_view(db, session_id, task_id)
            if view.pair is None:
                say(f"done {session_id}")
                return
            time.sleep(rng.uniform(0.0, 0.05))  # reading the pair
            vote = VerdictInput(view.pair.assignment_id, rng.choice(CHOICES), None)
            _, after = submit(db, session_id, vote)
            say(f"ack {session_id} {vote.assignment_id}")
        except Exception as exc:  # noqa: BLE001 - the page shows it; the rater reloads
            say(f"error {session_id} {type(exc).__name__}")
            time.sleep(0.2)


def main(target: str, task_id: str, sessions: list[str]) -> None:
    threads = [threading.Thread(target=rater, args=(target, task_id, s, i))
               for i, s in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
