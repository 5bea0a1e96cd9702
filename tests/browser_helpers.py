"""Shared by the browser tests: a real `judge-app serve` on a free 127.0.0.1 port, Debian's
chromium through plain Playwright (never a downloaded browser), and the steps a rater takes.

The `browser` and `page` fixtures are registered for every test module by tests/conftest.py.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.storage.db import Database

expect = sync_api.expect
expect.set_options(timeout=30_000)

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
TIMEOUT = 30_000


def task(name: str, n_prompts: int, models: tuple[str, str], text: str = "",
         **config: object) -> TaskBundle:
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"Question number {i}?"},))
               for i in range(n_prompts)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant",
                                    "content": text or f"Answer {i} from {'AB'[j]}side."},))
               for i in range(n_prompts) for j, m in enumerate(models)]
    return TaskBundle(TaskConfig(name=name, title=f"Task {name}", **config),  # type: ignore[arg-type]
                      prompts, outputs)


@dataclass
class Server:
    url: str
    db: Database
    tokens: dict[str, str]

    def link(self, who: str, path: str = "") -> str:
        return f"{self.url}/{path}?token={self.tokens[who]}"

    def rows(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self.db.cursor() as cur:
            return cur.execute(sql, params).fetchall()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@contextmanager
def serving(path: Path | str) -> Iterator[str]:
    """A real `judge-app serve` on a free port for the database at `path` (a DuckDB file or a
    PostgreSQL URL); yields its URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "judge_app.cli", "serve", "--db", str(path), "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # A missing browser is a broken setup (`make test` installs it), never a quiet skip.
    assert Path(CHROMIUM).exists(), "Debian's chromium is not installed: run `make chromium`"
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT)
    yield context.new_page()
    context.close()


def wait_idle(page: Any) -> None:
    """Until the script run finished, so no key lands on a button that is being replaced."""
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')
           ).to_have_count(1)


def open_rater_page(page: Any, link: str, done: str | re.Pattern[str]) -> None:
    page.goto(link)
    expect(page.get_by_text(done)).to_be_visible(timeout=60_000)
    wait_idle(page)


def judge_with_keys(page: Any, key: str, label: str, done_after: str | re.Pattern[str]
                    ) -> str:
    """Press an outcome key, wait until it shows as chosen, press Enter; the prompt judged."""
    wait_idle(page)
    prompt = page.get_by_text("Question number").first.inner_text()
    page.keyboard.press(key)
    expect(page.locator('[data-testid="stBaseButton-primary"]', has_text=label)).to_be_visible()
    wait_idle(page)
    page.keyboard.press("Enter")
    expect(page.get_by_text(done_after)).to_be_visible()
    wait_idle(page)
    return prompt
