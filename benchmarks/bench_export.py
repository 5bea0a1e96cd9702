"""Export speed: 1,000,000 verdicts to Parquet through `judge-app export --format verdicts`.

Run: .venv/bin/python benchmarks/bench_export.py [--verdicts N]
The verdicts are generated as one DataFrame and inserted in one statement (the bulk path).
Reference in the same run: DuckDB's own COPY ... TO 'file.parquet' of the same rows. Best of 3.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.services.exports import ExportRequest, export_task
from judge_app.services.imports import import_bundle
from judge_app.storage.frames import registered
from judge_app.storage.schema import open_database
from judge_app.storage.verdicts import VERDICT_COLUMNS

TASK = "bench-export"
MODELS = ("model-a", "model-b", "model-c", "model-d")


def make_task(n_prompts: int) -> TaskBundle:
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},))
               for i in range(n_prompts)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"{m} answers {i}"},))
               for i in range(n_prompts) for m in MODELS]
    return TaskBundle(TaskConfig(name=TASK), prompts, outputs)


def verdict_frame(pairs: pd.DataFrame, n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    pick = pairs.iloc[rng.integers(0, len(pairs), n)].reset_index(drop=True)
    judge = rng.random(n) < 0.5
    frame = pd.DataFrame({c: pd.Series([None] * n, dtype="object") for c in VERDICT_COLUMNS})
    frame["verdict_id"] = [f"v{i}" for i in range(n)]
    frame["task_id"] = TASK
    for c in ("pair_id", "prompt_id", "output_a", "output_b", "model_a", "model_b"):
        frame[c] = pick[c]
    frame["rater_id"] = np.where(judge, "judge-" + pd.Series(rng.integers(0, 3, n)).astype(str),
                                 "rater-" + pd.Series(rng.integers(0, 50, n)).astype(str))
    frame["source"] = np.where(judge, "judge", "human")
    frame["left_side"] = np.where(rng.random(n) < 0.5, "a", "b")
    frame["outcome"] = rng.choice(np.array(["a", "b", "tie", "both_bad"]), n, p=[.4, .4, .15, .05])
    frame["flagged"] = False
    frame["probability"] = np.where(judge, rng.random(n), np.nan)
    frame["duration_ms"] = rng.integers(2_000, 60_000, n)
    frame["judge_model"] = np.where(judge, "gpt-judge", None)
    frame["judge_endpoint"] = np.where(judge, "https://api.example.com/v1", None)
    frame["judge_config_hash"] = np.where(judge, "cfg0123456789", None)
    frame["created_at"] = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(n), unit="s")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verdicts", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.duckdb")
        import_bundle(db, make_task(10_000))
        with db.cursor() as cur:
            pairs = cur.execute("SELECT * FROM pairs WHERE task_id = ?", [TASK]).df()
        t0 = time.perf_counter()
        frame = verdict_frame(pairs, args.verdicts)
        with db.transaction() as cur, registered(cur, "bench_verdicts", frame):
            cur.execute(f"INSERT INTO verdicts ({', '.join(VERDICT_COLUMNS)}) "
                        f"SELECT {', '.join(VERDICT_COLUMNS)} FROM bench_verdicts")
        print(f"generated and inserted {args.verdicts} verdicts in "
              f"{time.perf_counter() - t0:.2f} s")
        ours, reference = [], []
        for i in range(3):
            out = Path(tmp) / f"run{i}" / "verdicts.parquet"
            t1 = time.perf_counter()
            result = export_task(db, ExportRequest(TASK, "verdicts"), out)
            ours.append(time.perf_counter() - t1)
            copy_to = Path(tmp) / f"copy{i}.parquet"
            t2 = time.perf_counter()
            with db.cursor() as cur:
                cur.execute(f"COPY (SELECT * FROM active_verdicts WHERE task_id = '{TASK}' "
                            f"ORDER BY created_at, verdict_id) TO '{copy_to}' "
                            "(FORMAT parquet, COMPRESSION zstd)")
            reference.append(time.perf_counter() - t2)
        size = result.path.stat().st_size / 1e6
        print(f"rows={result.rows} file={size:.1f} MB")
        print(f"judge-app export --format verdicts (.parquet): best {min(ours):.2f} s "
              f"(runs {', '.join(f'{t:.2f}' for t in ours)})")
        print(f"DuckDB COPY TO parquet: best {min(reference):.2f} s")
        t3 = time.perf_counter()
        trl = export_task(db, ExportRequest(TASK, "trl"), Path(tmp) / "trl" / "trl.parquet")
        print(f"trl preference export (majority over {args.verdicts} votes, {trl.rows} pairs): "
              f"{time.perf_counter() - t3:.2f} s")


if __name__ == "__main__":
    main()
