"""Budget caps that hold across processes (services/budgets.py, migration 009): real
`judge-app judge` and `judge-app generate` processes on one task with one --max-cost, against
the fake OpenAI server, spend together at most the cap; a SIGKILLed process's reservations do
not block the budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from judge_app.services.budgets import task_scope, window_totals
from judge_app.services.imports import import_bundle
from judge_app.storage import budgets as budgets_store
from judge_app.storage.db import Database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request, answers, longer_wins

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
# Dear prices, so a call's worst case (~$0.8 at max_tokens 50) and real cost (~$0.3) are far
# apart and a few dollars of cap stop a run after a handful of calls.
PRICES = {"input_price_per_million": 1000.0, "output_price_per_million": 4000.0,
          "max_tokens": 50, "concurrency": 2}
CAP = 3.0


def config_file(tmp_path: Path, server: FakeOpenAIServer, name: str, *,
                generation: bool = False) -> Path:
    lines = [f'name = "{name}"', f'model = "{name}"', f'base_url = "{server.base_url}"',
             *(f"{k} = {v}" for k, v in PRICES.items())]
    if not generation:
        lines.append('template = "overall"')
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def start(db: Database, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    return subprocess.Popen([sys.executable, "-m", "judge_app.cli", *args, "--db", db.target],
                            cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[str], timeout: float = 120) -> str:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"still running after {timeout:.0f} s: {err[-2000:]}") from None
    assert proc.returncode in (0, 2), err  # 2: stopped (by the budget)
    return out + err


def paid(db: Database, task_id: str) -> float:
    """What every answered call on the task really cost (judges and generation)."""
    with db.cursor() as cur:
        judged = cur.execute("SELECT coalesce(sum(cost_usd), 0) FROM judge_calls "
                             "WHERE task_id = ?", [task_id]).fetchone()
        made = cur.execute("SELECT coalesce(sum(cost_usd), 0) FROM generation_calls "
                           "WHERE task_id = ?", [task_id]).fetchone()
    return float(judged[0]) + float(made[0])


class Meeting:
    """Holds every request until a request of each of `names` (the body's model) arrived:
    so the runs certainly overlap in time, however slowly the processes start."""

    def __init__(self, names: set[str], then: Callable[[Request], Reply | str]) -> None:
        self.names, self.then = names, then
        self.seen: set[str] = set()
        self.all_here = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, req: Request) -> Reply | str:
        with self.lock:
            self.seen.add(str(req.body.get("model")))
            if self.names <= self.seen:
                self.all_here.set()
        self.all_here.wait(timeout=120)
        return self.then(req)


def responder(req: Request) -> Reply | str:
    """A judge's verdict for a judge prompt, an answer for a generation prompt."""
    return longer_wins(req) if "<<<RESPONSE_A" in req.text else answers(req)


@pytest.mark.parametrize("second", ["judge", "generate"])
def test_two_processes_with_one_cap_spend_at_most_the_cap_together(
        db: Database, tmp_path: Path, second: str) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=12))
    meeting = Meeting({"judge-a", "judge-b" if second == "judge" else "writer"}, responder)
    with FakeOpenAIServer(meeting, latency_ms=50) as server:
        first = start(db, "judge", "--task", "t1", "--judge",
                      str(config_file(tmp_path, server, "judge-a")), "--max-cost", str(CAP))
        if second == "judge":
            other = start(db, "judge", "--task", "t1", "--judge",
                          str(config_file(tmp_path, server, "judge-b")),
                          "--max-cost", str(CAP))
        else:
            other = start(db, "generate", "--task", "t1", "--model",
                          str(config_file(tmp_path, server, "writer", generation=True)),
                          "--max-cost", str(CAP))
        logs = finish(first) + finish(other)
    assert meeting.all_here.is_set(), logs
    spent = paid(db, "t1")
    # alone, each process would spend up to the cap (both stop at it: the work costs more)
    assert "max-cost" in logs, logs
    assert 0 < spent <= CAP + 1e-9, (spent, logs)
    windows = window_totals(db, task_scope("t1"))
    assert len(windows) == 1, windows  # both took part in one window, now closed
    only = windows[0]
    assert only["closed"] and only["held"] == 0 and only["members"] == 0
    assert only["reserved_usd"] == pytest.approx(0.0, abs=1e-9)
    assert only["spent_usd"] == pytest.approx(spent, rel=1e-6)


def test_a_killed_process_does_not_hold_the_budget(db: Database, tmp_path: Path) -> None:
    import_bundle(db, make_bundle("t1", n_prompts=6))
    release = threading.Event()

    def stuck_then_fine(req: Request) -> Reply | str:
        if req.body.get("model") == "judge-a":
            release.wait(timeout=120)  # the first process's calls never come back
        return longer_wins(req)

    with FakeOpenAIServer(stuck_then_fine) as server:
        try:
            doomed = start(db, "judge", "--task", "t1", "--judge",
                           str(config_file(tmp_path, server, "judge-a")), "--max-cost", "2.0")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # until both its calls hold their worst case
                windows = window_totals(db, task_scope("t1"))
                if windows and windows[-1]["held"] >= 2:
                    break
                time.sleep(0.1)
            else:
                doomed.kill()
                raise AssertionError(doomed.communicate()[1])
            held = windows[-1]["reserved_usd"]
            assert held > 1.0  # two worst cases: with one more call the cap of $2 is passed
            doomed.send_signal(signal.SIGKILL)
            doomed.wait()
            # the same cap on the same task: admitted only once the dead one's share is gone
            after = start(db, "judge", "--task", "t1", "--judge",
                          str(config_file(tmp_path, server, "judge-b")), "--max-cost", "2.0")
            logs = finish(after, timeout=90)
        finally:
            release.set()
    with db.cursor() as cur:
        made = cur.execute("SELECT count(*) FROM judge_calls WHERE judge_model = 'judge-b'"
                           ).fetchone()[0]
        steps = [kind for _, kind in budgets_store.member_steps(cur, task_scope("t1"))]
    assert made > 0, logs
    # the dead one's share was released ('expire'), then the second run came and went
    assert steps == ["join", "expire", "join", "leave"], steps
    assert all(w["held"] == 0 for w in window_totals(db, task_scope("t1")))
