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
    python = subprocess.run(["bash", str(REPO / "benchmarks" / "reference_envs.sh"), name],
                            check=True, capture_output=True, text=True).stdout.split()[-1]
    runner = REPO / "benchmarks" / "reference" / f"run_{name.replace('-', '_')}.py"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        subprocess.run([python, str(runner), str(battles_csv), str(out), "--bootstrap", str(rounds)],
                       check=True, capture_output=True)
        result: dict = json.loads(out.read_text())
    return result


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
    ours = {
        "count (battle rows)": best_of(3, lambda: count_battles(battles)),
        "count (grouped rows)": best_of(3, lambda: count_battles(grouped)),
        "fit": best_of(3, lambda: fit_bradley_terry(counts)),
        "sandwich": best_of(3, lambda: rating_intervals(fit)),
        "leaderboard, battle rows": best_of(3, lambda: leaderboard(battles)),
        "leaderboard, grouped rows": best_of(3, lambda: leaderboard(grouped)),
        f"bootstrap {args.rounds}": best_of(1, lambda: rating_intervals(
            fit, method="bootstrap", rounds=args.rounds, seed=0)),
    }
    for step, seconds in ours.items():
        print(f"ours  {step:28s} {seconds:8.3f} s")
    if args.no_references:
        return

    rating = to_rating(fit.theta)
    sandwich = rating_intervals(fit)
    data = REPO / "benchmarks" / ".data"
    data.mkdir(exist_ok=True)
    csv = data / f"battles_{args.battles}_{args.models}.csv"
    battles.assign(winner=battles["outcome"].map(WINNER))[["model_a", "model_b", "winner"]].to_csv(
        csv, index=False)
    scale_ar = args.rounds / args.arena_rank_rounds
    ar = reference("arena-rank", csv, args.arena_rank_rounds)
    t = ar["timings"]
    print(f"arena-rank  dataset {t['dataset']:.2f} s, fit+sandwich {t['fit_sandwich']:.2f} s cold /"
          f" {t['fit_sandwich_warm']:.2f} s warm, bootstrap {args.arena_rank_rounds} rounds"
          f" {t['bootstrap']:.1f} s (scaled to {args.rounds}: {t['bootstrap'] * scale_ar:.0f} s)")
    theirs = pd.Series(ar["rating"], index=ar["models"]).reindex(counts.models)
    widths = (pd.Series(np.subtract(ar["upper"], ar["lower"]), index=ar["models"])
              .reindex(counts.models).to_numpy())
    ours_width = to_rating(sandwich.upper) - to_rating(sandwich.lower)
    print(f"   agreement: max rating gap {np.abs(rating - theirs.to_numpy()).max():.2e} points,"
          f" sandwich widths ratio {np.min(ours_width / widths):.4f}..{np.max(ours_width / widths):.4f}")
    ours_e2e = ours["leaderboard, battle rows"]
    print(f"   speed-up, sandwich end to end: {(t['dataset'] + t['fit_sandwich_warm']) / ours_e2e:.0f}x"
          f" (warm), bootstrap: {t['bootstrap'] * scale_ar / ours[f'bootstrap {args.rounds}']:.0f}x")

    fs = reference("fschat", csv, args.fschat_rounds)
    t = fs["timings"]
    scale_fs = args.rounds / args.fschat_rounds
    print(f"fschat  fit {t['fit']:.1f} s, bootstrap {args.fschat_rounds} rounds {t['bootstrap']:.1f} s"
          f" (scaled to {args.rounds}: {t['bootstrap'] * scale_fs:.0f} s)")
    theirs = pd.Series(fs["rating"], index=fs["models"]).reindex(counts.models)
    print(f"   agreement: max rating gap {np.abs(rating - theirs.to_numpy()).max():.3f} points"
          " (FastChat's logistic regression has a default L2 penalty)")
    print(f"   speed-up, fit vs our end to end: {t['fit'] / ours_e2e:.0f}x,"
          f" fit + bootstrap: {(t['fit'] + t['bootstrap'] * scale_fs) / (ours_e2e + ours[f'bootstrap {args.rounds}']):.0f}x")


if __name__ == "__main__":
    main()
