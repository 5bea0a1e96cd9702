"""A writer process for the storage stress test: read-modify-write transactions, acked on stdout.

Run as ``python -m tests.stress_writer DB WRITER ROUNDS PER_ROUND``. Each round opens the
database, runs PER_ROUND transactions that read a counter, write counter + 1 and log the new
value, and closes the database again. A line ``ack WRITER SEQ`` is printed (and flushed) only
after the commit returned, so the test knows exactly which writes were acknowledged.
"""

from __future__ import annotations

import random
import sys
import time

from judge_app.errors import JudgeAppError
from judge_app.storage.db import WRITE_CONFLICTS
from judge_app.storage.schema import open_database

SETUP = [
    "CREATE TABLE IF NOT EXISTS stress_counter (id INTEGER PRIMARY KEY, value BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS stress_log (writer VARCHAR NOT NULL, seq INTEGER NOT NULL, "
    "value BIGINT NOT NULL)",
]


def setup(path: str) -> None:
    db = open_database(path)
    with db.transaction() as cur:
        for sql in SETUP:
            cur.execute(sql)
        cur.execute("INSERT INTO stress_counter VALUES (1, 0) ON CONFLICT DO NOTHING")
    db.close()


def main(path: str, writer: str, rounds: int, per_round: int) -> None:
    seq = 0
    db = None
    for _ in range(rounds):
        db = open_database(path)
        for _ in range(per_round):
            seq += 1
            while True:
                try:
                    with db.transaction() as cur:
                        value = cur.execute(
                            "SELECT value FROM stress_counter WHERE id = 1").fetchone()[0]
                        cur.execute("UPDATE stress_counter SET value = ? WHERE id = 1",
                                    [value + 1])
                        cur.execute("INSERT INTO stress_log VALUES (?, ?, ?)",
                                    [writer, seq, value + 1])
                    break
                except WRITE_CONFLICTS:  # another unit of work updated the counter first
                    time.sleep(random.random() * 0.01)
            print(f"ack {writer} {seq}", flush=True)
        db.close()
        time.sleep(random.random() * 0.02)
    if db is not None:  # how often this process had to open the file itself
        print(f"opens {db.opens}", flush=True)


if __name__ == "__main__":
    if sys.argv[2] == "--setup":
        setup(sys.argv[1])
    else:
        try:
            main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
        except JudgeAppError as exc:  # what the CLI would print
            print(f"error: {exc}", file=sys.stderr)
            sys.exit(3)
