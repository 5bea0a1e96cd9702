"""Where a generation or judge run's client CPU per call goes, and its floor: the same run
with its answers stored in other ways, each run in a fresh process, interleaved.

Issue 13 asks for >= 90% of concurrency / latency and < 2 ms of client CPU per call with the
database writes included, and a SIGKILL re-paying at most the calls in flight. This script
measures, in the same minutes and against the same fake servers (their own processes):

- ``client``: the shared chat client alone, no database (bench_generation/bench_judge's
  reference: the floor of any design that keeps openai's client);
- ``duckdb``: the run as it is (`run_generation` / `run_plan` on a DuckDB file this
  process owns: each group of answers one fdatasync'd line of the run's calls journal, moved
  into DuckDB once a second in one transaction, storage/journal.py);
- ``groupcommit``: the same run with the journal off, as before it (and as PostgreSQL and
  runs through another process's owner still store): one autocommit INSERT per group of
  answers, judges/group_commit.py;
- ``threads1``: ``duckdb`` with DuckDB's ``SET threads = 1`` (no worker thread of its own);
- ``nostore``: the answers not stored at all (never a valid design; the run's own Python
  work with verdicts / outputs still written).

Per row: % of the bound, process CPU per call (the run only: plan and setup excluded), and
that CPU split by thread (event loop, `to_thread` workers, DuckDB's own threads).

    .venv/bin/python benchmarks/bench_run_floor.py [--calls 1000] [--concurrency 16]
        [--rounds 3] [--variants client,duckdb,groupcommit,threads1,nostore] [--paths gen,judge]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

VARIANTS = ("client", "duckdb", "groupcommit", "threads1", "nostore")


# ---------------------------------------------------------------- per-thread CPU

def _thread_cpu() -> dict[int, int]:
    """Nanoseconds on a CPU so far, by thread id (the kernel's schedstat)."""
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                out[int(tid)] = int(f.read().split()[0])
        except OSError:
            continue
    return out


class ThreadCpu:
    """CPU by kind of thread over a stretch of the run; threads that end meanwhile are
    caught by sampling every 0.2 s (the `to_thread` workers live until the loop closes)."""

    def __init__(self) -> None:
        self.names: dict[int, str] = {}
        self.last: dict[int, int] = {}
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            self._look()

    def _look(self) -> None:
        self.last.update(_thread_cpu())
        for t in threading.enumerate():
            if t.native_id is not None:
                self.names.setdefault(t.native_id, t.name)

    def start(self) -> None:
        self.base = _thread_cpu()
        self._sampler.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._sampler.join()
        self._look()
        me = threading.get_native_id()
        by: Counter[str] = Counter()
        for tid, ns in self.last.items():
            name = self.names.get(tid)
            kind = ("sampler" if tid == self._sampler.native_id else
                    "event loop" if tid == me else
                    "to_thread" if name and name.startswith("asyncio_") else
                    name if name else "DuckDB/native")
            by[kind] += ns - self.base.get(tid, 0)
        return {k: v / 1e9 for k, v in by.items()}


# ---------------------------------------------------------------- the variants

def _install(variant: str, tmp: Path) -> None:
    import judge_app.services.generation as generation
    import judge_app.services.judge_runs as judge_runs
    import judge_app.storage.schema as schema

    if variant == "threads1":
        opened = schema.open_database

        def open_database(*args: Any, **kwargs: Any) -> Any:
            db = opened(*args, **kwargs)
            with db.cursor() as cur:
                cur.execute("SET threads = 1")
            return db
        schema.open_database = open_database  # type: ignore[assignment]
    if variant == "groupcommit":  # no journal: each group one DuckDB autocommit
        generation.open_journal = lambda *args, **kwargs: None  # type: ignore[assignment]
        judge_runs.open_journal = lambda *args, **kwargs: None  # type: ignore[assignment]
    elif variant == "nostore":
        generation._Run._store_calls = lambda self, rows: None  # type: ignore[attr-defined]
        judge_runs._Run._store_calls = lambda self, rows: None  # type: ignore[method-assign]


def one(path: str, variant: str, base_url: str, calls: int, concurrency: int) -> dict[str, Any]:
    """One run in this process: wall, CPU and CPU by thread, of the run alone."""
    import tempfile

    import benchmarks.bench_generation as bg
    import benchmarks.bench_judge as bj
    import judge_app.services.generation as generation
    import judge_app.services.judge_runs as judge_runs

    probe = ThreadCpu()
    with tempfile.TemporaryDirectory() as tmp:
        _install(variant, Path(tmp))
        if variant == "client":
            probe.start()
            if path == "gen":
                wall, cpu, _ = bg.client_alone(base_url, calls, concurrency)
            else:
                wall, cpu = asyncio.run(bj.ours(base_url, bj.workload(calls), concurrency))
            split = probe.stop()
        else:
            # the run alone: plan, import and start-up excluded, as bench_*.py time it
            for module, name in ((generation, "run_generation"), (judge_runs, "run_plan")):
                run = getattr(module, name)

                def timed(*args: Any, _run: Any = run, **kwargs: Any) -> Any:
                    probe.start()
                    try:
                        return _run(*args, **kwargs)
                    finally:
                        probe.split = probe.stop()  # type: ignore[attr-defined]
                setattr(module, name, timed)
            if path == "gen":
                wall, cpu, _ = bg.generation(base_url, calls, concurrency)
            else:
                calls = calls // 6 * 6
                wall, cpu = bj.runner(base_url, calls, concurrency)
            split = probe.split  # type: ignore[attr-defined]
    return {"path": path, "variant": variant, "calls": calls, "wall": wall, "cpu": cpu,
            "split": split}


# ---------------------------------------------------------------- the driver

def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--paths", default="gen,judge")
    parser.add_argument("--one", nargs=3, metavar=("PATH", "VARIANT", "BASE_URL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one, args.calls, args.concurrency)))
        return

    import benchmarks.bench_generation as bg
    import benchmarks.bench_judge as bj

    servers, urls = [], {}
    for path, start in (("gen", bg.start_server), ("judge", bj.start_server)):
        port = bj.free_port()
        servers.append(start(port))
        urls[path] = f"http://127.0.0.1:{port}/v1"
    bound = args.concurrency / (bg.LATENCY_MS / 1000)
    results: list[dict[str, Any]] = []
    try:
        for r in range(args.rounds):
            variants = args.variants.split(",")
            if r % 2:
                variants.reverse()  # alternate the order, so drifting load hits all alike
            for path in args.paths.split(","):
                for variant in variants:
                    load = os.getloadavg()[0]
                    out = subprocess.run(
                        [sys.executable, __file__, "--calls", str(args.calls),
                         "--concurrency", str(args.concurrency), "--one", path, variant,
                         urls[path]], cwd=ROOT, capture_output=True, text=True, check=True)
                    res = json.loads(out.stdout.strip().splitlines()[-1])
                    res.update(round=r + 1, load=load, start=time.strftime("%H:%M:%S"))
                    results.append(res)
                    split = ", ".join(f"{k} {1000 * v / res['calls']:.2f}" for k, v in
                                      sorted(res["split"].items(), key=lambda kv: -kv[1])
                                      if 1000 * v / res["calls"] >= 0.01)
                    print(f"round {r + 1} {res['start']} load {load:4.1f} {path:5s} "
                          f"{variant:8s} {100 * res['calls'] / res['wall'] / bound:3.0f}% "
                          f"{1000 * res['cpu'] / res['calls']:.2f} ms/call ({split})",
                          flush=True)
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
    print("\nmedian (min-max) over rounds: % of bound, CPU ms per call")
    for path in args.paths.split(","):
        for variant in args.variants.split(","):
            rs = [r for r in results if r["path"] == path and r["variant"] == variant]
            pct = [100 * r["calls"] / r["wall"] / bound for r in rs]
            cpu = [1000 * r["cpu"] / r["calls"] for r in rs]
            print(f"{path:5s} {variant:8s} {statistics.median(pct):3.0f}% "
                  f"({min(pct):.0f}-{max(pct):.0f}), {statistics.median(cpu):.2f} ms "
                  f"({min(cpu):.2f}-{max(cpu):.2f})")


if __name__ == "__main__":
    main()
