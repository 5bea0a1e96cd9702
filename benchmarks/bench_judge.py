"""Judge client throughput and CPU cost against the local fake server (100 ms per answer).

Targets (issue 5): 5,000 calls at concurrency 64 reach >= 90% of the ideal rate
(concurrency / latency = 640 calls/s) and cost the client < 2 ms of CPU per call. The server
runs in its own process so its CPU is not counted. Reference in the same run: the plain
openai client (`chat.completions.create`, typed responses) with a semaphore.

    .venv/bin/python benchmarks/bench_judge.py [--calls 5000] [--concurrency 64] [--no-write]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
if os.environ.get("JUDGE_APP_CODE"):  # measure another checkout's judge_app (a reference)
    sys.path.insert(0, os.environ["JUDGE_APP_CODE"])

from judge_app.core.verdict_parsing import parse_answer  # noqa: E402
from judge_app.judges.client import JudgeClient  # noqa: E402
from judge_app.judges.config import parse_config  # noqa: E402
from judge_app.judges.prompt import render  # noqa: E402

README = ROOT / "benchmarks" / "README.md"
LATENCY_MS = 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fake_openai_server", "--port", str(port),
         "--latency-ms", str(LATENCY_MS), "--no-record"],
        cwd=ROOT, stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("fake server did not start")


def server_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/stats", timeout=5) as r:
        return dict(json.loads(r.read()))


def workload(n: int) -> list[list[dict[str, str]]]:
    """Realistic judge prompts: the built-in template, answers of 600 to 2,000 characters."""
    cfg = parse_config({"name": "bench", "model": "fake", "template": "overall"})
    out = []
    for i in range(n):
        a = f"Answer {i}: " + "word " * (120 + i % 280)
        b = f"Other {i}: " + "text " * (200 + (i * 7) % 200)
        out.append(render(cfg.system, cfg.user, conversation=f"Question {i}?", first=a, second=b))
    return out


async def measure(call: Callable[[list[dict[str, str]]], Awaitable[str]],
                  prompts: list[list[dict[str, str]]], concurrency: int) -> tuple[float, float]:
    """Wall seconds and process CPU seconds for all calls (answers parsed as the runner does)."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(msgs: list[dict[str, str]]) -> bool:
        async with semaphore:
            return parse_answer(await call(msgs), "labels").ok

    warm = prompts[: concurrency * 2]
    await asyncio.gather(*(one(m) for m in warm))  # open the connections first
    wall, cpu = time.perf_counter(), time.process_time()
    ok = await asyncio.gather(*(one(m) for m in prompts))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert all(ok)
    return wall, cpu


async def ours(base_url: str, prompts: list[list[dict[str, str]]], concurrency: int,
               ) -> tuple[float, float]:
    async with JudgeClient(model="fake", base_url=base_url, api_key="x",
                           concurrency=concurrency) as client:
        async def call(msgs: list[dict[str, str]]) -> str:
            return (await client.complete(msgs)).text
        return await measure(call, prompts, concurrency)


def runner(base_url: str, calls: int, concurrency: int) -> tuple[float, float]:
    """The whole batch path: plan, calls, parsing, group-committed DuckDB writes, verdicts."""
    import tempfile

    from judge_app.services.imports import import_bundle
    from judge_app.services.judge_runs import plan_run, run_plan
    from judge_app.storage.schema import open_database
    from tests.conftest import make_bundle

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.duckdb")
        import_bundle(db, make_bundle("bench", n_prompts=calls // 6, models=("m1", "m2", "m3")))
        cfg = parse_config({"name": "bench", "model": "fake", "template": "overall",
                            "base_url": base_url, "concurrency": concurrency,
                            "input_price_per_million": 1.0, "output_price_per_million": 4.0})
        plan = plan_run(db, "bench", cfg)
        gc.freeze()  # as `judge-app judge` does
        wall, cpu = time.perf_counter(), time.process_time()
        summary = run_plan(db, plan)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert summary.status == "done" and summary.new_calls == len(plan.calls)
        db.close()
        return wall, cpu


async def plain_openai(base_url: str, prompts: list[list[dict[str, str]]], concurrency: int,
                       ) -> tuple[float, float]:
    client = openai.AsyncOpenAI(api_key="x", base_url=base_url, max_retries=0)

    async def call(msgs: list[dict[str, str]]) -> str:
        r = await client.chat.completions.create(
            model="fake", messages=msgs, temperature=0.0, max_tokens=1024)  # type: ignore[arg-type]
        return r.choices[0].message.content or ""
    try:
        return await measure(call, prompts, concurrency)
    finally:
        await client.close()


def best_of(repeat: int, measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """The fastest of `repeat` runs (the machine is shared: others only ever slow us down)."""
    return min((measure() for _ in range(repeat)), key=lambda r: r[0])


def report(name: str, calls: int, concurrency: int, wall: float, cpu: float, ideal: float,
           load: float) -> str:
    rate = calls / wall
    row = (f"| {date.today()} | {name} | {calls} | {concurrency} | {rate:.0f} | "
           f"{100 * rate / ideal:.0f}% | "
           f"{1000 * cpu / calls:.2f} | {load:.1f} |")
    print(row, flush=True)
    return row


def write_section(rows: list[str]) -> None:
    section = "\n".join([
        "## Judges", "",
        "`benchmarks/bench_judge.py`: judge calls against the local fake chat-completions "
        f"server (`tests/fake_openai_server.py`, {LATENCY_MS:g} ms per answer, its own "
        "process). Ideal rate = concurrency / latency. CPU = client process CPU time / calls "
        "(building, sending, reading and parsing). Best of 3 runs; load avg = the machine's "
        "1-minute load when the row started (2 cores, shared with other jobs). "
        "Targets: >= 90% of ideal, < 2 ms CPU per call.",
        "", "| date | client | calls | concurrency | calls/s | % of ideal | CPU ms/call | "
        "load avg |", "|---|---|---|---|---|---|---|---|", *rows, "",
        "The client posts plain dicts and reads plain JSON through `AsyncOpenAI.post` (no "
        "pydantic models) and spreads connections over pools of 16 (httpcore scans every "
        "pooled connection per request): about a third less CPU per call than the typed "
        "`create()`. Most of what is left is httpx2/httpcore2/h11/anyio. At about 1 ms a call, "
        "640 calls/s need most of a core for one event loop: when other jobs load this shared "
        "machine the loop loses the CPU for tens of milliseconds at a time (loop lag p95 ~20 "
        "ms at load 7) and the rate drops (488 calls/s, 76%, at load 6.7). The runner row "
        "adds prompt rendering, parsing, DuckDB writes and verdicts; the answers are stored "
        "by one group-commit writer that workers do not wait for, with at most 2 x "
        "concurrency calls paid and not stored (what a SIGKILL can re-pay, "
        "judges/group_commit.py).", "",
    ])
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    pattern = re.compile(r"## Judges\n.*?(?=\n## |\Z)", re.DOTALL)
    text = pattern.sub(section.rstrip("\n") + "\n", text) if pattern.search(text) else (
        text.rstrip("\n") + "\n\n" + section)
    README.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-runner", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="report the best of N runs")
    args = parser.parse_args()
    prompts = workload(args.calls)
    ideal = args.concurrency / (LATENCY_MS / 1000)
    port = free_port()
    server = start_server(port)
    rows = []
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        runs = [("judge_app JudgeClient", ours)]
        if not args.skip_reference:
            runs.append(("plain AsyncOpenAI create()", plain_openai))
        for name, fn in runs:
            load = os.getloadavg()[0]
            wall, cpu = best_of(args.repeat, lambda fn=fn: asyncio.run(
                fn(base_url, prompts, args.concurrency)))
            rows.append(report(name, args.calls, args.concurrency, wall, cpu, ideal, load))
        if not args.skip_runner:
            load = os.getloadavg()[0]
            n = args.calls // 6 * 6
            wall, cpu = best_of(args.repeat, lambda: runner(base_url, n, args.concurrency))
            rows.append(report("judge_app runner (+ DuckDB, verdicts)", n, args.concurrency,
                               wall, cpu, ideal, load))
        print("server saw at most", server_stats(port)["max_in_flight"], "requests at once")
    finally:
        server.terminate()
        server.wait(10)
    if not args.no_write:
        write_section(rows)


if __name__ == "__main__":
    main()
