"""Speed of the rating math (no database) against arena-rank and FastChat on the same battles.

    python benchmarks/bench_ratings.py [--battles 1000000] [--models 200] [--rounds 1000]
        [--arena-rank-rounds 20] [--fschat-rounds 2] [--no-references]

Ours is timed in this process, best of 3 (imports done). The references run in their own
virtual environments (benchmarks/reference_envs.sh builds them) on the same battles written
to a CSV; their timings are taken inside their process around their own calls (see
benchmarks/reference/). Their bootstraps are too slow to run 1,000 rounds every time, so
they run fewer rounds and the time is scaled linearly to --rounds (marked "scaled").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from judge_app.core.bradley_terry import fit_bradley_terry  # noqa: E402
from judge_app.core.counts import count_battles  # noqa: E402
from judge_app.core.intervals import rating_intervals  # noqa: E402
from judge_app.core.leaderboard import leaderboard  # noqa: E402
from judge_app.core.scale import to_rating  # noqa: E402
from tests.ratings_sim import simulate_battles  # noqa: E402

WINNER = {"a": "model_a", "b": "model_b", "tie": "tie", "both_bad": "tie"}


def best_of(n: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def reference(name: str, battles_csv: Path, rounds: int) -> dict:
    """Run a reference in its own venv; returns its ratings and its own timings."""
    python = subprocess.run(["bash", str(REPO / "benchmarks" / "reference_envs.sh"), name],
                            check=True, capture_output=True, text=True).stdout.split()[-1]
    runner = REPO / "benchmarks" / "reference" / f"run_{name.replace('-', '_')}.py"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        subprocess.run([python, str(runner), str(battles_csv), str(out), "--bootstrap",
                        str(rounds)], check=True, capture_output=True)
        result: dict = json.loads(out.read_text())
    return result


def gap(ours: np.ndarray, models: tuple[str, ...], theirs: dict, key: str) -> float:
    aligned = pd.Series(theirs[key], index=theirs["models"]).reindex(models).to_numpy()
    return float(np.abs(ours - aligned).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--battles", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1000)
    parser.add_argument("--arena-rank-rounds", type=int, default=20)
    parser.add_argument("--fschat-rounds", type=int, default=2)
    parser.add_argument("--no-references", action="store_true")
    args = parser.parse_args()

    truth = np.random.default_rng(0).normal(0, 1, args.models)
    battles = simulate_battles(truth, args.battles, seed=1, nu=0.5)
    grouped = battles.groupby(["model_a", "model_b", "outcome"]).size().rename("n").reset_index()
    print(f"{len(battles):,} battles among {args.models} models "
          f"({(battles['outcome'] == 'tie').mean():.0%} ties; {len(grouped):,} grouped rows)")

    counts = count_battles(battles)
    fit = fit_bradley_terry(counts)
    e2e = best_of(3, lambda: leaderboard(battles))
    steps = {
        "leaderboard from battle rows (count, fit, sandwich)": e2e,
        "leaderboard from grouped rows": best_of(3, lambda: leaderboard(grouped)),
        "  count battle rows": best_of(3, lambda: count_battles(battles)),
        "  fit": best_of(3, lambda: fit_bradley_terry(counts)),
        "  sandwich intervals": best_of(3, lambda: rating_intervals(fit)),
    }
    cpu = time.process_time()
    boot = best_of(1, lambda: rating_intervals(fit, method="bootstrap", rounds=args.rounds))
    cpu = time.process_time() - cpu
    steps[f"bootstrap, {args.rounds} rounds (CPU {cpu:.1f} s)"] = boot
    for step, seconds in steps.items():
        print(f"ours        {step:52s} {seconds:8.3f} s")
    if args.no_references:
        return

    data = REPO / "benchmarks" / ".data"
    data.mkdir(exist_ok=True)
    csv = data / f"battles_{args.battles}_{args.models}.csv"
    battles.assign(winner=battles["outcome"].map(WINNER))[["model_a", "model_b", "winner"]].to_csv(
        csv, index=False)
    rating, sandwich = to_rating(fit.theta), rating_intervals(fit)
    width = to_rating(sandwich.upper) - to_rating(sandwich.lower)

    ar = reference("arena-rank", csv, args.arena_rank_rounds)
    t, scale = ar["timings"], args.rounds / args.arena_rank_rounds
    ar_e2e, ar_boot = t["dataset"] + t["fit_sandwich_warm"], t["bootstrap"] * scale
    ar["width"] = np.subtract(ar["upper"], ar["lower"])
    cold = t["dataset"] + t["fit_sandwich"]
    print(f"arena-rank  dataset + fit + sandwich {ar_e2e:.2f} s warm ({cold:.2f} s with JAX "
          f"compilation): {ar_e2e / e2e:.0f}x ours")
    print(f"arena-rank  bootstrap {args.arena_rank_rounds} rounds {t['bootstrap']:.1f} s, "
          f"scaled to {args.rounds}: {ar_boot:.0f} s: {ar_boot / boot:.0f}x ours")
    ratio = width / pd.Series(ar["width"], index=ar["models"]).reindex(counts.models).to_numpy()
    print(f"arena-rank  max rating gap {gap(rating, counts.models, ar, 'rating'):.1e} points; "
          f"interval widths ours/theirs {ratio.min():.4f} to {ratio.max():.4f}")

    fs = reference("fschat", csv, args.fschat_rounds)
    t, scale = fs["timings"], args.rounds / args.fschat_rounds
    fs_boot = t["bootstrap"] * scale
    print(f"fschat      compute_elo_mle_with_tie {t['fit']:.1f} s: {t['fit'] / e2e:.0f}x ours")
    print(f"fschat      bootstrap {args.fschat_rounds} rounds {t['bootstrap']:.1f} s, scaled to "
          f"{args.rounds}: {fs_boot:.0f} s: {fs_boot / boot:.0f}x ours")
    print(f"fschat      max rating gap {gap(rating, counts.models, fs, 'rating'):.2f} points "
          "(sklearn's default L2 penalty and iteration cap)")


if __name__ == "__main__":
    main()
