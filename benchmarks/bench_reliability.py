"""The rater-reliability model: speed at full size, ranking recovery, PandaLM held-out fit.

    python benchmarks/bench_reliability.py [--verdicts 1000000] [--models 200] [--raters 500]
        [--seeds 50] [--skip-db] [--compare OLD_CHECKOUT [--rounds 9]]

1. Speed. 1M verdicts among 200 models by 500 raters (20% click at random, 10% always pick
   the left side, the rest follow Bradley-Terry) in a DuckDB file. Timed, best of 3: the GROUP
   BY read, counting, the reliability fit; and plain Bradley-Terry (its own GROUP BY, counts,
   Newton fit) on the same verdicts in the same run. Wall and CPU time, with the load average.
   With --compare, the fit of another checkout's judge_app/core/reliability.py on the same
   counts, interleaved with ours (alternating which goes first) for --rounds rounds: medians,
   and how far apart the two optima are.
2. Ranking. Kendall tau against the true strengths, reliability model against plain
   Bradley-Terry on the same verdicts: the 1M set, and `--seeds` small crowds (20 models,
   2,000 verdicts, 40 raters: the test's setting, where the gain shows; with 1M verdicts both
   are near 1).
3. PandaLM. Its three annotators (tasks/demo-pandalm), 5 folds by prompt: held-out
   log-likelihood per verdict of both models (ties half a vote each way).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from judge_app.core.bradley_terry import fit_bradley_terry  # noqa: E402
from judge_app.core.counts import count_battles  # noqa: E402
from judge_app.core.reliability import fit_reliability, rater_counts  # noqa: E402
from judge_app.storage import analytics  # noqa: E402
from judge_app.storage.frames import registered  # noqa: E402
from judge_app.storage.reliability import rater_vote_counts  # noqa: E402
from judge_app.storage.schema import open_database  # noqa: E402
from judge_app.storage.verdicts import VERDICT_COLUMNS  # noqa: E402
from tests.reliability_sim import simulate_crowd  # noqa: E402
from tests.test_reliability import _pandalm, heldout_loglik  # noqa: E402


def timed(work: Callable[[], object], rounds: int = 3) -> tuple[float, float, object]:
    """Best wall and CPU seconds over `rounds`, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(rounds):
        wall, cpu = time.perf_counter(), time.process_time()
        result = work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def compare(counts: object, old_checkout: Path, rounds: int) -> None:
    """Our fit against another checkout's, interleaved on the same counts."""
    spec = importlib.util.spec_from_file_location(
        "old_reliability", old_checkout / "judge_app" / "core" / "reliability.py")
    assert spec is not None and spec.loader is not None
    old = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = old  # (its dataclasses look their module up)
    spec.loader.exec_module(old)
    walls: dict[str, list[float]] = {"this": [], "old": []}
    cpus: dict[str, list[float]] = {"this": [], "old": []}
    fits: dict[str, object] = {}
    loads = [os.getloadavg()[0]]
    for i in range(rounds):
        order = [("this", fit_reliability), ("old", old.fit_reliability)]
        for name, fit in order if i % 2 == 0 else order[::-1]:
            wall, cpu = time.perf_counter(), time.process_time()
            fits[name] = fit(counts)
            walls[name].append(time.perf_counter() - wall)
            cpus[name].append(time.process_time() - cpu)
        loads.append(os.getloadavg()[0])
    print(f"\nfit, {rounds} rounds interleaved (load average {min(loads):.1f}-{max(loads):.1f}):")
    for name in ("this", "old"):
        print(f"  {name:5} median {np.median(walls[name]):.3f} s wall / "
              f"{np.median(cpus[name]):.3f} s CPU (best {min(walls[name]):.3f} s)")
    this, other = fits["this"], fits["old"]
    both = this.rated & other.rated  # type: ignore[attr-defined]
    print(f"  log-likelihood {this.loglik:.6f} against {other.loglik:.6f} "  # type: ignore[attr-defined]
          f"(relative difference {abs(this.loglik / other.loglik - 1):.1e}); "  # type: ignore[attr-defined]
          "largest strength difference "
          f"{np.abs(this.theta - other.theta)[both].max():.1e} "  # type: ignore[attr-defined]
          f"(smallest standard error {this.se[both].min():.3f}); steps on all rows "  # type: ignore[attr-defined]
          f"{this.iterations} against {other.iterations}")  # type: ignore[attr-defined]


def verdict_rows(frame: pd.DataFrame) -> pd.DataFrame:
    n = len(frame)
    rows = pd.DataFrame({c: pd.Series([None] * n, dtype="object") for c in VERDICT_COLUMNS})
    rows["verdict_id"] = [f"v{i}" for i in range(n)]
    rows["task_id"] = "bench"
    rows["pair_id"] = [f"p{i % 50_000}" for i in range(n)]
    rows["prompt_id"] = rows["pair_id"]
    for column in ("rater_id", "source", "model_a", "model_b", "outcome", "left_side"):
        rows[column] = frame[column].to_numpy()
    rows["output_a"], rows["output_b"] = "oa", "ob"
    rows["flagged"] = False
    rows["created_at"] = pd.Timestamp("2026-12-01")
    return rows


def tau(truth: np.ndarray, theta: np.ndarray) -> float:
    return float(kendalltau(truth, theta).statistic)


def speed(args: argparse.Namespace) -> None:
    truth = np.random.default_rng(0).normal(0, 1, args.models)
    frame, _ = simulate_crowd(truth, args.verdicts, args.raters, seed=0)
    print(f"{len(frame):,} verdicts, {args.models} models, {args.raters} raters; "
          f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.duckdb")
        with db.transaction() as cur, registered(cur, "incoming", verdict_rows(frame)):
            cur.execute("INSERT INTO tasks VALUES ('bench', 'bench', '{}', 'x', now())")
            cur.execute(f"INSERT INTO verdicts SELECT {', '.join(VERDICT_COLUMNS)} "
                        "FROM incoming")
        where = analytics.Slice("bench")
        with db.cursor() as cur:
            sql_r = timed(lambda: rater_vote_counts(cur, where))
            sql_p = timed(lambda: analytics.battle_counts(cur, where))
        grouped, battles = sql_r[2], sql_p[2]
        assert isinstance(grouped, pd.DataFrame) and isinstance(battles, pd.DataFrame)
        count_r = timed(lambda: rater_counts(grouped))
        count_p = timed(lambda: count_battles(battles))
        counts, pair_counts = count_r[2], count_p[2]
        fit_r = timed(lambda: fit_reliability(counts))  # type: ignore[arg-type]
        fit_p = timed(lambda: fit_bradley_terry(pair_counts))  # type: ignore[arg-type]
        db.close()
    rows = counts.rows  # type: ignore[attr-defined]
    print(f"{len(grouped):,} grouped rows from SQL, {rows:,} (rater, pair, order) rows fitted")
    print("step                      reliability wall / cpu      plain BT wall / cpu")
    for name, ours, plain in (("GROUP BY in DuckDB", sql_r, sql_p), ("count", count_r, count_p),
                              ("fit", fit_r, fit_p)):
        print(f"{name:25} {ours[0]:8.3f} s / {ours[1]:.3f} s      "
              f"{plain[0]:8.3f} s / {plain[1]:.3f} s")
    fit = fit_r[2]
    print(f"fit: {fit.iterations} Newton/Fisher steps on the full rows, "  # type: ignore[attr-defined]
          f"converged {fit.converged}; load average after: "  # type: ignore[attr-defined]
          f"{os.getloadavg()[0]:.1f}")
    order = [f"model-{i:03d}" for i in range(args.models)]
    ours_theta = pd.Series(fit.theta, fit.models).reindex(order).to_numpy()  # type: ignore[attr-defined]
    plain_fit = fit_p[2]
    plain_theta = pd.Series(plain_fit.theta, plain_fit.models).reindex(order).to_numpy()  # type: ignore[attr-defined]
    print(f"Kendall tau at full size: reliability {tau(truth, ours_theta):.4f}, "
          f"plain BT {tau(truth, plain_theta):.4f}")
    if args.compare:
        compare(counts, Path(args.compare), args.rounds)


def ranking(seeds: int) -> None:
    ours, plain = [], []
    for seed in range(seeds):
        truth = np.random.default_rng(1000 + seed).normal(0, 0.5, 20)
        frame, _ = simulate_crowd(truth, 2000, 40, seed=seed)
        counts = rater_counts(frame)
        ours.append(tau(truth, fit_reliability(counts).theta))
        plain.append(tau(truth, fit_bradley_terry(counts.pairs).theta))
    a, b = np.array(ours), np.array(plain)
    gain = a - b
    q = [0.1, 0.25, 0.5, 0.75, 0.9]
    print(f"\nKendall tau over {seeds} seeds (20 models, 2,000 verdicts, 40 raters, 20% random, "
          "10% always left)")
    print("quantiles            10%    25%    50%    75%    90%   mean")
    for name, values in (("reliability", a), ("plain BT", b), ("gain", gain)):
        print(f"{name:16} " + " ".join(f"{v:6.3f}" for v in np.quantile(values, q))
              + f" {values.mean():6.3f}")
    print(f"reliability better in {(gain > 0).sum()}, equal in {(gain == 0).sum()}, "
          f"worse in {(gain < 0).sum()} seeds")


def pandalm() -> None:
    plain, ours = heldout_loglik(_pandalm())
    diff = ours - plain
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    print(f"\nPandaLM, 3 annotators, {len(diff)} verdicts, 5 folds by prompt: held-out "
          f"log-likelihood per verdict: reliability {ours.mean():.5f}, plain BT "
          f"{plain.mean():.5f}, difference {diff.mean():+.5f} (paired SE {se:.5f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--verdicts", type=int, default=1_000_000)
    parser.add_argument("--models", type=int, default=200)
    parser.add_argument("--raters", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--skip-db", action="store_true", help="only the accuracy parts")
    parser.add_argument("--compare", metavar="OLD_CHECKOUT",
                        help="also time that checkout's fit, interleaved with ours")
    parser.add_argument("--rounds", type=int, default=9, help="rounds for --compare")
    args = parser.parse_args()
    if not args.skip_db:
        speed(args)
    ranking(args.seeds)
    pandalm()


if __name__ == "__main__":
    main()
