"""PostgreSQL against DuckDB in the same run, at 1,000,000 verdicts and more.

What it times, each on a DuckDB file and on a PostgreSQL database built alike, interleaved
(PostgreSQL, DuckDB, PostgreSQL, DuckDB, ...), with the load average beside every figure:

- ``flow``: the rater's two page calls, the ones the pair page makes (services.rating):
  ``rating_view`` (the page drawn for a session: rater state, the open assignment or a new
  one under the task's lock, progress) and ``submit`` (one Enter: the verdict stored and the
  next pair taken in one transaction, then its texts read). 50 and 200 raters at once, each
  a thread of one process (one app server), each reading a pair for a random 0-2x``--think``
  seconds. Reference in the same run: one rater alone.
- ``throughput``: votes per second sustained by raters who never pause, voting through real
  `judge-app serve` processes (1 and 3 on PostgreSQL; one on DuckDB: its file has one owner
  process by design) as a browser does: each rater a tab speaking Streamlit's websocket
  protocol (tests/streamlit_client.py), 8 per server; a vote is an outcome click and a Submit
  click (two runs of the pair area), counted once the next pair is drawn. Also the servers'
  CPU per vote, and optionally Streamlit's ``runner.postScriptGC`` off (``--post-script-gc
  true,false``): its full garbage collection after every run is most of a vote's CPU.
  Reference with ``--reference``: the pair page's service calls alone (``submit`` in a loop,
  a thread per rater in as many processes as servers), no Streamlit.
- ``leaderboard``: ``run_leaderboard`` (GROUP BY, counting, fit, sandwich intervals, ranks)
  on 1,000,000 verdicts, in-process and as the command ``judge-app leaderboard`` (a new
  process: start, imports, connect, query, fit, print).
- ``export``: ``export_task(..., "verdicts", x.parquet)`` (``judge-app export --format
  verdicts``) of those 1,000,000 verdicts.

The data: task ``live`` (2,000 prompts x 4 models = 12,000 pairs, overlap 3) with 400,000
judge verdicts (1% retracted, as bench_rater_flow.py), and task ``bench-export`` (10,000
prompts x 4 models) with 1,000,000 verdicts, half human, half judge (bench_export.py's
builder): 1,404,000 verdicts stored. Built once and cached under ``--cache`` (default
/tmp/judge-bench-postgres): a DuckDB file, and a PostgreSQL cluster (tests/pg_server.py,
kept between runs) holding the built database; each measurement works on a fresh copy (a file
copy; ``CREATE DATABASE ... TEMPLATE``), so rounds do not see each other's votes.
The PostgreSQL server runs locally over TCP with tests/pg_server.py's settings (fsync and
synchronous_commit off) unless ``--durable`` (fsync and synchronous_commit on, as a
production server).

Run: .venv/bin/python benchmarks/bench_postgres.py [--rounds 2] [--only flow,throughput,...]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_export import TASK as EXPORT_TASK  # noqa: E402
from benchmarks.bench_export import make_task, verdict_frame  # noqa: E402
from benchmarks.bench_rater_flow import task as flow_task  # noqa: E402
from judge_app.services import raters, rating, sessions  # noqa: E402
from judge_app.services.exports import ExportRequest, export_task  # noqa: E402
from judge_app.services.imports import import_bundle  # noqa: E402
from judge_app.services.leaderboard import LeaderboardQuery, run_leaderboard  # noqa: E402
from judge_app.services.verdicts import VerdictInput  # noqa: E402
from judge_app.storage.db import Database  # noqa: E402
from judge_app.storage.frames import registered  # noqa: E402
from judge_app.storage.schema import open_database  # noqa: E402
from judge_app.storage.verdicts import VERDICT_COLUMNS  # noqa: E402
from tests import pg_server  # noqa: E402
from tests.browser_helpers import _free_port, _wait_healthy  # noqa: E402
from tests.streamlit_client import Rater, Tab, vote_for  # noqa: E402

LIVE = "live"
LIVE_VERDICTS = 400_000
EXPORT_VERDICTS = 1_000_000
BASE_DB = "bench_base"
WORK_DB = "bench_work"


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


# -- building ---------------------------------------------------------------------------------
def live_frame(pairs: pd.DataFrame, total: int) -> pd.DataFrame:
    """bench_rater_flow.fill_verdicts as one frame: judge verdicts over every pair of the live
    task, every 100th followed by its retraction; judge names on both sides of the raters'."""
    n_plain = total - total // 101
    idx = np.arange(n_plain)
    pick = pairs.iloc[idx % len(pairs)].reset_index(drop=True)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({c: pd.Series([None] * n_plain, dtype="object")
                          for c in VERDICT_COLUMNS})
    frame["verdict_id"] = [f"bulk-{i}" for i in idx]
    for c in ("task_id", "pair_id", "prompt_id", "output_a", "output_b", "model_a", "model_b"):
        frame[c] = pick[c]
    frame["rater_id"] = [f"{'az'[i % 2]}-judge-{i % 7}" for i in idx]
    frame["source"] = "judge"
    frame["left_side"] = "a"
    frame["outcome"] = rng.choice(np.array(["a", "b", "tie"]), n_plain)
    frame["flagged"] = False
    frame["created_at"] = pd.Timestamp("2026-01-01")
    undo = frame.iloc[::100].copy()
    undo["retracts"] = undo["verdict_id"]
    undo["verdict_id"] = "undo:" + undo["verdict_id"]
    undo["outcome"] = None
    return pd.concat([frame, undo], ignore_index=True)


def bulk_frames(db: Database) -> list[pd.DataFrame]:
    import_bundle(db, flow_task(LIVE, 2000, 3))
    import_bundle(db, make_task(10_000))
    with db.cursor() as cur:
        live = cur.execute("SELECT * FROM pairs WHERE task_id = ? ORDER BY pair_id",
                           [LIVE]).df()
        exp = cur.execute("SELECT * FROM pairs WHERE task_id = ? ORDER BY pair_id",
                          [EXPORT_TASK]).df()
    return [live_frame(live, LIVE_VERDICTS), verdict_frame(exp, EXPORT_VERDICTS)]


def build_duckdb(path: Path) -> None:
    tmp = path.with_suffix(".building")
    tmp.unlink(missing_ok=True)
    db = open_database(tmp)
    for frame in bulk_frames(db):  # DuckDB: one registered frame, one INSERT
        with db.transaction() as cur, registered(cur, "incoming", frame):
            cur.execute(f"INSERT INTO verdicts ({', '.join(VERDICT_COLUMNS)}) "  # noqa: S608
                        f"SELECT {', '.join(VERDICT_COLUMNS)} FROM incoming")
    db.close()
    tmp.rename(path)


def build_postgres(url: str) -> None:
    import psycopg

    db = open_database(url)
    frames = bulk_frames(db)
    db.close()
    with psycopg.connect(url) as conn, conn.cursor() as cur:  # PostgreSQL: COPY in CSV
        for frame in frames:
            frame = frame.copy()
            frame["created_at"] = frame["created_at"].astype(str)
            cols = ", ".join(VERDICT_COLUMNS)
            with cur.copy(f"COPY verdicts ({cols}) FROM STDIN (FORMAT csv)") as copy:
                for start in range(0, len(frame), 100_000):
                    buf = io.StringIO()
                    frame.iloc[start:start + 100_000].to_csv(buf, header=False, index=False)
                    copy.write(buf.getvalue())
        cur.execute("ANALYZE")


def count_verdicts(db: Database) -> int:
    with db.cursor() as cur:
        row = cur.execute("SELECT count(*) FROM verdicts").fetchone()
    return int(row[0]) if row else 0


def verdicts_in(target: str) -> int:
    """Verdicts stored now, read through a connection of its own (after the servers)."""
    db = open_database(target)
    try:
        return count_verdicts(db)
    finally:
        db.close()


class Backends:
    """The cached databases, and fresh working copies of them."""

    def __init__(self, cache: Path, durable: bool) -> None:
        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)
        settings = "-c fsync=on -c synchronous_commit=on" if durable else ""
        self.server = pg_server.start(cache / "pg", settings=settings + " -c shared_buffers=256MB")
        self.base_file = cache / "base.duckdb"
        self.work_file = cache / "work.duckdb"
        if not self.base_file.exists():
            t = time.perf_counter()
            build_duckdb(self.base_file)
            print(f"built DuckDB in {time.perf_counter() - t:.1f} s (load {load()})", flush=True)
        if not self._pg_has(BASE_DB):
            t = time.perf_counter()
            self.server.admin(f"DROP DATABASE IF EXISTS {BASE_DB}")
            self.server.admin(f"CREATE DATABASE {BASE_DB}")
            build_postgres(self.server.url(BASE_DB))
            self.server.admin(f"COMMENT ON DATABASE {BASE_DB} IS 'built'")
            print(f"built PostgreSQL in {time.perf_counter() - t:.1f} s (load {load()})",
                  flush=True)

        for target in (str(self.base_file), self.server.url(BASE_DB)):
            open_database(target).close()  # migrations newer than the cached build

    def _pg_has(self, name: str) -> bool:
        import psycopg

        with psycopg.connect(self.server.url(), autocommit=True) as conn:
            row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                               "WHERE datname = %s", [name]).fetchone()
        return bool(row and row[0] == "built")

    def fresh(self, kind: str) -> str:
        """A working copy of the built database: its --db target."""
        if kind == "duckdb":
            self.work_file.unlink(missing_ok=True)
            Path(str(self.work_file) + ".wal").unlink(missing_ok=True)
            shutil.copyfile(self.base_file, self.work_file)
            return str(self.work_file)
        self.server.admin(f"DROP DATABASE IF EXISTS {WORK_DB} WITH (FORCE)")
        self.server.admin(f"CREATE DATABASE {WORK_DB} TEMPLATE {BASE_DB}")
        return self.server.url(WORK_DB)

    def stop(self) -> None:
        self.server.stop()


# -- rater flow -------------------------------------------------------------------------------
def add_raters(db: Database, names: list[str]) -> list[str]:
    return [str(sessions.sign_in(db, raters.add_rater(db, n, tasks=[LIVE]).token))
            for n in names]


def rater_loop(db: Database, session: str, rounds: int, think: float, seed: str,
               times: dict[str, list[float]], lock: threading.Lock) -> None:
    rng = random.Random(seed)
    mine: dict[str, list[float]] = {"rating_view": [], "submit": []}
    time.sleep(rng.uniform(0, 2 * think))  # raters arrive over time, not all at once
    for _ in range(rounds):
        t = time.perf_counter()
        view = rating.rating_view(db, session, LIVE)  # the page drawn afresh
        mine["rating_view"].append(time.perf_counter() - t)
        if view.pair is None:
            break
        time.sleep(rng.uniform(0, 2 * think))  # reading the pair
        t = time.perf_counter()
        _, after = rating.submit(db, session, VerdictInput(
            view.pair.assignment_id, "left", uuid.uuid4().hex, duration_ms=1000))
        mine["submit"].append(time.perf_counter() - t)
        if after.pair is None:
            break
    with lock:
        for key, values in mine.items():
            times[key].extend(values)


def flow(db: Database, sessions_: list[str], rounds: int, think: float
         ) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"rating_view": [], "submit": []}
    lock = threading.Lock()
    threads = [threading.Thread(target=rater_loop,
                                args=(db, s, rounds, think, f"{s}", times, lock))
               for s in sessions_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return times


def pct(values: list[float], q: float) -> float:
    ms = sorted(v * 1000 for v in values)
    return ms[min(len(ms) - 1, int(q * len(ms)))]


def flow_rows(kind: str, target: str, n_raters: int, rounds: int, think: float,
              tag: str) -> list[str]:
    db = open_database(target)
    solo = add_raters(db, [f"solo-{tag}"])
    crowd = add_raters(db, [f"r{n_raters}-{tag}-{i:03d}" for i in range(n_raters)])
    before = load()
    alone = flow(db, solo, rounds * 2, 0.0)
    opens = db.opens
    together = flow(db, crowd, rounds, think)
    opened = db.opens - opens  # PostgreSQL: connections the pool opened for the crowd
    after = load()
    db.close()
    print(f"{kind}, {n_raters} raters: {opened} connections opened", flush=True)
    rows = []
    for key in ("rating_view", "submit"):
        a, t = alone[key], together[key]
        rows.append(f"| {kind} | {n_raters} | {key} | {statistics.median(a) * 1000:.1f} / "
                    f"{pct(a, 0.95):.1f} | {len(t)} | {statistics.median(t) * 1000:.1f} | "
                    f"{pct(t, 0.95):.1f} | {max(t) * 1000:.1f} | {before} -> {after} |")
    return rows


# -- throughput -------------------------------------------------------------------------------
def serve(target: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A real `judge-app serve` (its Streamlit server) on 127.0.0.1:port, once healthy."""
    proc = subprocess.Popen([sys.executable, "-m", "judge_app.cli", "serve", "--db", target,
                             "--port", str(port)], cwd=ROOT, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_rater(db: Database, session: str, until: float, out: list[int]) -> None:
    view = rating.rating_view(db, session, LIVE)
    done = 0
    while view.pair is not None and time.time() < until:
        _, view = rating.submit(db, session, VerdictInput(
            view.pair.assignment_id, "left", uuid.uuid4().hex, duration_ms=500))
        done += 1
    out.append(done)


def busy_process(target: str, sessions_: list[str], start: float, until: float,
                 queue: Any) -> None:
    """The reference: the pair page's service calls in a thread per rater, no Streamlit."""
    db = open_database(target)
    counts: list[int] = []
    time.sleep(max(0.0, start - time.time()))
    threads = [threading.Thread(target=busy_rater, args=(db, s, until, counts))
               for s in sessions_]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    db.close()
    queue.put(sum(counts))


def direct_row(kind: str, target: str, procs: int, per_proc: int, seconds: float,
               tag: str) -> str:
    """Reference row: what the database side alone sustains (``submit`` in a loop in
    ``procs`` processes), in the servers' table's columns."""
    db = open_database(target)
    sessions_ = add_raters(db, [f"direct-{tag}-{i:03d}" for i in range(procs * per_proc)])
    stored_before = count_verdicts(db)
    db.close()  # DuckDB: the workers' process owns the file (one owner, as `judge-app serve`)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    start = time.time() + 3.0  # processes start, import and connect first
    until = start + seconds
    workers = [ctx.Process(target=busy_process,
                           args=(target, sessions_[i * per_proc:(i + 1) * per_proc],
                                 start, until, queue)) for i in range(procs)]
    before = load()
    for w in workers:
        w.start()
    counts = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    after = load()
    elapsed = time.time() - start
    stored = verdicts_in(target) - stored_before
    return (f"| {kind}, reference: no Streamlit | {procs} processes | {procs * per_proc} | - | "
            f"{sum(counts)} | {sum(counts)} / {stored} | {elapsed:.1f} | "
            f"{sum(counts) / elapsed:.1f} | - | {before} -> {after} |")


def throughput_row(kind: str, target: str, n_servers: int, per_server: int, warmup: float,
                   seconds: float, tag: str, post_script_gc: str) -> str:
    """Raters who never pause, voting through real app servers: each a tab speaking
    Streamlit's websocket protocol (tests/streamlit_client.py: an outcome clicked, then
    Submit; a vote counts once the next pair is drawn), spread evenly over the servers."""
    db = open_database(target)
    sessions_ = add_raters(db, [f"busy-{tag}-{i:03d}" for i in range(n_servers * per_server)])
    stored_before = count_verdicts(db)
    db.close()  # DuckDB: the server owns the file; PostgreSQL: the servers' own pools
    env = {"STREAMLIT_RUNNER_POST_SCRIPT_GC": post_script_gc}
    ports = [_free_port() for _ in range(n_servers)]
    servers = [serve(target, port, env) for port in ports]
    try:
        for i, port in enumerate(ports):  # each server's first run imports the pages
            asyncio.run(open_once(f"http://127.0.0.1:{port}", sessions_[i]))
        raters_ = [Rater(f"http://127.0.0.1:{ports[i % n_servers]}", s, seed=i,
                         think_s=(0.0, 0.0)) for i, s in enumerate(sessions_)]
        window = asyncio.run(measure(raters_, servers, warmup, seconds))
    finally:
        for proc in servers:
            proc.terminate()
        for proc in servers:
            proc.wait(timeout=60)
    votes, elapsed, cpu, loads = window
    acked = sum(len(r.acked) for r in raters_)
    stored = verdicts_in(target) - stored_before
    return (f"| {kind} | {n_servers} | {n_servers * per_server} | {post_script_gc} | {votes} | "
            f"{acked} / {stored} | {elapsed:.1f} | {votes / elapsed:.1f} | "
            f"{cpu * 1000 / max(votes, 1):.0f} | {loads} |")


async def open_once(url: str, session: str) -> None:
    tab = Tab(url, session)
    await tab.load()
    await tab.close()


async def measure(raters_: list[Rater], servers: list[subprocess.Popen[bytes]], warmup: float,
                  seconds: float) -> tuple[int, float, float, str]:
    """Votes acknowledged, seconds, and the servers' CPU seconds in the window after the
    warm-up (every tab loaded and voting), and the load before -> after."""
    voting = asyncio.create_task(vote_for(raters_, warmup + seconds + 2.0))  # stops after
    await asyncio.sleep(warmup)
    acked, cpu, start, before = (sum(len(r.acked) for r in raters_),
                                 sum(cpu_seconds(p.pid) for p in servers), time.monotonic(),
                                 load())
    await asyncio.sleep(seconds)
    window = (sum(len(r.acked) for r in raters_) - acked, time.monotonic() - start)
    spent = sum(cpu_seconds(p.pid) for p in servers) - cpu
    after = load()
    await voting
    return (*window, spent, f"{before} -> {after}")


# -- leaderboard and export -------------------------------------------------------------------
def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def leaderboard_row(kind: str, target: str) -> str:
    db = open_database(target)
    before = load()
    inproc = [timed(lambda: run_leaderboard(db, LeaderboardQuery(EXPORT_TASK)))
              for _ in range(3)]
    db.close()
    cmd = [str(ROOT / ".venv/bin/judge-app"), "leaderboard", "--db", target,
           "--task", EXPORT_TASK]
    cli = [timed(lambda: subprocess.run(cmd, check=True, capture_output=True))
           for _ in range(3)]
    return (f"| {kind} | {statistics.median(inproc):.2f} ({min(inproc):.2f}) | "
            f"{statistics.median(cli):.2f} ({min(cli):.2f}) | {before} -> {load()} |")


def export_row(kind: str, target: str) -> str:
    db = open_database(target)
    before = load()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(3):
            out = Path(tmp) / f"{i}" / "verdicts.parquet"
            runs.append(timed(lambda out=out: export_task(  # type: ignore[misc]
                db, ExportRequest(EXPORT_TASK, "verdicts"), out)))
        rows = pd.read_parquet(out, columns=["verdict_id"]).shape[0]
    db.close()
    return (f"| {kind} | {rows:,} | {statistics.median(runs):.2f} ({min(runs):.2f}) | "
            f"{before} -> {load()} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/judge-bench-postgres"))
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per figure")
    parser.add_argument("--only", default="flow,throughput,leaderboard,export")
    parser.add_argument("--raters", default="50,200")
    parser.add_argument("--votes", type=int, default=6, help="votes per rater in the flow")
    parser.add_argument("--think", type=float, default=10.0, help="mean seconds per pair")
    parser.add_argument("--seconds", type=float, default=30.0, help="throughput window")
    parser.add_argument("--warmup", type=float, default=15.0,
                        help="seconds of voting before the throughput window (tabs loading)")
    parser.add_argument("--busy", type=int, default=8, help="busy raters per app server")
    parser.add_argument("--reference", action="store_true",
                        help="throughput: also the service calls alone, no Streamlit")
    parser.add_argument("--post-script-gc", default="true",
                        help="Streamlit's runner.postScriptGC for the servers: true (its "
                        "default), false, or both (true,false)")
    parser.add_argument("--durable", action="store_true")
    parser.add_argument("--kinds", default="postgresql,duckdb")
    args = parser.parse_args()
    only = set(args.only.split(","))
    backends = Backends(args.cache, args.durable)
    out: dict[str, list[str]] = {k: [] for k in ("flow", "throughput", "leaderboard", "export")}
    try:
        for kind in ("duckdb", "postgresql"):
            db = open_database(backends.fresh(kind))
            print(f"{kind}: {count_verdicts(db):,} verdicts stored", flush=True)
            db.close()
        order = tuple(args.kinds.split(","))
        for r in range(args.rounds):
            for kind in order if r % 2 == 0 else order[::-1]:
                tag = f"{r}{kind[0]}"
                if "leaderboard" in only:
                    out["leaderboard"].append(leaderboard_row(kind, backends.fresh(kind)))
                    print(out["leaderboard"][-1], flush=True)
                if "export" in only:
                    out["export"].append(export_row(kind, backends.fresh(kind)))
                    print(out["export"][-1], flush=True)
                if "flow" in only:
                    for n in (int(x) for x in args.raters.split(",")):
                        rows = flow_rows(kind, backends.fresh(kind), n, args.votes,
                                         args.think, tag)
                        out["flow"].extend(rows)
                        print("\n".join(rows), flush=True)
                if "throughput" in only:
                    for n_servers in ((1, 3) if kind == "postgresql" else (1,)):
                        for gc in args.post_script_gc.split(","):
                            row = throughput_row(kind, backends.fresh(kind), n_servers,
                                                 args.busy, args.warmup, args.seconds, tag, gc)
                            out["throughput"].append(row)
                            print(row, flush=True)
                        if args.reference:
                            row = direct_row(kind, backends.fresh(kind), n_servers, args.busy,
                                             args.seconds, tag)
                            out["throughput"].append(row)
                            print(row, flush=True)
    finally:
        backends.stop()
    heads = {
        "flow": "| database | raters | call | 1 rater p50 / p95 ms | n | p50 ms | p95 ms | max ms "
                "| load |\n|---|---|---|---|---|---|---|---|---|",
        "throughput": "| database | app servers | raters | postScriptGC | votes acknowledged "
                      "| whole run: acknowledged / stored | seconds | votes/s "
                      "| server CPU ms per vote | load |\n"
                      "|---|---|---|---|---|---|---|---|---|---|",
        "leaderboard": "| database | run_leaderboard s, median (best) | `judge-app leaderboard`"
                       " s, median (best) | load |\n|---|---|---|---|",
        "export": "| database | rows | export s, median (best) | load |\n|---|---|---|---|",
    }
    for key, rows in out.items():
        if rows:
            print(f"\n{key}\n{heads[key]}\n" + "\n".join(rows))
    print(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}}))


if __name__ == "__main__":
    main()
