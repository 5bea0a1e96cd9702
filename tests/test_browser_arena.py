"""The live arena in a real browser: a real `judge-app serve`, Debian's chromium and the real
fake OpenAI server streaming slowly. A rater types a prompt, sees both answers grow, votes
with the keyboard and sees the names; nothing before the vote (page or websocket frames)
names a model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database
from tests.arena_helpers import ARENA_MODELS, arena_bundle
from tests.browser_helpers import ROOT, Server, expect, serving, wait_idle
from tests.fake_openai_server import SYSTEM_FINGERPRINT, FakeOpenAIServer, answers

pytestmark = pytest.mark.browser

PROMPT = "Why is the sky blue at noon?"
FOLLOW = "And why is it red at dusk?"
# What must not reach the browser before the vote: names, endpoint ids, the fingerprint.
SECRETS = (*ARENA_MODELS[:2], "endpoint-id-0", "endpoint-id-1", SYSTEM_FINGERPRINT)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAIServer]:
    # One word a chunk, 80 ms apart: an answer takes about two seconds to stream.
    with FakeOpenAIServer(answers, stream_interval_ms=80, chunk_tokens=1) as s:
        yield s


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake: FakeOpenAIServer,
           ) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("arena") / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, arena_bundle("ar", fake.base_url))
    tokens = {"ana": raters.add_rater(db, "ana", tasks=["ar"]).token}
    with serving(path) as url:
        yield Server(url, db, tokens)


def _frames(page: Any) -> list[bytes]:
    frames: list[bytes] = []

    def on_socket(ws: Any) -> None:
        def keep(payload: Any) -> None:
            frames.append(payload if isinstance(payload, bytes) else str(payload).encode())
        ws.on("framereceived", keep)
        ws.on("framesent", keep)

    page.on("websocket", on_socket)
    return frames


def test_type_a_prompt_see_two_streamed_answers_vote_by_keyboard_see_names(
        server: Server, page: Any) -> None:
    frames = _frames(page)
    page.goto(server.link("ana", "arena"))
    box = page.get_by_label("Your prompt")
    expect(box).to_be_visible(timeout=60_000)
    wait_idle(page)
    box.fill(PROMPT)
    page.get_by_role("button", name="Send to two anonymous models").click()

    # Streaming: the answers are seen part-written before they are complete.
    final = f"Answer to turn 1: here is what I think about {PROMPT}"
    partial_seen = False
    column = page.locator('[data-testid="stColumn"]')
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        texts = [t for t in column.all_inner_texts() if "Answer to" in t]
        if any(final not in t for t in texts):
            partial_seen = True
        if len(texts) >= 2 and all(final in t for t in texts):
            break
        page.wait_for_timeout(50)
    assert partial_seen, "the answers appeared whole, not streamed"
    expect(page.get_by_role("button", name="A is better")).to_be_visible()
    wait_idle(page)

    # Blinding: nothing in the page or in the websocket frames so far names a model.
    html = page.content()
    sent = b"".join(frames)
    assert frames, "no websocket frames were captured"
    for secret in SECRETS:
        assert secret not in html, secret
        assert secret.encode() not in sent, secret
    assert final in html

    # A follow-up: both models answer it under the first turn, still blind.
    page.get_by_label("Follow-up").fill(FOLLOW)
    page.get_by_role("button", name="Ask both a follow-up").click()
    final2 = f"Answer to turn 2: here is what I think about {FOLLOW}"
    expect(page.get_by_text(final2)).to_have_count(2, timeout=60_000)
    expect(page.get_by_role("button", name="A is better")).to_be_visible()
    wait_idle(page)
    html, sent = page.content(), b"".join(frames)
    for secret in SECRETS:
        assert secret not in html, secret
        assert secret.encode() not in sent, secret
    assert final in html and final2 in html

    # The pair page's controls, without Skip and Undo (a battle is left by the next prompt).
    expect(page.get_by_role("button", name="Skip")).to_have_count(0)
    expect(page.get_by_role("button", name="Undo last verdict")).to_have_count(0)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("1")
    expect(page.locator('[data-testid="stBaseButton-primary"]', has_text="A is better")
           ).to_be_visible()
    wait_idle(page)
    page.keyboard.press("Enter")
    revealed = page.get_by_text("A was ")
    expect(revealed).to_be_visible()
    text = revealed.inner_text()
    left, right = (text.split("A was ", 1)[1].split(", B was ")[0],
                   text.split(", B was ", 1)[1].rstrip("."))
    assert {left, right} == set(ARENA_MODELS[:2])
    # The capture does see the page's text: after the vote, the names are in the frames.
    assert left.encode() in b"".join(frames)

    # What was stored: the prompt, both outputs with their figures, the verdict.
    [(prompt_id, messages)] = server.rows(
        "SELECT prompt_id, messages FROM prompts WHERE task_id = 'ar' AND category = 'arena'",
        [])
    assert [m["content"] for m in json.loads(messages)] == [PROMPT, FOLLOW]
    outputs = server.rows("SELECT model, latency_ms, ttft_ms, cost_usd, response_text "
                          "FROM outputs WHERE prompt_id = ?", [prompt_id])
    assert {o[0] for o in outputs} == set(ARENA_MODELS[:2])
    assert all(o[1] > 0 and o[2] is not None and o[3] > 0 and final in o[4] and final2 in o[4]
               for o in outputs)
    [(outcome, model_a, model_b, rater)] = server.rows(
        "SELECT outcome, model_a, model_b, rater_id FROM verdicts WHERE prompt_id = ?",
        [prompt_id])
    assert rater == "ana"
    assert (model_a if outcome == "a" else model_b) == left  # "A is better" won for the left
    [(status, battle_left)] = server.rows(
        "SELECT status, left_model FROM arena_battles WHERE prompt_id = ?", [prompt_id])
    assert status == "voted" and battle_left == left


def test_the_server_killed_mid_answer_then_a_reload_says_so_and_frees_the_budget(
        tmp_path: Path, page: Any) -> None:
    """`judge-app serve` SIGKILLed while both answers stream: after a restart the reloaded page
    tells the rater their prompt was not answered (not a page stuck on a spinner), still
    names no model, and the next prompt fits in a budget that holds one battle at a time."""
    from tests.browser_helpers import _free_port, _wait_healthy

    def serve() -> tuple[subprocess.Popen[bytes], str]:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "judge_app.cli", "serve", "--db", str(path), "--port",
             str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, proc)
        return proc, url

    path = tmp_path / "judge.duckdb"
    db = open_database(path)  # this process owns the file: the servers come and go
    with FakeOpenAIServer(answers, stream_interval_ms=250, chunk_tokens=1) as slow:
        import_bundle(db, arena_bundle("ar", slow.base_url, max_cost_usd=0.0012,
                                       answer_timeout_s=4, abandon_after_s=5))
        token = raters.add_rater(db, "ana", tasks=["ar"]).token
        proc, url = serve()
        try:
            page.goto(f"{url}/arena?token={token}")
            box = page.get_by_label("Your prompt")
            expect(box).to_be_visible(timeout=60_000)
            wait_idle(page)
            box.fill(PROMPT)
            page.get_by_role("button", name="Send to two anonymous models").click()
            expect(page.get_by_text("Answer to turn 1").first).to_be_visible(timeout=30_000)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # mid-stream: both answers are partial
            proc.wait(timeout=30)
        with db.cursor() as cur:
            assert cur.execute("SELECT status FROM arena_battles").fetchall() == [
                ("answering",)]
        time.sleep(5.5)  # abandon_after_s
        proc, url = serve()
        try:
            frames = _frames(page)
            page.goto(f"{url}/arena?token={token}")
            notice = page.get_by_text("Your last prompt was not answered")
            expect(notice).to_be_visible(timeout=60_000)
            wait_idle(page)
            html, sent = page.content(), b"".join(frames)
            for secret in SECRETS:
                assert secret not in html and secret.encode() not in sent, secret
            slow.stream_interval_s = 0.02  # the endpoint is quick again
            page.get_by_label("Your prompt").fill("Once more, please")
            page.get_by_role("button", name="Send to two anonymous models").click()
            expect(page.get_by_role("button", name="A is better")).to_be_visible(
                timeout=60_000)
            expect(page.get_by_text("budget")).to_have_count(0)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        with db.cursor() as cur:
            assert cur.execute("SELECT status, coalesce(message, '') LIKE 'abandoned%' FROM "
                               "arena_battles "
                               "ORDER BY created_at").fetchall() == [
                ("failed", True), ("answered", False)]
    db.close()
