"""Parse speed of a native task folder: N prompts with two outputs each (no database).

    python benchmarks/bench_ingest.py [--prompts 100000]

The reference is a bare ``json.loads`` of every line, the floor any Python reader pays.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from judge_app.ingest import load_bundles


def make_task_folder(folder: Path, n_prompts: int) -> None:
    """A synthetic task shaped like real data: ~400-character prompts and responses."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "task.toml").write_text('name = "bench"\n', encoding="utf-8")
    filler = "lorem ipsum dolor sit amet " * 15
    with open(folder / "prompts.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_prompts):
            f.write(json.dumps({"id": f"p{i}", "prompt": f"Question {i}: {filler}",
                                "category": f"c{i % 7}"}) + "\n")
    with open(folder / "outputs.jsonl", "w", encoding="utf-8") as f:
        for i in range(n_prompts):
            for model in ("model-x", "model-y"):
                f.write(json.dumps({
                    "prompt_id": f"p{i}", "model": model, "response": f"{model} says {filler}",
                    "latency_ms": 812.5, "cost_usd": 0.0004, "input_tokens": 120,
                    "output_tokens": 95, "temperature": 0.7,
                }) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "bench"
        make_task_folder(folder, args.prompts)
        floor = took = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            for name in ("prompts.jsonl", "outputs.jsonl"):
                text = (folder / name).read_text(encoding="utf-8")
                rows = [json.loads(line) for line in text.split("\n") if line]
            floor = min(floor, time.perf_counter() - start)
            del text, rows
            start = time.perf_counter()
            [bundle] = load_bundles([folder])
            took = min(took, time.perf_counter() - start)
    rows = len(bundle.prompts) + len(bundle.outputs)
    print(f"{len(bundle.prompts)} prompts + {len(bundle.outputs)} outputs: "
          f"load_bundles {took:.2f} s ({rows / took:,.0f} rows/s); "
          f"bare json.loads {floor:.2f} s (best of {args.repeat})")


if __name__ == "__main__":
    main()
