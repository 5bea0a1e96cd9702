"""Position bias per shown order (issue 12): a judge that always picks the first answer, asked
in both orders, has all-tie combined verdicts; its bias must still show, not 'n = 0'."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from judge_app.judges.config import parse_config
from judge_app.services.imports import import_bundle
from judge_app.services.judge_runs import plan_run, run_plan
from judge_app.services.leaderboard import agreement, compute_leaderboard
from judge_app.storage.db import Database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, first_wins

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

N_PAIRS = 15  # make_bundle: 5 prompts x 3 models


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(first_wins) as s:
        yield s


def test_always_first_judge_is_flagged_not_hidden(db: Database, server: FakeOpenAIServer
                                                  ) -> None:
    import_bundle(db, make_bundle("t1"))
    cfg = parse_config({"name": "always-a", "model": "fake", "template": "overall",
                        "base_url": server.base_url})
    summary = run_plan(db, plan_run(db, "t1", cfg))
    assert summary.status == "done" and summary.verdicts == {"tie": N_PAIRS}
    report = agreement(db, "t1", None)
    position = report.position_bias.set_index("rater_id").loc["always-a"]
    assert position["n"] == 2 * N_PAIRS and position["left_wins"] == 2 * N_PAIRS
    assert position["left_share"] == 1.0 and position["lower"] > 0.85
    swap = report.swap_consistency.set_index("rater_id").loc["always-a"]
    assert (swap["n"], swap["consistency"]) == (N_PAIRS, 0.0)
    quality = report.rater_quality.set_index("rater_id").loc["always-a"]
    assert (quality["decisive_n"], quality["left_share"]) == (2 * N_PAIRS, 1.0)
    # and its leaderboard: equal ratings, but intervals that are not zero-width
    board = compute_leaderboard(db, "t1")
    assert (board["rating"] - 1000.0).abs().max() < 1e-9
    assert (board["upper"] - board["lower"] > 1).all() and board["identified"].all()


def test_a_single_order_verdict_counts_once(db: Database, server: FakeOpenAIServer) -> None:
    import_bundle(db, make_bundle("t1"))
    cfg = parse_config({"name": "one-order", "model": "fake", "template": "overall",
                        "base_url": server.base_url, "order": "random-once"})
    run_plan(db, plan_run(db, "t1", cfg))
    position = agreement(db, "t1", None).position_bias.set_index("rater_id").loc["one-order"]
    assert (position["n"], position["left_share"]) == (N_PAIRS, 1.0)
