"""CPU of one group-commit store of judge calls in DuckDB, per way of writing it (issue 13).

Why: the runner's writer (judges/group_commit.py) stores groups of 1-4 answered calls in
autocommit; its thread CPU is most of the DuckDB side of a run's CPU per call. This compares
the current multi-row INSERT ... VALUES with the alternatives, on a real migrated file.

    .venv/bin/python benchmarks/bench_group_store.py [--groups 300]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judge_app.storage import judges as store  # noqa: E402
from judge_app.storage.judges import CALL_COLUMNS  # noqa: E402
from judge_app.storage.schema import open_database  # noqa: E402

NAMES = ", ".join(CALL_COLUMNS)


def row() -> dict[str, Any]:
    return {"call_key": uuid.uuid4().hex, "run_id": "r", "config_hash": "h", "judge_model": "m",
            "judge_endpoint": "e", "task_id": "t", "pair_id": "p", "left_side": "a",
            "raw_answer": "Left is better. " * 5, "raw_choice": "left", "strength": 1.0,
            "probability": 0.7, "parse_error": None, "input_tokens": 100, "output_tokens": 10,
            "usage_estimated": False, "cost_usd": 0.001, "latency_ms": 100.0, "attempts": 1,
            "finish_reason": "stop", "created_at": dt.datetime.now(dt.UTC)}


def ways(cur: Any) -> dict[str, Callable[[list[dict[str, Any]]], None]]:
    one = "(" + ", ".join("?" * len(CALL_COLUMNS)) + ")"

    def arrow(rows: list[dict[str, Any]]) -> None:
        import pyarrow as pa

        cur.register("_group", pa.Table.from_pylist(rows))
        cur.execute(f"INSERT INTO judge_calls ({NAMES}) SELECT {NAMES} FROM _group")  # noqa: S608
        cur.unregister("_group")

    def executemany(rows: list[dict[str, Any]]) -> None:
        cur.executemany(f"INSERT INTO judge_calls ({NAMES}) VALUES {one}",  # noqa: S608
                        [[r.get(c) for c in CALL_COLUMNS] for r in rows])

    def unnest_columns(rows: list[dict[str, Any]]) -> None:
        sel = ", ".join(["unnest(?)"] * len(CALL_COLUMNS))
        cur.execute(f"INSERT INTO judge_calls ({NAMES}) SELECT {sel}",  # noqa: S608
                    [[r.get(c) for r in rows] for c in CALL_COLUMNS])

    def in_transaction_no_commit(rows: list[dict[str, Any]]) -> None:
        values = ", ".join([one] * len(rows))
        cur.execute(f"INSERT INTO judge_calls ({NAMES}) VALUES {values}",  # noqa: S608
                    [r.get(c) for r in rows for c in CALL_COLUMNS])

    return {"values (current: append_calls)": lambda rows: store.append_calls(cur, rows),
            "arrow INSERT SELECT": arrow, "executemany": executemany,
            "unnest columns": unnest_columns,
            "statement only (no commit)": in_transaction_no_commit}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--groups", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.duckdb")
        with db.cursor() as cur:
            for name, store_group in ways(cur).items():
                if name.startswith("statement only"):
                    cur.execute("BEGIN TRANSACTION")
                for n in (1, 2, 4):
                    store_group([row() for _ in range(n)])
                    cpu = time.thread_time()
                    for _ in range(args.groups):
                        store_group([row() for _ in range(n)])
                    ms = (time.thread_time() - cpu) / args.groups * 1000
                    print(f"{name:32s} {n} rows: {ms:.3f} ms CPU/group, {ms / n:.3f} ms/row")
                if name.startswith("statement only"):
                    cur.execute("ROLLBACK")
        db.close()


if __name__ == "__main__":
    main()
