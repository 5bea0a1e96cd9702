"""Fit FastChat's Bradley-Terry (`compute_elo_mle_with_tie`) and its bootstrap on a battles CSV.

Runs inside the fschat venv (benchmarks/reference_envs.sh), which holds only what
fastchat/serve/monitor/elo_analysis.py imports; `fastchat.model`'s __init__ would import
torch, so that package is registered without running it (its model_registry module, which
elo_analysis imports, needs nothing heavy).

usage: python run_fschat.py BATTLES.csv OUT.json [--bootstrap ROUNDS]
Timings are taken here around FastChat's own calls: `fit` (one compute_elo_mle_with_tie) and
`bootstrap` (get_bootstrap_result with ROUNDS rounds, battle-level resampling, one process).
"""

import argparse
import json
import pathlib
import sys
import time
import types

import fastchat
import pandas as pd

model_package = types.ModuleType("fastchat.model")
model_package.__path__ = [str(pathlib.Path(fastchat.__file__).parent / "model")]
sys.modules["fastchat.model"] = model_package

from fastchat.serve.monitor.elo_analysis import (  # noqa: E402
    compute_elo_mle_with_tie,
    get_bootstrap_result,
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("battles")
    parser.add_argument("out")
    parser.add_argument("--bootstrap", type=int, default=0)
    args = parser.parse_args()
    df = pd.read_csv(args.battles, dtype={"model_a": str, "model_b": str, "winner": str})
    timings = {}
    start = time.perf_counter()
    rating = compute_elo_mle_with_tie(df)
    timings["fit"] = time.perf_counter() - start
    out = {"models": list(rating.index), "rating": rating.tolist()}
    if args.bootstrap:
        start = time.perf_counter()
        boot = get_bootstrap_result(df, compute_elo_mle_with_tie, num_round=args.bootstrap)
        timings["bootstrap"] = time.perf_counter() - start
        out["boot_models"] = list(boot.columns)
        out["boot_lower"] = boot.quantile(0.025).tolist()
        out["boot_upper"] = boot.quantile(0.975).tolist()
    out["timings"] = timings
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
