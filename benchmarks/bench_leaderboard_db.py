"""Leaderboard end to end from a database: 1,000,000 verdicts among 200 models.

The time covers what `judge-app leaderboard` does after the file is open: the GROUP BY in
DuckDB, counting, the Bradley-Terry fit, sandwich intervals and the ranked table; and the
same with a 1,000-round bootstrap. Battles come from known ratings (Bradley-Terry with ties).
Run: .venv/bin/python benchmarks/bench_leaderboard_db.py [--verdicts N] [--models M]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from judge_app.services.leaderboard import LeaderboardQuery, run_leaderboard
from judge_app.storage.frames import registered
from judge_app.storage.schema import open_database
from judge_app.storage.verdicts import VERDICT_COLUMNS


def simulated_verdicts(n: int, n_models: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, n_models)
    a = rng.integers(0, n_models, n)
    b = (a + rng.integers(1, n_models, n)) % n_models
    first, second = np.minimum(a, b), np.maximum(a, b)
    p = 1 / (1 + np.exp(strength[second] - strength[first]))
    u = rng.random(n)
    outcome = np.where(u < 0.1, "tie", np.where(u < 0.1 + 0.9 * p, "a", "b"))
    names = np.array([f"model-{i:03d}" for i in range(n_models)])
    frame = pd.DataFrame({c: pd.Series([None] * n, dtype="object") for c in VERDICT_COLUMNS})
    frame["verdict_id"] = [f"v{i}" for i in range(n)]
    frame["task_id"] = "bench"
    frame["pair_id"] = [f"p{i % 50_000}" for i in range(n)]
    frame["prompt_id"] = frame["pair_id"]
    frame["rater_id"] = "judge"
    frame["source"] = "judge"
    frame["output_a"], frame["output_b"] = "oa", "ob"
    frame["model_a"], frame["model_b"] = names[first], names[second]
    frame["outcome"] = outcome
    frame["flagged"] = False
    frame["created_at"] = pd.Timestamp("2026-11-28")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verdicts", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.duckdb")
        frame = simulated_verdicts(args.verdicts, args.models)
        with db.transaction() as cur, registered(cur, "incoming", frame):
            cur.execute("INSERT INTO tasks VALUES ('bench', 'bench', '{}', 'x', now())")
            cur.execute(f"INSERT INTO verdicts SELECT {', '.join(VERDICT_COLUMNS)} "
                        "FROM incoming")
        for label, query in (
            ("sandwich", LeaderboardQuery("bench")),
            ("bootstrap 1000", LeaderboardQuery("bench", ci="bootstrap", rounds=1000)),
        ):
            times = []
            for _ in range(3):
                start = time.perf_counter()
                table = run_leaderboard(db, query)
                times.append(time.perf_counter() - start)
            print(f"{label:15} best {min(times):.3f} s  median {sorted(times)[1]:.3f} s  "
                  f"({len(table)} models, {int(table['battles'].sum()) // 2} battles)")


if __name__ == "__main__":
    main()
