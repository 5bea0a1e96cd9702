"""`judge --adaptive`: judge runs in rounds against the fake OpenAI server, on a real DuckDB
file, stopping when the target is met or the budget is spent."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.judges.config import parse_config
from judge_app.services import adaptive
from judge_app.services.imports import import_bundle
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request, fenced_responses
from tests.test_judge_cli import cli, judge_file

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

STRENGTHS = {"m1": 3.0, "m2": 2.0, "m3": 1.0, "m4": 0.0, "m5": -1.0}
PROMPTS = 40  # 30 "code", 10 "chat"; 10 model pairs: 400 pairs in all


def _bundle(**config: object) -> TaskBundle:
    prompts = [Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},),
                      category="chat" if i % 4 == 0 else "code") for i in range(PROMPTS)]
    outputs = [Output(f"q{i}", m, ({"role": "assistant", "content": f"answer {i} by {m}"},))
               for i in range(PROMPTS) for m in STRENGTHS]
    return TaskBundle(TaskConfig(name="t", **config), prompts, outputs,  # type: ignore[arg-type]
                      source_files=["t/outputs.jsonl"])


def by_strength(req: Request) -> Reply:
    """A judge that follows known strengths: P(first wins) = sigmoid(s_first - s_second),
    drawn from a hash of the question and the two models (the same in either order)."""
    found = fenced_responses(req)
    assert found is not None
    first, second = (re.search(r"by (m\d)", t).group(1) for t in found)  # type: ignore[union-attr]
    question = re.search(r"question \d+", req.text).group(0)  # type: ignore[union-attr]
    key = "|".join([question, *sorted((first, second))])
    u = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2**64
    p_low = 1 / (1 + math.exp(-(STRENGTHS[min(first, second)] - STRENGTHS[max(first, second)])))
    winner = min(first, second) if u < p_low else max(first, second)
    letter = "A" if winner == first else "B"
    return Reply(f"Having compared both responses, my final verdict is: [[{letter}]]")


def _config(server: FakeOpenAIServer, **settings: Any) -> Any:
    return parse_config({"name": "judge1", "model": "fake", "template": "overall",
                         "base_url": server.base_url, "order": "random-once",
                         "input_price_per_million": 1.0, "output_price_per_million": 4.0,
                         **settings})


def _judged(db: Database) -> list[tuple[str, str, str]]:
    with db.cursor() as cur:
        return cur.execute(
            "SELECT v.model_a, v.model_b, pr.category FROM active_verdicts v JOIN prompts pr "
            "USING (task_id, prompt_id) WHERE v.rater_id = 'judge1'").fetchall()


def test_adaptive_judge_stops_at_the_target(db: Database) -> None:
    import_bundle(db, _bundle(scheduling="adaptive", target="ranking"))
    rounds: list[int] = []
    with FakeOpenAIServer(by_strength) as server:
        result = adaptive.run_adaptive(db, "t", _config(server), round_size=30,
                                       on_round=lambda n, s, st: rounds.append(s.planned_calls))
        calls = server.count
    assert result.ok and result.stop == "target met", result.stop
    assert result.status is not None and result.status.met
    assert len(rounds) >= 2 and calls == sum(rounds) < 400  # far from judging every pair
    judged = _judged(db)
    assert len(judged) == calls
    # Votes went to the neighbours in the ranking, not evenly over the 10 model pairs.
    per_pair = Counter((a, b) for a, b, _ in judged)
    neighbours = sum(per_pair[(f"m{i}", f"m{i + 1}")] for i in range(1, 5))
    assert neighbours / len(judged) > 0.5  # uniform: 4 of 10 (measured: 86 of 150)
    # Each model pair keeps the task's 3:1 mix of code and chat prompts.
    for (a, b), n in per_pair.items():
        if n >= 8:
            code = sum(1 for x, y, c in judged if (x, y) == (a, b) and c == "code")
            assert abs(code / n - 0.75) <= 0.15, (a, b, code, n)
    # Run again: the target is met, nothing is called.
    with FakeOpenAIServer(by_strength) as server:
        again = adaptive.run_adaptive(db, "t", _config(server))
        assert again.stop == "target met" and server.count == 0


def test_adaptive_judge_stops_at_the_budget(db: Database) -> None:
    import_bundle(db, _bundle(scheduling="adaptive"))
    with FakeOpenAIServer(by_strength) as server:
        cfg = _config(server, input_price_per_million=100.0, output_price_per_million=100.0,
                      max_tokens=50)
        result = adaptive.run_adaptive(db, "t", cfg, max_cost=0.3, round_size=20)
    assert not result.ok and "max-cost" in result.stop
    assert 0 < result.cost_usd <= 0.3
    assert result.status is not None and not result.status.met


def test_cli_judge_adaptive_and_progress(tmp_path: Path) -> None:
    path = tmp_path / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, _bundle(scheduling="adaptive", target="top_k:1"))
    db.close()
    with FakeOpenAIServer(by_strength) as server:
        before = cli("progress", "--task", "t", "--source", "judge:cli-judge", db=path)
        assert before.returncode == 3, before.stderr
        out = cli("judge", "--task", "t", "--judge",
                  str(judge_file(tmp_path, server, order="random-once")), "--adaptive",
                  "--quiet", db=path)
        assert out.returncode == 0, out.stderr
        assert server.count < 400
    assert "adaptive: target met after" in out.stdout
    assert "round 1:" in out.stdout and "target met: top 1 settled at 95%" in out.stdout
    after = cli("progress", "--task", "t", "--source", "judge:cli-judge", db=path)
    assert after.returncode == 0 and "target met" in after.stdout
    board = cli("leaderboard", "--task", "t", db=path)
    assert "adaptive scheduling: target met: top 1 settled" in board.stdout
    mixed = cli("judge", "--task", "t", "--judge", str(tmp_path / "judge.toml"),
                "--target", "ranking", db=path)
    assert mixed.returncode == 1 and "--adaptive" in mixed.stderr
