"""Import speed: a native task folder with 100,000 prompts and two outputs each.

Run: .venv/bin/python benchmarks/bench_import.py [--prompts N]
Prints the time to read and validate the files and the time to land them in DuckDB,
and a second import of the same folder (which must find nothing new). Reference: DuckDB's
own `read_json` loading the same two files into tables, with no validation, ids or pairs
(the floor for getting these bytes into a DuckDB file).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import duckdb

from judge_app.ingest.loader import load_bundles
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database


def write_task(folder: Path, n_prompts: int) -> None:
    folder.mkdir(parents=True)
    (folder / "task.toml").write_text('name = "bench"\ntitle = "Import benchmark"\n')
    with (folder / "prompts.jsonl").open("w") as f:
        for i in range(n_prompts):
            f.write(json.dumps({"id": f"q{i}", "prompt": f"Question number {i}: explain it.",
                                "category": f"c{i % 7}"}) + "\n")
    with (folder / "outputs.jsonl").open("w") as f:
        for i in range(n_prompts):
            for model in ("model-a", "model-b"):
                f.write(json.dumps({"prompt_id": f"q{i}", "model": model,
                                    "response": f"{model} answers question {i} at length.",
                                    "latency_ms": 120 + i % 50, "cost_usd": 0.0001}) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench"
        write_task(folder, args.prompts)
        db = open_database(Path(tmp) / "bench.duckdb")
        t0 = time.perf_counter()
        bundles = load_bundles([folder], "native", None)
        t1 = time.perf_counter()
        report = import_bundle(db, bundles[0])
        t2 = time.perf_counter()
        again = import_bundle(db, load_bundles([folder], "native", None)[0])
        t3 = time.perf_counter()
        reference = duckdb.connect(str(Path(tmp) / "reference.duckdb"))
        t4 = time.perf_counter()
        for table in ("prompts", "outputs"):
            source = str(folder / f"{table}.jsonl")
            reference.execute(f"CREATE TABLE {table} AS SELECT * FROM read_json(?)", [source])
        t5 = time.perf_counter()
        reference.close()
    print(f"prompts={args.prompts} outputs={2 * args.prompts} pairs={report.pairs_new}")
    print(f"read+validate {t1 - t0:.2f} s | write {t2 - t1:.2f} s | total {t2 - t0:.2f} s")
    print(f"re-import (nothing new: {again.nothing_new}) {t3 - t2:.2f} s")
    print(f"reference: DuckDB read_json of both files {t5 - t4:.2f} s")


if __name__ == "__main__":
    main()
