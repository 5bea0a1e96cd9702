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
Run: .venv/bin/python benchmarks/bench_rater_browser.py [--votes 40] [--verdicts 0 1000000]
     [--before /tmp/old] [--floor]
"""

from __future__ import annotations

import argparse
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
      requestAnimationFrame(() => { window.__benchResult = performance.now() - t0; });
    }
  });
  obs.observe(document.body, {subtree: true, childList: true, attributes: true,
                              characterData: true});
}"""
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

    def __init__(self, page: Any, link: str) -> None:
        from playwright.sync_api import expect

        self.page, self.expect = page, expect
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
        old = page.evaluate(CURRENT)
        page.keyboard.press("1")
        expect(page.locator('[data-testid="stBaseButton-primary"]',
                            has_text="A is better")).to_be_visible()
        expect(self.idle).to_have_count(1)
        page.evaluate(ARM, old)
        page.keyboard.press("Enter")
        page.wait_for_function("window.__benchResult !== undefined")
        return float(page.evaluate("window.__benchResult"))


@contextmanager
def rater_server(root: Path, verdicts: int) -> Iterator[str]:
    """A checkout's own demo database (plus verdicts) served by its own code; a login link."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        port = _free_port()
        link = build(root, db, verdicts, port)
        cmd = [sys.executable, "-m", "judge_app.cli", "serve", "--db", str(db), "--port",
               str(port)]
        with serving(cmd, root, port, _env(root)):
            yield link


@contextmanager
def floor_server() -> Iterator[str]:
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
        with serving(cmd, root, port, {**_env(root), "BENCH_FLOOR_TEXTS": str(texts)}):
            yield f"http://127.0.0.1:{port}/"


def measure(targets: dict[str, Any], votes: int, warmup: int) -> dict[str, list[float]]:
    """All servers up at once, one tab each, votes taken in turn (tab 1, tab 2, ..., tab 1,
    ...): a load spike on this shared machine hits every version alike."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)  # a busy shared machine, not a failure
    times: dict[str, list[float]] = {name: [] for name in targets}
    with ExitStack() as stack:
        links = {name: stack.enter_context(server) for name, server in targets.items()}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            voters = {name: Voter(browser.new_context(
                viewport={"width": 1280, "height": 900}).new_page(), link)
                for name, link in links.items()}
            for n in range(warmup + votes):
                for name, voter in voters.items():
                    took = voter.vote()
                    if n >= warmup:
                        times[name].append(took)
            browser.close()
    return times


def dump_texts(path: str, out: str) -> None:
    """Prompt and both answers of the demo task's pairs, as the floor app shows them."""
    import json

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
    parser.add_argument("--code", nargs="+", default=[str(HERE.parent)],
                        help="checkouts to measure (default: this one)")
    parser.add_argument("--before", type=Path,
                        help="checkout of the version to compare with, measured first")
    parser.add_argument("--floor", action="store_true",
                        help="also time rater_floor_app.py: the same elements, no database")
    args = parser.parse_args()
    if args.before:
        args.code = [str(args.before), *args.code]
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("| code | verdicts stored | votes | p50 ms | p95 ms | max ms | load |")
    print("|---|---|---|---|---|---|---|")
    for verdicts in args.verdicts:
        targets: dict[str, Any] = {}
        if args.floor:
            targets["floor: the same elements, no database"] = floor_server()
        for code in args.code:
            name = "before" if args.before and Path(code) == args.before else code
            targets[name] = rater_server(Path(code).resolve(), verdicts)
        for name, times in measure(targets, args.votes, args.warmup).items():
            row(name, 0 if name.startswith("floor") else verdicts, times)


def row(name: str, verdicts: int, times: list[float]) -> None:
    times = sorted(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"| {name} | {verdicts:,} | {len(times)} | {statistics.median(times):.0f} | "
          f"{p95:.0f} | {times[-1]:.0f} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
