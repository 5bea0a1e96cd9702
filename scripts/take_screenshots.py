"""Screenshots for the README: the rater's pair page and the admin overview on the demo tasks.

Run from the repository root: .venv/bin/python scripts/take_screenshots.py
Serves a throwaway database on a free 127.0.0.1 port and drives Debian's chromium.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from judge_app.services import queue, raters, sessions
from judge_app.services.demo import load_demo
from judge_app.services.verdicts import VerdictInput, record_verdict, skip
from judge_app.storage.schema import open_database

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "img"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def seed(path: Path) -> dict[str, str]:
    """The demo tasks with a few raters part-way through, so the overview has numbers."""
    db = open_database(path)
    load_demo(db)
    tokens = {"admin": raters.add_rater(db, "admin", admin=True).token}
    for n, name in enumerate(["ana", "ben", "chloe"]):
        tokens[name] = raters.add_rater(db, name, tasks=["demo-alpaca", "demo-pandalm"]).token
        session = sessions.sign_in(db, tokens[name])
        assert session is not None
        for i in range(6 + 5 * n):
            pair = queue.next_assignment(db, name, "demo-alpaca")
            assert pair is not None
            if i == 3:
                skip(db, session, pair.assignment_id, f"{pair.assignment_id}:s", flagged=True)
                continue
            choice = ("left", "right", "tie", "left", "both_bad")[i % 5]
            record_verdict(db, session, VerdictInput(
                pair.assignment_id, choice, f"{pair.assignment_id}:0",  # type: ignore[arg-type]
                strength=1 if choice in ("left", "right") else None,
                duration_ms=9000 + 1700 * i + 2500 * n, flagged=i == 7,
                rationale="B invents a citation." if i == 7 else ""))
    db.close()
    return tokens


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "demo.duckdb"
        tokens = seed(path)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "judge_app.cli", "serve", "--db", str(path), "--port",
             str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.3)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1450})
                page.set_default_timeout(60_000)
                page.goto(f"{url}/?token={tokens['ana']}")
                expect(page.get_by_text("B is better").first).to_be_visible(timeout=60_000)
                page.keyboard.press("2")
                expect(page.locator('[data-testid="stBaseButton-primary"]',
                                    has_text="B is better")).to_be_visible()
                time.sleep(1)
                page.screenshot(path=str(OUT / "rater-page.png"), full_page=True)
                page.set_viewport_size({"width": 1400, "height": 950})
                page.goto(f"{url}/admin_tasks?token={tokens['admin']}")
                expect(page.get_by_text("Flagged items")).to_be_visible(timeout=60_000)
                time.sleep(2)
                page.screenshot(path=str(OUT / "admin-overview.png"), full_page=True)
                browser.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
