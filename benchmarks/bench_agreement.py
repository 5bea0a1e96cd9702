"""Krippendorff's alpha for 20 raters x 100,000 pairs: ours (verdict DataFrame -> alpha) against
the `krippendorff` package alone on a matrix built beforehand. Same data, same run.

    .venv/bin/python benchmarks/bench_agreement.py [--raters 20] [--units 100000] [--repeat 5]

Prints a markdown table for benchmarks/README.md ("Agreement" section).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from importlib.metadata import version

import krippendorff
import numpy as np
import pandas as pd

from judge_app.core.agreement import krippendorff_alpha, rater_pairs, reliability_matrix
from judge_app.core.agreement_report import agreement_report

OUTCOMES = np.array(["a", "b", "tie", "both_bad"], dtype=object)


def simulated_verdicts(raters: int, units: int, seed: int = 0) -> pd.DataFrame:
    """Every rater judges every pair: the pair's true outcome with probability 0.8, else any."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(4, size=units, p=[0.42, 0.45, 0.1, 0.03])
    noise = rng.integers(0, 4, size=(raters, units))
    labels = np.where(rng.random((raters, units)) < 0.8, truth, noise)
    r, u = np.divmod(np.arange(raters * units), units)
    frame = pd.DataFrame({
        "pair_id": pd.Index([f"pair-{i:06d}" for i in range(units)])[u],
        "rater_id": pd.Index([f"rater-{i:02d}" for i in range(raters)])[r],
        "source": "human",
        "outcome": OUTCOMES[labels.ravel()],
        "left_side": np.where(rng.random(raters * units) < 0.5, "a", "b"),
    })
    return frame.sample(frac=1.0, random_state=seed, ignore_index=True)  # arrival order


def simulated_crowd(raters: int, units: int, per_pair: int, seed: int = 1) -> pd.DataFrame:
    """Each pair judged by `per_pair` distinct raters drawn at random from a large pool."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(4, size=units, p=[0.42, 0.45, 0.1, 0.03])
    who = np.argsort(rng.random((units, raters)), axis=1)[:, :per_pair]
    labels = np.where(rng.random((units, per_pair)) < 0.8, truth[:, None],
                      rng.integers(0, 4, size=(units, per_pair)))
    return pd.DataFrame({
        "pair_id": np.repeat([f"pair-{i:06d}" for i in range(units)], per_pair),
        "rater_id": np.array([f"rater-{i:03d}" for i in range(raters)])[who.ravel()],
        "outcome": OUTCOMES[labels.ravel()],
    })


def timed(fn: Callable[[], object], repeat: int) -> tuple[tuple[float, float], object]:
    """(best, median) seconds: the best shows the code, the median a busy shared machine."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return (min(times), statistics.median(times)), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raters", type=int, default=20)
    parser.add_argument("--units", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    df = simulated_verdicts(args.raters, args.units)
    matrices = {level: reliability_matrix(df, level)[0] for level in ("nominal", "ordinal")}

    rows = []
    for level in ("nominal", "ordinal"):
        ours_s, ours = timed(lambda lv=level: krippendorff_alpha(df, lv), args.repeat)
        pkg_s, pkg = timed(lambda lv=level: krippendorff.alpha(
            reliability_data=matrices[lv], level_of_measurement=lv), args.repeat)
        assert ours is not None and abs(float(ours) - float(pkg)) < 1e-12, (ours, pkg)  # type: ignore[arg-type]
        rows.append((f"alpha {level}, verdict DataFrame -> alpha (ours)", ours_s, f"{ours:.6f}"))
        rows.append((f"alpha {level}, `krippendorff` on a prebuilt matrix", pkg_s, f"{pkg:.6f}"))
    build_s, _ = timed(lambda: reliability_matrix(df, "nominal"), args.repeat)
    rows.append(("raters x units matrix from the DataFrame (ours)", build_s, ""))
    pairs_s, pairs = timed(lambda: rater_pairs(df), args.repeat)
    rows.append((f"Cohen's kappa for all {len(pairs)} rater pairs (ours)", pairs_s, ""))  # type: ignore[arg-type]
    report_s, _ = timed(lambda: agreement_report(df), max(1, args.repeat // 2))
    rows.append(("whole agreement report (alpha x2, kappas, quality, bias)", report_s, ""))
    # the other kappa route: many raters, three per pair (a typical crowd task)
    crowd = simulated_crowd(300, args.units, per_pair=3)
    crowd_s, crowd_pairs = timed(lambda: rater_pairs(crowd), args.repeat)
    rows.append((f"crowd: 300 raters, 3 per pair, {len(crowd):,} verdicts: kappas for "
                 f"{len(crowd_pairs)} rater pairs (ours)", crowd_s, ""))  # type: ignore[arg-type]
    crowd_alpha_s, value = timed(lambda: krippendorff_alpha(crowd), args.repeat)
    rows.append(("crowd: alpha nominal (ours)", crowd_alpha_s, f"{value:.6f}"))

    print(f"{args.raters} raters x {args.units:,} pairs = {len(df):,} verdicts; best and median "
          f"of {args.repeat} runs; Python {platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}, krippendorff {version('krippendorff')}\n")
    print("| step | best s | median s | value |\n|---|---:|---:|---|")
    for name, (best, median), value in rows:
        print(f"| {name} | {best:.3f} | {median:.3f} | {value} |")


if __name__ == "__main__":
    main()
