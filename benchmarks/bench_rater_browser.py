"""The rater's page in a real browser: from Enter to the next pair fully drawn.

A real `judge-app serve` on the demo database (optionally with N judge verdicts added), one
rater in Debian's headless chromium voting with the keyboard. Timed per vote, in the page: from
just before Enter is pressed to the animation frame after the next pair is in place (its Submit
button, the last widget drawn, carries the next assignment id), with no stale element left,
the script run finished and the keyboard line shown (drawn under the pair area; since
2026-12-02 once per page, outside the part a vote reruns).

``--before DIR`` also measures another checkout of the project (the code before a change, e.g.
``git archive <commit> | tar -x -C DIR``) in the same run; each checkout builds its own database
with its own code. ``--code PATH ...`` measures any list of checkouts. All servers of one
verdict count run at once, each with its own tab, and the tabs vote in turn, so the load of
this shared machine falls on every version alike.
``--floor`` also times ``rater_floor_app.py``: the same elements from texts in memory, no
database, no service call: what Streamlit and the browser cost per vote on this machine.
``--env K=V,...`` runs every target again with these environment variables (Streamlit
options, e.g. STREAMLIT_RUNNER_FAST_RERUNS=false), in the same rounds.
``--probe`` splits each vote by timestamps (page: Enter, websocket send and receive; server,
via rater_probe.py: BackMsg, callbacks, script run, writes); ``--trace`` adds chromium's
main-thread work per vote (JavaScript, style, layout, paint) from a trace.
``--read-ms N`` pauses N ms on each pair before choosing, as a rater reading it would (since
2026-12-02 the page reads the next pair while the rater reads; without a pause the tabs still
vote in turn, so each tab waits for the others' votes).
Run: .venv/bin/python benchmarks/bench_rater_browser.py [--votes 40] [--verdicts 0 1000000]
     [--before /tmp/old] [--floor] [--env K=V,...] [--probe] [--trace] [--read-ms 0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TASK = "demo-alpaca"

# Arms a MutationObserver; window.__benchResult gets the ms from arming to the frame after the
# next pair (another assignment id in the Submit button's key) is fully drawn.
ARM = """(old) => {
  window.__benchResult = undefined;
  const t0 = performance.now();
  window.__benchT0 = performance.timeOrigin + t0;
  performance.mark('bench-start');
  const drawn = () => {
    const submit = document.querySelector('[class*="st-key-submit_"]');
    const m = submit && submit.className.match(/st-key-submit_([0-9a-f]+)/);
    if (!m || m[1] === old) return false;
    if (document.querySelector('[data-stale="true"]')) return false;
    if (!document.querySelector('[data-testid="stApp"][data-test-script-state="notRunning"]'))
      return false;
    return [...document.querySelectorAll('[data-testid="stCaptionContainer"]')]
      .some(e => e.textContent.startsWith('Keyboard:'));
  };
  let armed = true;
  const obs = new MutationObserver(() => {
    if (armed && drawn()) {
      armed = false;
      obs.disconnect();
      requestAnimationFrame(() => {
        performance.mark('bench-end');
        window.__benchResult = performance.now() - t0;
      });
    }
  });
  obs.observe(document.body, {subtree: true, childList: true, attributes: true,
                              characterData: true});
}"""
# With --probe: the time (ms since the epoch, the clock rater_probe.py logs with) each
# websocket message left or reached the page, and the page's long tasks.
WS_LOG = """(() => {
  window.__ws = [];
  window.__longtasks = [];
  const now = () => performance.timeOrigin + performance.now();
  window.WebSocket = new Proxy(window.WebSocket, {construct(target, args) {
    const ws = new target(...args);
    const send = ws.send.bind(ws);
    ws.send = (d) => { window.__ws.push(['send', now()]); return send(d); };
    ws.addEventListener('message', () => window.__ws.push(['recv', now()]));
    return ws;
  }});
  try {
    new PerformanceObserver(l => l.getEntries().forEach(e => window.__longtasks.push(
      [performance.timeOrigin + e.startTime, e.duration]))).observe({type: 'longtask'});
  } catch (e) {}
})();"""
CURRENT = """() => { const s = document.querySelector('[class*="st-key-submit_"]');
  const m = s && s.className.match(/st-key-submit_([0-9a-f]+)/); return m ? m[1] : null; }"""


def fill_verdicts(path: str, total: int) -> None:
    """Judge verdicts over every pair, 1% retracted (run with the checkout's own code)."""
    import random
    from datetime import datetime

    from judge_app.storage import verdicts
    from judge_app.storage.schema import open_database

    db = open_database(path)
    with db.cursor() as cur:
        pairs = cur.execute("SELECT pair_id, task_id, prompt_id, output_a, output_b, model_a, "
                            "model_b FROM pairs").fetchall()
    rng, batch, made = random.Random(0), [], 0
    while made < total:
        p = pairs[made % len(pairs)]
        vid = f"bulk-{made}"
        batch.append({"verdict_id": vid, "task_id": p[1], "pair_id": p[0], "prompt_id": p[2],
                      "rater_id": f"{'az'[made % 2]}-judge-{made % 7}", "source": "judge",
                      "output_a": p[3], "output_b": p[4], "model_a": p[5], "model_b": p[6],
                      "left_side": "a", "outcome": rng.choice(["a", "b", "tie"]),
                      "flagged": False, "created_at": datetime(2026, 1, 1)})
        made += 1
        if made % 100 == 0:
            batch.append({**batch[-1], "verdict_id": f"undo:{vid}", "outcome": None,
                          "retracts": vid})
            made += 1
        if len(batch) >= 200_000 or made >= total:
            with db.transaction() as cur:
                verdicts.insert_verdicts(cur, batch)
            batch = []
    db.close()


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(root), "PYTHONUNBUFFERED": "1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(root: Path, db: Path, verdicts: int, port: int) -> str:
    """Demo database made by this checkout's CLI; returns a rater's login link."""
    def cli(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "judge_app.cli", *args, "--db", str(db)],
                              cwd=root, env=_env(root), capture_output=True, text=True,
                              check=True)
        return done.stdout
    cli("demo")
    if verdicts:
        subprocess.run([sys.executable, str(HERE / "bench_rater_browser.py"), "--fill", str(db),
                        str(verdicts)], cwd=root, env=_env(root), check=True)
    out = cli("raters", "add", "bench", "--task", TASK, "--base-url",
              f"http://127.0.0.1:{port}")
    found = re.search(r"(http://\S+)", out)
    assert found, out
    return found[1]


@contextmanager
def serving(cmd: list[str], root: Path, port: int, env: dict[str, str]) -> Iterator[None]:
    """A server process of its own session, healthy before the block and stopped after."""
    server = subprocess.Popen(cmd, cwd=root, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health"):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


class Voter:
    """One tab on one server, voting with the keyboard (1, then Enter)."""

    def __init__(self, page: Any, link: str, probe: bool = False, read_ms: int = 0) -> None:
        from playwright.sync_api import expect

        self.page, self.expect, self.read_ms = page, expect, read_ms
        self.windows: list[tuple[float, float]] = []  # epoch ms: Enter pressed, pair drawn
        if probe:
            page.add_init_script(WS_LOG)
        self.idle = page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
        page.set_default_timeout(60_000)
        page.goto(link)
        expect(page.get_by_text("Keyboard:")).to_be_visible(timeout=120_000)
        expect(self.idle).to_have_count(1)
        page.wait_for_timeout(1000)  # the shortcuts listen once the first run has settled

    def vote(self) -> float:
        """ms from Enter to the next pair drawn (see ARM)."""
        page, expect = self.page, self.expect
        expect(self.idle).to_have_count(1)
        if self.read_ms:  # the rater reads the pair before choosing
            page.wait_for_timeout(self.read_ms)
        old = page.evaluate(CURRENT)
        page.keyboard.press("1")
        expect(page.locator('[data-testid="stBaseButton-primary"]',
                            has_text="A is better")).to_be_visible()
        expect(self.idle).to_have_count(1)
        page.evaluate(ARM, old)
        page.keyboard.press("Enter")
        page.wait_for_function("window.__benchResult !== undefined")
        took, start = page.evaluate("[window.__benchResult, window.__benchT0]")
        self.windows.append((float(start), float(start) + float(took)))
        return float(took)


def _probed(cmd: list[str], probe: Path | None, streamlit: bool = False) -> list[str]:
    """The server command, run under rater_probe.py (logging to ``probe``) when asked."""
    if probe is None:
        return cmd
    return [sys.executable, str(HERE / "rater_probe.py"), str(probe), "--",  # after `-m X`
            *(["--streamlit"] if streamlit else []), *cmd[3:]]


@contextmanager
def rater_server(root: Path, verdicts: int, env: dict[str, str] | None = None,
                 probe: Path | None = None) -> Iterator[str]:
    """A checkout's own demo database (plus verdicts) served by its own code; a login link."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        port = _free_port()
        link = build(root, db, verdicts, port)
        cmd = [sys.executable, "-m", "judge_app.cli", "serve", "--db", str(db), "--port",
               str(port)]
        with serving(_probed(cmd, probe), root, port, {**_env(root), **(env or {})}):
            yield link


@contextmanager
def floor_server(env: dict[str, str] | None = None, probe: Path | None = None
                 ) -> Iterator[str]:
    """rater_floor_app.py on the demo task's texts: the pair page's elements, no database."""
    root = HERE.parent
    with tempfile.TemporaryDirectory() as tmp:
        db, texts = Path(tmp) / "floor.duckdb", Path(tmp) / "texts.json"
        subprocess.run([sys.executable, "-m", "judge_app.cli", "demo", "--db", str(db)],
                       cwd=root, env=_env(root), capture_output=True, check=True)
        subprocess.run([sys.executable, str(HERE / "bench_rater_browser.py"), "--texts",
                        str(db), str(texts)], cwd=root, env=_env(root), check=True)
        port = _free_port()
        cmd = [sys.executable, "-m", "streamlit", "run", str(HERE / "rater_floor_app.py"),
               "--server.address", "127.0.0.1", "--server.port", str(port),
               "--server.headless", "true", "--browser.gatherUsageStats", "false"]
        with serving(_probed(cmd, probe, streamlit=True), root, port,
                     {**_env(root), "BENCH_FLOOR_TEXTS": str(texts), **(env or {})}):
            yield f"http://127.0.0.1:{port}/"


def measure(targets: dict[str, Any], votes: int, warmup: int,
            probes: dict[str, Path] | None = None, trace: Path | None = None,
            read_ms: int = 0) -> dict[str, list[float]]:
    """All servers up at once, one tab each, votes taken in turn (tab 1, tab 2, ..., tab 1,
    ...): a load spike on this shared machine hits every version alike. With ``probes`` (a
    server log per target, see rater_probe.py) each vote is also split into where its time
    went; with ``trace`` chromium records its main threads' work for the same split."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # a busy shared machine, not a failure
    times: dict[str, list[float]] = {name: [] for name in targets}
    with ExitStack() as stack:
        links = {name: stack.enter_context(server) for name, server in targets.items()}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            voters = {name: Voter(browser.new_context(
                viewport={"width": 1280, "height": 900}).new_page(), link, probes is not None,
                read_ms)
                for name, link in links.items()}
            for n in range(warmup + votes):
                if n == warmup and trace is not None:
                    browser.start_tracing(path=str(trace), categories=TRACE_CATEGORIES)
                for name, voter in voters.items():
                    took = voter.vote()
                    if n >= warmup:
                        times[name].append(took)
            if trace is not None:
                browser.stop_tracing()
            if probes is not None:
                for name, voter in voters.items():
                    page_log = voter.page.evaluate("[window.__ws, window.__longtasks]")
                    probes[name].with_suffix(".page.json").write_text(json.dumps(
                        {"windows": voter.windows[warmup:], "ws": page_log[0],
                         "longtasks": page_log[1]}), encoding="utf-8")
                    split(name, voter.windows[warmup:], probes[name], *page_log)
            if trace is not None:
                for name, voter in voters.items():
                    browser_work(name, voter.windows[warmup:], trace)
            browser.close()
    return times


TRACE_CATEGORIES = ["toplevel", "devtools.timeline", "blink.user_timing", "v8.execute"]


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def split(name: str, windows: list[tuple[float, float]], log: Path,
          ws: list[list[Any]], longtasks: list[list[float]]) -> None:
    """Each vote, Enter to the pair drawn, cut at the page's websocket send, the server's
    BackMsg, its callbacks, its script run, its last write and the page's last receive."""
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    parts: dict[str, list[float]] = {}
    counts: dict[str, list[float]] = {}

    def add(table: dict[str, list[float]], key: str, value: float) -> None:
        table.setdefault(key, []).append(value)

    for start, end in windows:
        inside = [e for e in events if start <= e["t"] <= end]
        sent = [t for kind, t in ws if kind == "send" and start <= t <= end]
        got = [t for kind, t in ws if kind == "recv" and start <= t <= end]
        back = [e for e in inside if e["ev"] == "backmsg" and e["kind"] == "rerun_script"]
        runs = [e for e in inside if e["ev"] == "script" and e["kind"] == "SCRIPT_STARTED"]
        stops = [e for e in inside if e["ev"] == "script" and "STOPPED" in e["kind"]]
        cbs = [e for e in inside if e["ev"] == "callbacks_end"]
        writes = [e for e in inside if e["ev"] == "write"]
        deltas = [e for e in writes if e["kind"] == "delta"]
        add(counts, "rerun requests", len(back))
        add(counts, "script runs", len(runs))
        add(counts, "fragment runs", sum(1 for e in runs if e["fragments"]))
        add(counts, "deltas sent", len(deltas))
        add(counts, "bytes sent", sum(e["bytes"] for e in writes))
        add(counts, "messages received by the page", len(got))
        if not (sent and back and runs and stops and writes and got):
            continue
        run0, stop = runs[0]["t"], stops[-1]["t"]
        cb_end = cbs[0]["t"] if cbs else run0
        add(parts, "1 page: Enter to websocket send", sent[0] - start)
        add(parts, "2 send to server BackMsg", back[0]["t"] - sent[0])
        add(parts, "3 BackMsg to script run start", run0 - back[0]["t"])
        add(parts, "4 callbacks (the vote's service call)", max(0.0, cb_end - run0))
        add(parts, "5 script body after callbacks", stop - max(cb_end, run0))
        add(parts, "6 script end to last write", max(0.0, writes[-1]["t"] - stop))
        add(parts, "7 last write to page's last receive", got[-1] - writes[-1]["t"])
        add(parts, "8 page: last receive to pair drawn", end - got[-1])
        add(parts, "  page: first receive to pair drawn", end - got[0])
        add(parts, "  server: BackMsg to last write", writes[-1]["t"] - back[0]["t"])
        add(parts, "  page long tasks (sum, ms)",
            sum(d for t, d in longtasks if start <= t <= end))
        add(parts, "total", end - start)
    print(f"\n{name}: where a vote's time goes, ms (p50 / p95 over {len(windows)} votes)")
    for key in sorted(parts):
        print(f"  {key:<45} {statistics.median(parts[key]):7.1f} {_pct(parts[key], .95):7.1f}")
    print("  per vote (median): " + ", ".join(
        f"{key} {statistics.median(v):.0f}" for key, v in counts.items()))


def browser_work(name: str, windows: list[tuple[float, float]], trace: Path) -> None:
    """Chromium's renderer main-thread time inside each vote (between the page's
    bench-start and bench-end marks), by kind of work (self time of each trace event)."""
    data = json.loads(trace.read_text(encoding="utf-8"))
    events = data["traceEvents"] if isinstance(data, dict) else data
    marks = [e for e in events if e.get("name") in ("bench-start", "bench-end")
             and e.get("ph") in ("R", "I", "n", "b", "e", "i")]
    mains = {(e["pid"], e["tid"]) for e in events if e.get("ph") == "M"
             and e.get("name") == "thread_name"
             and e.get("args", {}).get("name") == "CrRendererMain"}
    # Which renderer is this tab: the one whose marks are as many as its votes, in order.
    by_pid: dict[int, list[dict[str, Any]]] = {}
    for e in marks:
        by_pid.setdefault(e["pid"], []).append(e)
    kinds = {"FunctionCall": "js", "EvaluateScript": "js", "v8.evaluateModule": "js",
             "TimerFire": "js", "EventDispatch": "js", "FireAnimationFrame": "js",
             "RunMicrotasks": "js", "HandlePostMessage": "js",
             "UpdateLayoutTree": "style", "Layout": "layout", "PrePaint": "paint",
             "Paint": "paint", "Layerize": "paint", "UpdateLayer": "paint",
             "Commit": "paint", "CompositeLayers": "paint", "ParseHTML": "parse",
             "Receive mojo message": "ipc (websocket data in)"}

    def kind_of(event_name: str) -> str:
        if event_name.startswith("V8.GC") or event_name in ("MinorGC", "MajorGC"):
            return "gc"
        if event_name.startswith("V8."):
            return "js"
        return kinds.get(event_name, "other")

    for pid, pid_marks in by_pid.items():
        pid_marks.sort(key=lambda e: e["ts"])
        starts = [e["ts"] for e in pid_marks if e["name"] == "bench-start"]
        ends = [e["ts"] for e in pid_marks if e["name"] == "bench-end"]
        if len(starts) != len(windows) or len(ends) != len(windows):
            continue
        # Which page: its first vote's length matches this renderer's first vote.
        first = (ends[0] - starts[0]) / 1000
        if abs(first - (windows[0][1] - windows[0][0])) > 2:
            continue
        threads = {tid for p, tid in mains if p == pid}
        spans = sorted((e for e in events if e.get("ph") == "X" and e.get("pid") == pid
                        and e.get("tid") in threads and "dur" in e),
                       key=lambda e: (e["ts"], -e["dur"]))
        totals: dict[str, list[float]] = {}
        for s0, s1 in zip(starts, ends, strict=True):
            inside = [e for e in spans if s0 <= e["ts"] < s1]
            self_time = {id(e): float(e["dur"]) for e in inside}
            stack: list[dict[str, Any]] = []
            for e in inside:  # self time: each event's duration less its children's
                while stack and stack[-1]["ts"] + stack[-1]["dur"] <= e["ts"]:
                    stack.pop()
                if stack:
                    self_time[id(stack[-1])] -= e["dur"]
                stack.append(e)
            vote: dict[str, float] = {}
            for e in inside:
                kind = kind_of(e["name"])
                vote[kind] = vote.get(kind, 0.0) + self_time[id(e)] / 1000
            vote["busy (top-level tasks)"] = sum(
                e["dur"] for e in inside if e["name"].endswith("RunTask")) / 1000
            for kind, ms in vote.items():
                totals.setdefault(kind, []).append(ms)
        print(f"\n{name}: chromium main thread per vote, ms (p50 / p95; self time)")
        for kind in sorted(totals):
            values = totals[kind] + [0.0] * (len(windows) - len(totals[kind]))
            print(f"  {kind:<30} {statistics.median(values):7.1f} {_pct(values, .95):7.1f}")
        return
    print(f"\n{name}: no renderer with {len(windows)} marked votes in the trace")


def dump_texts(path: str, out: str) -> None:
    """Prompt and both answers of the demo task's pairs, as the floor app shows them."""
    from judge_app.storage import catalog
    from judge_app.storage.schema import open_database

    db = open_database(path)
    with db.cursor() as cur:
        ids = [r[0] for r in cur.execute("SELECT pair_id FROM pairs WHERE task_id = ? "
                                         "ORDER BY pair_id LIMIT 60", [TASK]).fetchall()]
        views = [catalog.get_pair_view(cur, pid) for pid in ids]
    db.close()
    rows = [[v["messages"][0]["content"], v["response_a"][0]["content"],
             v["response_b"][0]["content"]] for v in views if v]
    Path(out).write_text(json.dumps(rows), encoding="utf-8")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--fill":
        fill_verdicts(sys.argv[2], int(sys.argv[3]))
        return
    if len(sys.argv) == 4 and sys.argv[1] == "--texts":
        dump_texts(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--votes", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--verdicts", type=int, nargs="*", default=[0, 1_000_000])
    parser.add_argument("--code", nargs="*", default=[str(HERE.parent)],
                        help="checkouts to measure (default: this one)")
    parser.add_argument("--before", type=Path,
                        help="checkout of the version to compare with, measured first")
    parser.add_argument("--floor", action="store_true",
                        help="also time rater_floor_app.py: the same elements, no database")
    parser.add_argument("--env", nargs="+", default=[], metavar="NAME=VALUE,...",
                        help="also run every checkout (and the floor) with these environment "
                        "variables, e.g. STREAMLIT_SERVER_ENABLE_WEBSOCKET_COMPRESSION=false")
    parser.add_argument("--probe", action="store_true",
                        help="split each vote: page, websocket, callbacks, script (servers "
                        "run under rater_probe.py)")
    parser.add_argument("--trace", action="store_true",
                        help="chromium's main-thread work per vote, from a trace")
    parser.add_argument("--read-ms", type=int, default=0,
                        help="pause this long on each pair before choosing, as a rater who "
                        "reads it does (the page reads the next pair meanwhile); default 0: "
                        "vote as soon as the pair is drawn")
    parser.add_argument("--logs", type=Path,
                        help="keep the probe logs and traces in this folder")
    args = parser.parse_args()
    if args.before:
        args.code = [str(args.before), *args.code]
    variants: list[tuple[str, dict[str, str]]] = [("", {})] + [
        (f" [{spec}]", dict(kv.split("=", 1) for kv in spec.split(","))) for spec in args.env]
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("| code | verdicts stored | votes | p50 ms | p95 ms | max ms | load |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        logs = args.logs or Path(tmp)
        logs.mkdir(parents=True, exist_ok=True)
        for verdicts in args.verdicts:
            targets: dict[str, Any] = {}
            probes: dict[str, Path] = {}
            for suffix, env in variants:
                if args.floor:
                    name = "floor: the same elements, no database" + suffix
                    probes[name] = logs / f"{verdicts}-{len(probes)}.jsonl"
                    targets[name] = floor_server(env, probes[name] if args.probe else None)
                for code in args.code:
                    name = ("before" if args.before and Path(code) == args.before
                            else code) + suffix
                    probes[name] = logs / f"{verdicts}-{len(probes)}.jsonl"
                    targets[name] = rater_server(Path(code).resolve(), verdicts, env,
                                                 probes[name] if args.probe else None)
            trace = logs / f"trace-{verdicts}.json" if args.trace else None
            results = measure(targets, args.votes, args.warmup,
                              probes if args.probe else None, trace, args.read_ms)
            for name, times in results.items():
                row(name, 0 if name.startswith("floor") else verdicts, times)


def row(name: str, verdicts: int, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"| {name} | {verdicts:,} | {len(times)} | {statistics.median(times):.0f} | "
          f"{p95:.0f} | {times[-1]:.0f} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
