"""What sharing one DuckDB file between processes costs.

Measures: a unit of work on an already open file; a unit of work that must open the file
(after the idle close); and the hand-over delay a second process sees while the first is
busy with a stream of units of work.
Run: .venv/bin/python benchmarks/bench_db_sharing.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from judge_app.storage import db as dbmod
from judge_app.storage.schema import open_database


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "share.duckdb"
        db = open_database(path)
        with db.cursor() as cur:
            cur.execute("SELECT 1").fetchall()
        warm = []
        for _ in range(2000):
            t = time.perf_counter()
            with db.cursor() as cur:
                cur.execute("SELECT 1").fetchall()
            warm.append(time.perf_counter() - t)
        cold = []
        for _ in range(30):
            time.sleep(dbmod.IDLE_CLOSE_SECONDS * 2)
            t = time.perf_counter()
            with db.cursor() as cur:
                cur.execute("SELECT 1").fetchall()
            cold.append(time.perf_counter() - t)

        # A busy holder (this process) and a second process that needs the file.
        script = textwrap.dedent(f"""
            import time
            from judge_app.storage.db import Database
            db = Database({str(path)!r})
            waits = []
            for _ in range(20):
                t = time.perf_counter()
                with db.cursor() as cur:
                    cur.execute("SELECT 1").fetchall()
                waits.append(time.perf_counter() - t)
                time.sleep(0.05)
            print(" ".join(f"{{w:.4f}}" for w in waits))
        """)
        other = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                                 text=True)
        busy_units = 0
        while other.poll() is None:
            with db.cursor() as cur:
                cur.execute("SELECT count(*) FROM verdicts").fetchall()
            busy_units += 1
        waits = [float(x) for x in (other.stdout.read() if other.stdout else "").split()]

    ms = 1000
    print(f"unit of work, file open:     median {statistics.median(warm) * ms:.3f} ms")
    print(f"unit of work, opening file:  median {statistics.median(cold) * ms:.1f} ms")
    print(f"second process hand-over:    median {statistics.median(waits) * ms:.1f} ms, "
          f"max {max(waits) * ms:.1f} ms (holder ran {busy_units} units meanwhile)")


if __name__ == "__main__":
    main()
