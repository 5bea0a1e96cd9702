"""The rater's page in a real browser: keyboard judging, blinding, XSS, two raters, admin pages.

A real `judge-app serve` on a free 127.0.0.1 port with a temporary database, driven by Debian's
chromium through plain Playwright (never a downloaded browser): tests/browser_helpers.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database
from tests.browser_helpers import (
    TIMEOUT,
    Server,
    expect,
    judge_with_keys,
    open_rater_page,
    serving,
    task,
)

pytestmark = pytest.mark.browser

SECRET_MODELS = ("zeta-secret-model", "omega-hidden-model")
XSS = '<script>window.__xss=1</script> and <img src=x onerror="window.__xss=2"> end'


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def server(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The app served from a DuckDB file, then from a PostgreSQL database."""
    if request.param == "postgresql":
        path: Path | str = request.getfixturevalue("pg_server").new_database("browser")
    else:
        path = tmp_path_factory.mktemp("browser") / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, task("kb", 4, SECRET_MODELS))
    import_bundle(db, task("xss", 1, ("m1", "m2"), text=XSS))
    import_bundle(db, task("duo", 6, ("m1", "m2")))
    tokens = {
        "kim": raters.add_rater(db, "kim", tasks=["kb"]).token,
        "xavier": raters.add_rater(db, "xavier", tasks=["xss"]).token,
        "r1": raters.add_rater(db, "r1", tasks=["duo"]).token,
        "r2": raters.add_rater(db, "r2", tasks=["duo"]).token,
        "boss": raters.add_rater(db, "boss", admin=True).token,
    }
    with serving(path) as url:
        yield Server(url, db, tokens)


def test_keyboard_only_judging_and_undo(server: Server, page: Any) -> None:
    open_rater_page(page, server.link("kim"), "0 / 4 done")
    assert "token" not in page.url  # the token leaves the address bar
    judge_with_keys(page, "1", "A is better", "1 / 4 done")
    judge_with_keys(page, "2", "B is better", "2 / 4 done")
    judge_with_keys(page, "3", "Tie", "3 / 4 done")
    page.keyboard.press("u")
    expect(page.get_by_text("2 / 4 done")).to_be_visible()

    standing = server.rows(
        "SELECT raw_choice, duration_ms, left_side, outcome FROM active_verdicts "
        "WHERE rater_id = ? ORDER BY created_at", ["kim"])
    assert [r[0] for r in standing] == ["left", "right"]
    assert all(r[1] is not None and r[1] >= 0 for r in standing)
    for raw, _, left, outcome in standing:  # stored in the pair's canonical order
        assert outcome == (left if raw == "left" else ("b" if left == "a" else "a"))
    retracted = server.rows(
        "SELECT v.raw_choice FROM verdicts v JOIN verdicts u ON u.retracts = v.verdict_id "
        "WHERE v.rater_id = ?", ["kim"])
    assert retracted == [("tie",)]


def test_model_names_are_not_in_the_page_before_the_vote(server: Server, page: Any) -> None:
    frames: list[bytes] = []
    page.on("websocket", lambda ws: ws.on(
        "framereceived", lambda f: frames.append(f if isinstance(f, bytes) else f.encode())))
    open_rater_page(page, server.link("kim"), "/ 4 done")
    expect(page.get_by_text("Question number").first).to_be_visible()
    html = page.content()
    for model in SECRET_MODELS:
        assert model not in html
        assert not any(model.encode() in frame for frame in frames)
    assert frames  # the check above looked at what the server sent


def test_html_in_an_output_is_shown_as_text_and_never_runs(server: Server, page: Any) -> None:
    open_rater_page(page, server.link("xavier"), "0 / 1 done")
    expect(page.get_by_text("<script>window.__xss=1</script>").first).to_be_visible()
    expect(page.get_by_text('onerror="window.__xss=2"').first).to_be_visible()
    page.wait_for_timeout(500)  # give an injected image time to fail and fire onerror
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.locator('img[src="x"]').count() == 0


def test_two_raters_at_once_never_get_each_others_assignments(
    server: Server, browser: Any,
) -> None:
    contexts = [browser.new_context() for _ in range(2)]
    pages = {}
    for context, who in zip(contexts, ("r1", "r2"), strict=True):
        context.set_default_timeout(TIMEOUT)
        pages[who] = context.new_page()
        pages[who].goto(server.link(who))  # both load at the same time
    seen: dict[str, list[str]] = {"r1": [], "r2": []}
    try:
        for page in pages.values():
            expect(page.get_by_text(re.compile(r"^0 / \d+ done$"))).to_be_visible(
                timeout=60_000)
        for _ in range(6):  # take turns until all six pairs are judged
            if len(seen["r1"]) + len(seen["r2"]) == 6:
                break
            for who, page in pages.items():
                if page.get_by_text("All done").count() == 0:
                    done = re.compile(rf"^{len(seen[who]) + 1} / \d+ done$")
                    seen[who].append(judge_with_keys(page, "1", "A is better", done))
        for page in pages.values():
            expect(page.get_by_text("All done")).to_be_visible()
    finally:
        for context in contexts:
            context.close()
    assert seen["r1"] and seen["r2"]
    assert not set(seen["r1"]) & set(seen["r2"])  # overlap 1: each pair to one rater only
    rows = server.rows(
        "SELECT v.rater_id, a.rater_id, v.pair_id FROM active_verdicts v "
        "JOIN assignments a USING (assignment_id) WHERE v.task_id = 'duo'", [])
    assert len(rows) == 6 and all(v == a for v, a, _ in rows)
    assert len({pair for *_, pair in rows}) == 6


def test_a_rater_token_cannot_open_admin_pages(server: Server, page: Any) -> None:
    for path in ("admin_tasks", "admin_raters", "admin_import", "export"):
        page.goto(server.link("kim", path))
        expect(page.get_by_text("/ 4 done")).to_be_visible(timeout=60_000)  # the rater's page
        body = page.inner_text("body")
        assert "Tasks overview" not in body and "Add a rater" not in body
        assert "Import a task" not in body
    page.goto(server.link("boss", "admin_tasks"))  # the same address works for an admin
    expect(page.get_by_text("Tasks overview")).to_be_visible(timeout=60_000)
    assert json.dumps(server.tokens["kim"]) not in page.content()
