"""Votes needed to settle a ranking, adaptive vs uniform scheduling, and interval coverage.

    python benchmarks/bench_adaptive.py [--models 20] [--seeds 50] [--coverage-budget 30000]
        [--coverage-seeds 50] [--estimate-at 5000]

For each seed: 20 models with known strengths (neighbouring gaps 10 + Exp(20) rating
points), every pair voted twice, then rounds of 3 % more votes until the ranking is settled
at 95 % (every two neighbours in the fitted order separated by their 95 % interval).
Uniform keeps every pair's count level; adaptive follows core.adaptive.plan_votes. Same
strengths and the same start for both; the number reported is the votes when the target was
first met. Coverage: separate adaptive runs that keep going to a fixed budget (so stopping
is not what is measured), checking every model's 95 % sandwich interval and every pair's
difference interval against the truth at the end and at every round on the way.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.adaptive_sim import realistic_thetas, simulate  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--coverage-seeds", type=int, default=50)
    ap.add_argument("--coverage-budget", type=int, default=30_000)
    ap.add_argument("--estimate-at", type=int, default=5_000)
    args = ap.parse_args()

    started = time.monotonic()
    rows = []
    for seed in range(args.seeds):
        theta = realistic_thetas(args.models, seed)
        uni = simulate(theta, "uniform", seed, estimate_at=args.estimate_at)
        ada = simulate(theta, "adaptive", seed, estimate_at=args.estimate_at)
        rows.append((seed, uni, ada))
        print(f"seed {seed:2d}: uniform {uni.votes_to_target}, adaptive {ada.votes_to_target}",
              file=sys.stderr, flush=True)
    uni_votes = [u.votes_to_target for _, u, _ in rows]
    ada_votes = [a.votes_to_target for _, _, a in rows]
    if None in uni_votes or None in ada_votes:
        print("some runs never met the target within the budget", file=sys.stderr)
    pairs = [(u, a) for u, a in zip(uni_votes, ada_votes, strict=True)
             if u is not None and a is not None]
    saved = [1 - a / u for u, a in pairs]
    med_u = statistics.median(u for u, _ in pairs)
    med_a = statistics.median(a for _, a in pairs)
    print(f"\n## Votes to 'ranking settled at 95%' ({args.models} models, {len(pairs)} seeds)\n")
    print("| schedule | median votes | quartiles | ranking right when settled |")
    print("|---|---|---|---|")
    for name, votes, results in (("uniform", [u for u, _ in pairs], [r[1] for r in rows]),
                                 ("adaptive", [a for _, a in pairs], [r[2] for r in rows])):
        q1, _, q3 = np.percentile(votes, [25, 50, 75])
        right = sum(bool(r.correct) for r in results)
        print(f"| {name} | {statistics.median(votes):,.0f} | {q1:,.0f} - {q3:,.0f} | "
              f"{right} of {len(results)} |")
    print(f"\nmedian saving (paired, per seed): {100 * statistics.median(saved):.1f}%; "
          f"ratio of medians: {100 * (1 - med_a / med_u):.1f}% fewer; adaptive needed fewer "
          f"votes in {sum(s > 0 for s in saved)} of {len(saved)} seeds; smallest saving "
          f"{100 * min(saved):.1f}%")

    print(f"\n## Estimate of the votes still needed, made at {args.estimate_at:,} votes\n")
    print("| schedule | median estimated / actual remaining | quartiles |")
    print("|---|---|---|")
    for name, idx in (("uniform", 1), ("adaptive", 2)):
        ratios = []
        for row in rows:
            r = row[idx]
            if r.estimate is None or r.estimate[1] is None or r.votes_to_target is None:
                continue
            actual = r.votes_to_target - r.estimate[0]
            if actual > 0:
                ratios.append(r.estimate[1] / actual)
        if ratios:
            q1, med, q3 = np.percentile(ratios, [25, 50, 75])
            print(f"| {name} | {med:.2f} ({len(ratios)} runs) | {q1:.2f} - {q3:.2f} |")

    print(f"\n## Coverage of 95% intervals, adaptive runs to {args.coverage_budget:,} votes "
          f"({args.coverage_seeds} seeds)\n")
    print("| schedule | models, at the budget | model differences, at the budget | "
          "models, every round | at the stop (when met) |")
    print("|---|---|---|---|---|")
    for sched in ("adaptive", "uniform"):
        end_m, end_p, every, at_stop = [], [], [], []
        for seed in range(args.coverage_seeds):
            theta = realistic_thetas(args.models, 1000 + seed)
            r = simulate(theta, sched, 1000 + seed, run_on=True,
                         max_votes=args.coverage_budget)
            end_m.append(r.covered[-1])
            end_p.append(r.covered_pairs[-1])
            every.extend(r.covered)
            if r.covered_at_stop is not None:
                at_stop.append(r.covered_at_stop)
        stop = f"{100 * np.mean(at_stop):.1f}% ({len(at_stop)} runs)" if at_stop else "-"
        print(f"| {sched} | {100 * np.mean(end_m):.1f}% | {100 * np.mean(end_p):.1f}% | "
              f"{100 * np.mean(every):.1f}% | {stop} |")
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
