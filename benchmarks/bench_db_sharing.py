"""What working through the database owner costs, compared with owning the file.

This process owns the file (as `judge-app serve` does); a second process does the same units
of work through the owner's socket (as a CLI command does while the server runs). Measures a
read unit of work, a one-row write transaction, and a 100k-row bulk insert (DataFrame
registered and inserted in one statement), each locally and through the socket.
Run: .venv/bin/python benchmarks/bench_db_sharing.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pandas as pd

from judge_app.storage.db import Database
from judge_app.storage.frames import registered
from judge_app.storage.schema import open_database

ROOT = Path(__file__).resolve().parents[1]
BULK_ROWS = 100_000


def measure(db: Database, n: int, label: str) -> dict[str, Any]:
    """Time the three kinds of work on ``db`` (local or remote, whichever it is here)."""
    with db.cursor() as cur:
        cur.execute(f"CREATE TABLE IF NOT EXISTS bench_{label} (k BIGINT, v VARCHAR)")
    reads, writes = [], []
    for i in range(n):
        t = time.perf_counter()
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FROM verdicts").fetchone()
        reads.append(time.perf_counter() - t)
        t = time.perf_counter()
        with db.transaction() as cur:
            cur.execute(f"INSERT INTO bench_{label} VALUES (?, ?)", [i, "x"])  # noqa: S608
        writes.append(time.perf_counter() - t)
    frame = pd.DataFrame({"k": range(BULK_ROWS), "v": [f"value {i}" for i in range(BULK_ROWS)]})
    t = time.perf_counter()
    with db.transaction() as cur, registered(cur, "incoming", frame) as view:
        cur.execute(f"INSERT INTO bench_{label} SELECT k, v FROM {view}")  # noqa: S608
    bulk = time.perf_counter() - t
    return {"reads": reads, "writes": writes, "bulk": bulk}


def summary(name: str, r: dict[str, Any]) -> list[str]:
    def p95(xs: list[float]) -> float:
        return sorted(xs)[int(len(xs) * 0.95)]

    ms = 1000
    return [
        f"| {name} | read unit of work | {statistics.median(r['reads']) * ms:.2f} ms | "
        f"{p95(r['reads']) * ms:.2f} ms |",
        f"| {name} | one-row write transaction | {statistics.median(r['writes']) * ms:.2f} ms | "
        f"{p95(r['writes']) * ms:.2f} ms |",
        f"| {name} | bulk insert of {BULK_ROWS:,} rows | {r['bulk'] * ms:.0f} ms | "
        f"{BULK_ROWS / r['bulk']:,.0f} rows/s |",
    ]


def main(n: int = 500) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "share.duckdb"
        db = open_database(path)  # this process owns the file from here on
        local = measure(db, n, "local")
        script = textwrap.dedent(f"""
            import json
            from benchmarks.bench_db_sharing import measure
            from judge_app.storage.schema import open_database
            db = open_database({str(path)!r})
            assert not db.owned_here
            print(json.dumps(measure(db, {n}, "remote")))
        """)
        out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        through = json.loads(out)
        db.close()
    print("| where | what | median | p95 / throughput |")
    print("|---|---|---|---|")
    for line in summary("owner (local)", local) + summary("through the socket", through):
        print(line)


if __name__ == "__main__":
    main()
