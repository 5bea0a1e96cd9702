"""The rater's page in a real browser: from Enter to the next pair fully drawn.

A real `judge-app serve` on the demo database (optionally with N judge verdicts added), one
rater in Debian's headless chromium voting with the keyboard. Timed per vote, in the page: from
just before Enter is pressed to the animation frame after the next pair's last element (the
keyboard line under its Submit button) is in place, with no stale element left and the script
run finished.

``--code PATH`` measures another checkout of the project (for example the code before a change,
from ``git archive``) in the same run; each checkout builds its own database with its own code.
Run: .venv/bin/python benchmarks/bench_rater_browser.py [--votes 40] [--verdicts 0 1000000]
     [--code . /tmp/old]
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
from pathlib import Path

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


def measure(root: Path, verdicts: int, votes: int, warmup: int) -> list[float]:
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        port = _free_port()
        link = build(root, db, verdicts, port)
        server = subprocess.Popen(
            [sys.executable, "-m", "judge_app.cli", "serve", "--db", str(db), "--port",
             str(port)], cwd=root, env=_env(root), stdout=subprocess.DEVNULL,
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
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.set_default_timeout(60_000)
                idle = page.locator(
                    '[data-testid="stApp"][data-test-script-state="notRunning"]')
                page.goto(link)
                expect(page.get_by_text("Keyboard:")).to_be_visible(timeout=120_000)
                times = []
                for n in range(warmup + votes):
                    expect(idle).to_have_count(1)
                    old = page.evaluate(CURRENT)
                    page.keyboard.press("1")
                    expect(page.locator('[data-testid="stBaseButton-primary"]',
                                        has_text="A is better")).to_be_visible()
                    expect(idle).to_have_count(1)
                    page.evaluate(ARM, old)
                    page.keyboard.press("Enter")
                    page.wait_for_function("window.__benchResult !== undefined")
                    if n >= warmup:
                        times.append(float(page.evaluate("window.__benchResult")))
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    return times


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--fill":
        fill_verdicts(sys.argv[2], int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--votes", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--verdicts", type=int, nargs="+", default=[0, 1_000_000])
    parser.add_argument("--code", nargs="+", default=[str(HERE.parent)],
                        help="checkouts to measure (default: this one)")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    print("| code | verdicts stored | votes | p50 ms | p95 ms | max ms | load |")
    print("|---|---|---|---|---|---|---|")
    for verdicts in args.verdicts:
        for code in args.code:
            times = sorted(measure(Path(code).resolve(), verdicts, args.votes, args.warmup))
            p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
            print(f"| {code} | {verdicts:,} | {len(times)} | {statistics.median(times):.0f} | "
                  f"{p95:.0f} | {times[-1]:.0f} | {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
