"""Cut the real data the tests check published figures on into tests/data (run once, by hand).

    python scripts/slice_test_data.py --shared ../shared/data --alpaca-eval PATH [--out tests/data]

`--shared` holds PandaLM's data/ files and AlpacaEval 2 annotations (see tests/data/*/SOURCE.md);
`--alpaca-eval` is a checkout of tatsu-lab/alpaca_eval (for the AlpacaEval 1 annotations and
leaderboard); `--llmbar` one of princeton-nlp/LLMBar (a judge's verdicts in both orders).
The tests never read any of them: they read only what this script writes, which is committed.
Records are kept whole unless SOURCE.md says which fields were dropped.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# AlpacaEval 2 (weighted GPT-4 turbo annotator): all eight models' preferences, one model whole.
V2_MODELS = ("alpaca-7b", "claude-2.1", "falcon-7b-instruct", "gemma-7b-it",
             "gpt-3.5-turbo-0301", "gpt4_0613_concise", "phi-2", "vicuna-13b-v1.5")
V2_WHOLE = "gpt-3.5-turbo-0301"
V2_LOGPROBS = "phi-2"
# AlpacaEval 1 (alpaca_eval_gpt4 annotator): phi-2 has draws as 0.0 and nulls,
# gpt-3.5-turbo-0301 draws as 1.5 and a null.
V1_MODELS = ("phi-2", "gpt-3.5-turbo-0301")
DEMO_MODELS = ("gpt4_1106_preview", "claude-3-opus-20240229", "Meta-Llama-3-70B-Instruct",
               "Mixtral-8x7B-Instruct-v0.1", "gpt-3.5-turbo-0613")
PANDALM_JUDGES = {"judge-gpt-3.5-turbo-testset-v1.json": "gpt_result",
                  "judge-pandalm-7b-testset-v1.json": "pandalm_result"}


def _read_json(path: Path) -> Any:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.name.endswith(".gz") else raw)


def _write_gz(path: Path, value: Any) -> None:
    """Deterministic gzip (no name, no time) of compact JSON, so a re-run is byte-identical."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as gz:
        gz.write(data)
    path.write_bytes(buffer.getvalue())


def _csv_rows(source: Path, target: Path, models: tuple[str, ...]) -> None:
    with source.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    kept = [rows[0]] + [r for r in rows[1:] if r[0] in models]
    assert len(kept) == len(models) + 1, f"{source}: not every model has a row"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(kept)


def pandalm(shared: Path, out: Path) -> None:
    folder = out / "pandalm"
    _write_gz(folder / "testset-v1.json.gz", _read_json(shared / "pandalm" / "testset-v1.json"))
    for name, field in PANDALM_JUDGES.items():
        items = _read_json(shared / "pandalm" / name)
        _write_gz(folder / (name + ".gz"), [{"idx": it["idx"], field: it[field]} for it in items])


def alpaca_eval(shared: Path, repo: Path, out: Path, demo_prompts: set[str]) -> None:
    folder = out / "alpaca_eval_results"
    v2 = shared / "alpaca_eval" / "annotations_weighted_gpt4_turbo"
    for model in V2_MODELS:
        records = _read_json(v2 / f"{model}.json.gz")
        target = folder / "weighted_alpaca_eval_gpt4_turbo"
        thin = [{k: r.get(k) for k in ("generator_1", "generator_2", "preference")}
                for r in records]
        _write_gz(target / "preferences" / f"{model}.json.gz", thin)
        if model == V2_WHOLE:
            whole = [{k: v for k, v in r.items() if k != "raw_completion"} for r in records]
            _write_gz(target / "annotations" / f"{model}.json.gz", whole)
        if model == V2_LOGPROBS:
            first = [{"preference": r["preference"],
                      "top_logprobs": r["raw_completion"]["logprobs"]["content"][0]["top_logprobs"]}
                     for r in records if r.get("raw_completion")]
            _write_gz(target / "first_token_logprobs" / f"{model}.json.gz", first)
    _csv_rows(shared / "alpaca_eval" / "leaderboard_weighted_alpaca_eval_gpt4_turbo.csv",
              folder / "weighted_alpaca_eval_gpt4_turbo" / "leaderboard.csv", V2_MODELS)
    for model in V1_MODELS:
        records = _read_json(repo / "results" / model / "alpaca_eval_gpt4" / "annotations.json")
        _write_gz(folder / "alpaca_eval_gpt4" / "annotations" / f"{model}.json.gz", records)
    _csv_rows(repo / "src" / "alpaca_eval" / "leaderboards" / "data_AlpacaEval"
              / "alpaca_eval_gpt4_leaderboard.csv",
              folder / "alpaca_eval_gpt4" / "leaderboard.csv", V1_MODELS)
    for model in DEMO_MODELS:
        records = _read_json(shared / "alpaca_eval" / "model_outputs" / f"{model}.json.gz")
        kept = [r for r in records if r["instruction"] in demo_prompts]
        _write_gz(folder / "model_outputs" / f"{model}.json.gz", kept)


LLMBAR = "Dataset/LLMBar/Natural/evaluators/GPT-4/Vanilla"


def llmbar(repo: Path, out: Path) -> None:
    folder = out / "llmbar"
    _write_gz(folder / "result.json.gz", _read_json(repo / LLMBAR / "result.json"))
    (folder / "statistics.json").write_bytes((repo / LLMBAR / "statistics.json").read_bytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, required=True)
    parser.add_argument("--alpaca-eval", type=Path, required=True)
    parser.add_argument("--llmbar", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data")
    args = parser.parse_args()
    demo = ROOT / "tasks" / "demo-alpaca" / "prompts.jsonl"
    prompts = {json.loads(line)["prompt"] for line in demo.read_text("utf-8").splitlines()}
    pandalm(args.shared, args.out)
    alpaca_eval(args.shared, args.alpaca_eval, args.out, prompts)
    llmbar(args.llmbar, args.out)


if __name__ == "__main__":
    main()
