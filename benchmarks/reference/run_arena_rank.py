"""Fit LMArena's arena-rank Bradley-Terry on a battles CSV; runs inside its own venv.

usage: python run_arena_rank.py BATTLES.csv OUT.json [--bootstrap ROUNDS] [--seed S]
The CSV has model_a, model_b, winner (model_a | model_b | tie). Timings are taken in this
process around arena-rank's own calls: `dataset` (PairDataset.from_pandas, its counting),
`fit_sandwich` (fit + sandwich intervals, first call so it includes JAX compilation),
`fit_sandwich_warm` (the same again on a fresh model object), `bootstrap` (its bootstrap,
with its default pool of one process per core, spawned: see the bottom of this file).
"""

import argparse
import json
import multiprocessing
import time

import numpy as np
import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("battles")
    parser.add_argument("out")
    parser.add_argument("--bootstrap", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    df = pd.read_csv(args.battles, dtype={"model_a": str, "model_b": str, "winner": str})
    timings = {}

    start = time.perf_counter()
    dataset = PairDataset.from_pandas(df)
    timings["dataset"] = time.perf_counter() - start

    result = {}
    for key in ("fit_sandwich", "fit_sandwich_warm"):
        start = time.perf_counter()
        model = BradleyTerry(n_competitors=len(dataset.competitors))
        result = model.compute_ratings_and_cis(dataset, significance_level=0.05)
        np.asarray(result["rating_upper"])  # wait for JAX's asynchronous dispatch
        timings[key] = time.perf_counter() - start

    out = {
        "models": list(result["competitors"]),
        "rating": np.asarray(result["ratings"]).tolist(),
        "lower": np.asarray(result["rating_lower"]).tolist(),
        "upper": np.asarray(result["rating_upper"]).tolist(),
    }
    if args.bootstrap:
        start = time.perf_counter()
        boot = model.compute_ratings_and_cis(
            dataset, significance_level=0.05, ci_method="bootstrap",
            num_bootstrap=args.bootstrap, seed=args.seed,
        )
        timings["bootstrap"] = time.perf_counter() - start
        out["boot_lower"] = np.asarray(boot["rating_lower"]).tolist()
        out["boot_upper"] = np.asarray(boot["rating_upper"]).tolist()
    out["timings"] = timings
    with open(args.out, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    # arena-rank's bootstrap uses a multiprocessing pool; forking a process that runs JAX
    # deadlocks (JAX warns so), so its workers are spawned instead.
    multiprocessing.set_start_method("spawn", force=True)
    main()
