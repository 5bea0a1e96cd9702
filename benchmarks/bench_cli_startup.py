"""How long `judge-app` takes to start, against `python -c pass` in the same run.

Each command runs as a fresh process, hyperfine-style: a few warm-up runs, then N timed runs,
interleaved across commands so a load spike hits them all alike. Reports median, p95 and min
wall time, and the median minus Python's own start-up.
Run: .venv/bin/python benchmarks/bench_cli_startup.py [--runs 30] [--before DIR]
(--before: a checkout of another version, e.g. `git worktree add /tmp/old <commit>`; its
commands run interleaved with this one's, marked "before").
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.analysis_helpers import simulated_bundle  # noqa: E402


def small_database(folder: Path) -> Path:
    """A task of 4 models x 20 prompts, 3 raters: 360 verdicts."""
    path = folder / "small.duckdb"
    db = open_database(path)
    import_bundle(db, simulated_bundle("small", prompts=20))
    db.close()
    return path


def timed(cmd: list[str], cwd: Path) -> float:
    """Wall time of one run; `python -m judge_app.cli` imports the package found in cwd."""
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
                   cwd=cwd, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--before", type=Path, help="checkout of the version to compare with")
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        db = small_database(Path(tmp))
        commands = {
            "python -c pass": [py, "-c", "pass"],
            # what gate cannot do without: the fit's numpy and the file's DuckDB
            "python -c 'import numpy, duckdb'": [py, "-c", "import numpy, duckdb"],
            "judge-app --help": [py, "-m", "judge_app.cli", "--help"],
            "judge-app gate --help": [py, "-m", "judge_app.cli", "gate", "--help"],
            "judge-app gate (small db)": [
                py, "-m", "judge_app.cli", "gate", "--task", "small", "--candidate", "alpha",
                "--baseline", "beta", "--db", str(db)],
            "judge-app leaderboard (small db)": [
                py, "-m", "judge_app.cli", "leaderboard", "--task", "small", "--db", str(db)],
        }
        runs = {name: (cmd, ROOT) for name, cmd in commands.items()}
        if args.before:
            runs |= {f"{name}, before": (cmd, args.before.resolve())
                     for name, cmd in commands.items() if name.startswith("judge-app")}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.warmup):
            for cmd, cwd in runs.values():
                timed(cmd, cwd)
        for _ in range(args.runs):
            for name, (cmd, cwd) in runs.items():
                times[name].append(timed(cmd, cwd))
    base = statistics.median(times["python -c pass"])
    load = os.getloadavg()[0]
    print(f"{args.runs} runs each, load average {load:.1f}, {sys.version.split()[0]}")
    print("| command | median | p95 | min | median minus Python |")
    print("|---|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median * 1000:.0f} ms | {percentile(values, 0.95) * 1000:.0f} ms "
              f"| {min(values) * 1000:.0f} ms | {(median - base) * 1000:+.0f} ms |")


if __name__ == "__main__":
    main()
