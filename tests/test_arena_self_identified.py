"""The switch for arena votes on battles where an answer named its own model or vendor: left
out by default, counted on request, with how many it concerns, alike on the Leaderboard page
(AppTest), the CLI leaderboard (table and JSON) and the HTML report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.cli import main
from judge_app.services import arena, raters
from judge_app.services.imports import import_bundle
from judge_app.services.verdicts import VerdictInput
from judge_app.storage.db import Database
from tests.arena_helpers import ARENA_MODELS, arena_bundle
from tests.conftest import signed_in
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request, answers
from tests.ui_helpers import app_test

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

CHOICES = ("left", "right", "left", "tie")  # the third battle's answer names its model


def boastful(req: Request) -> Reply | str:
    if "Who are you" in str(req.messages[-1]["content"]) and req.body["model"] == "endpoint-id-0":
        return f"I am {ARENA_MODELS[0]}. {answers(req)}"
    return answers(req)


@pytest.fixture
def arena_db(page_db: Database) -> Database:
    """Four voted battles of task 'ar', the third one self-identified."""
    with FakeOpenAIServer(boastful) as server:
        import_bundle(page_db, arena_bundle("ar", server.base_url))
        sid = signed_in(page_db, "rita", tasks=["ar"])
        for n, choice in enumerate(CHOICES):
            prompt = "Who are you?" if n == 2 else f"Question {n}"
            battle = arena.start_battle(page_db, sid, "ar", prompt)
            outcome = arena.answer_battle(page_db, battle)
            assert outcome.assignment_id is not None
            assert bool(outcome.self_identified) == (n == 2)
            arena.vote(page_db, sid, battle.battle_id, VerdictInput(
                assignment_id=outcome.assignment_id, choice=choice, verdict_id=None))
    return page_db


def cli(capsys: pytest.CaptureFixture[str], db: Database, *args: str) -> str:
    assert main([*args, "--db", db.target]) == 0
    return capsys.readouterr().out


def test_cli_leaderboard_and_report_leave_out_or_count_them(
        arena_db: Database, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    board = json.loads(cli(capsys, arena_db, "leaderboard", "--task", "ar", "--format",
                           "json"))
    assert board["self_identified"] == {"votes": 1, "battles": 1, "counted": False}
    assert sum(m["battles"] for m in board["models"].values()) == 2 * 3
    board = json.loads(cli(capsys, arena_db, "leaderboard", "--task", "ar", "--format",
                           "json", "--include-self-identified"))
    assert board["self_identified"] == {"votes": 1, "battles": 1, "counted": True}
    assert sum(m["battles"] for m in board["models"].values()) == 2 * 4
    text = cli(capsys, arena_db, "leaderboard", "--task", "ar")
    assert "1 arena vote on 1 battle where an answer named its own model or vendor is left " \
           "out" in text and "--include-self-identified counts them" in text
    out = tmp_path / "report.html"
    cli(capsys, arena_db, "report", "--task", "ar", "--out", str(out))
    assert "is left out of these figures" in out.read_text()
    cli(capsys, arena_db, "report", "--task", "ar", "--out", str(out),
        "--include-self-identified")
    assert "1 arena vote on 1 battle where an answer named its own model or vendor is " \
           "counted." in out.read_text()


def page_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for e in at.caption)


def battles_shown(at: AppTest) -> int:
    board = next(e for e in at.main if e.type == "dataframe").value
    return int(board["battles"].sum())


def test_the_leaderboard_page_switch_changes_the_figures(arena_db: Database) -> None:
    token = raters.add_rater(arena_db, "boss", admin=True).token
    at = app_test("leaderboard", token, analysis_task="ar").run()
    assert not at.exception
    [switch] = [t for t in at.toggle if t.label == "Count self-identified arena votes"]
    assert switch.value is False
    assert "1 arena vote on 1 battle where an answer named its own model or vendor is left " \
           "out of these figures" in page_text(at)
    assert battles_shown(at) == 2 * 3
    switch.set_value(True).run()
    assert not at.exception
    assert battles_shown(at) == 2 * 4
    assert "is counted." in page_text(at)


def test_no_switch_for_a_task_without_an_arena(page_db: Database) -> None:
    from tests.analysis_helpers import simulated_bundle

    import_bundle(page_db, simulated_bundle("sim", prompts=4))
    token = raters.add_rater(page_db, "boss", admin=True).token
    at = app_test("leaderboard", token, analysis_task="sim").run()
    assert not at.exception and not at.toggle
    assert "self-identified" not in page_text(at)
