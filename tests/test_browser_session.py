"""The rater's and admin's browser session in a real browser: blinding after a reveal, the login
token and history, writes from a tab whose session ended, remote resources, costly markdown,
reloads, phones, the admin landing page.

A real `judge-app serve` on a free 127.0.0.1 port with a temporary database, driven by Debian's
chromium through plain Playwright (fixtures in tests/browser_helpers.py).
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
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
    wait_idle,
)

pytestmark = pytest.mark.browser


class Pixel:
    """A local HTTP server that counts every request: a tracking pixel's host."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def remote_stuff(url: str, where: str) -> str:
    """Every way we know for markdown text to make a browser fetch something."""
    return (
        f"{where}: ![inline]({url}/{where}-inline.png) and <img src=\"{url}/{where}-tag.png\"> "
        f"and ![by reference][{where}] and <{url}/{where}-autolink> and "
        f"<video src=\"{url}/{where}-video\"></video> "
        f"[data link](data:text/html,<script>window.__xss=3</script>) and "
        f"![data image](data:image/svg+xml;base64,PHN2Zy8+) and "
        f"[js](javascript:window.__xss=4) and [entity](&#106;avascript:window.__xss=5) and "
        f"$\\includegraphics{{{url}/{where}-katex.png}}$ end\n\n[{where}]: {url}/{where}-ref.png\n"
    )


def image_task(url: str) -> TaskBundle:
    prompts = [Prompt("q0", ({"role": "user", "content": remote_stuff(url, "prompt")},),
                      reference=remote_stuff(url, "reference"))]
    outputs = [Output("q0", f"model{n}![m]({url}/model{n}.png)",
                      ({"role": "assistant", "content": remote_stuff(url, f"output{n}")},))
               for n in (1, 2)]
    config = TaskConfig(name="img", title=f"Images ![t]({url}/title.png)",
                        instructions=remote_stuff(url, "instructions"), reveal_models=True,
                        show_reference=True)
    return TaskBundle(config, prompts, outputs)


DEEP = "\n".join("  " * i + f"- level {i}" for i in range(600))
LONG = "\n\n".join(f"Paragraph {i} of a long answer. " * 8 for i in range(40))


@pytest.fixture(scope="module")
def pixel() -> Iterator[Pixel]:
    found = Pixel()
    yield found
    found.server.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, pixel: Pixel) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("session") / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, task("rev", 3, ("alpha-model", "beta-model"), reveal_models=True))
    import_bundle(db, task("plain", 12, ("m1", "m2"), overlap=5))
    import_bundle(db, task("deep", 1, ("m1", "m2"), text=DEEP))
    import_bundle(db, task("long", 4, ("m1", "m2"), text=LONG, overlap=2))
    import_bundle(db, image_task(pixel.url))
    tokens = {name: raters.add_rater(db, name, tasks=tasks).token for name, tasks in (
        ("rhea", ["rev"]), ("hana", ["plain"]), ("rey", ["plain"]), ("sid", ["plain"]),
        ("sue", ["plain"]), ("ida", ["img"]), ("dee", ["deep"]), ("moe", ["long"]),
        ("kay", ["long"]),
    )}
    tokens["boss"] = raters.add_rater(db, "boss", admin=True).token
    with serving(path) as url:
        yield Server(url, db, tokens)


def test_undo_after_a_reveal_never_brings_the_pair_back(server: Server, page: Any) -> None:
    open_rater_page(page, server.link("rhea"), "0 / 3 done")
    judged = judge_with_keys(page, "1", "A is better", "1 / 3 done")
    expect(page.get_by_text(re.compile(r"A was .*-model, B was"))).to_be_visible()
    page.keyboard.press("u")
    expect(page.get_by_text("Withdrew your last verdict")).to_be_visible()
    expect(page.get_by_text("0 / 2 done")).to_be_visible()
    wait_idle(page)
    assert page.get_by_text(judged, exact=True).count() == 0  # another pair is on screen
    page.keyboard.press("u")  # a withdrawal cannot be undone either
    expect(page.get_by_text("Nothing to undo")).to_be_visible()
    rows = server.rows("SELECT raw_choice, outcome, retracts IS NOT NULL FROM verdicts "
                       "WHERE rater_id = 'rhea' ORDER BY created_at", [])
    assert rows == [("left", rows[0][1], False), (None, None, True), ("withdrawn", None, False)]
    assert server.rows("SELECT count(*) FROM active_verdicts WHERE rater_id = 'rhea'",
                       []) == [(0,)]
    # the rest of the task never shows the withdrawn pair again (each wait names the state
    # after the vote: "0 / 2 done" is on screen before it, and a busy machine is slow)
    for after in ("1 / 2 done", "All done"):
        assert page.get_by_text(judged, exact=True).count() == 0
        judge_with_keys(page, "2", "B is better", after)


def test_no_history_entry_keeps_the_login_token(server: Server, page: Any) -> None:
    for who, path, landed in (("hana", "", "/ 12 done"), ("boss", "admin_raters", "Add a rater")):
        page.goto(server.link(who, path))
        expect(page.get_by_text(landed).first).to_be_visible(timeout=60_000)
        wait_idle(page)
        if who == "boss":  # a page change must not put the token back either
            page.get_by_role("link", name="Tasks").click()
            expect(page.get_by_text("Tasks overview")).to_be_visible()
            wait_idle(page)
        seen = [page.url]
        while not page.url.startswith("about:"):
            page.go_back()
            seen.append(page.url)  # at once: the old app logged in again and removed it again
            page.wait_for_timeout(300)  # a same-document Back settles without a load event
            if len(seen) > 6:
                break
        assert seen[-1].startswith("about:")  # Back leaves the app, it does not log in again
        assert not [url for url in seen if "token" in url], seen
        assert server.tokens[who] not in page.content()


def test_a_reload_keeps_the_rater_signed_in_until_disabled(server: Server, page: Any) -> None:
    open_rater_page(page, server.link("rey"), "0 / 12 done")
    judge_with_keys(page, "1", "A is better", "1 / 12 done")
    page.reload()
    expect(page.get_by_text("1 / 12 done")).to_be_visible(timeout=60_000)
    assert "token" not in page.url
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    assert server.tokens["rey"] not in cookies.values()  # the browser keeps a session id only
    raters.set_disabled(server.db, "rey")
    try:
        page.reload()
        expect(page.get_by_text("You are signed out")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("1 / 12 done")).to_have_count(0)
    finally:
        raters.set_disabled(server.db, "rey", False)
    page.reload()  # enabling again does not revive the ended session
    expect(page.get_by_text("Your login token")).to_be_visible(timeout=60_000)


def test_sign_out_ends_the_session_for_a_reload_too(server: Server, page: Any) -> None:
    open_rater_page(page, server.link("sue"), "/ 12 done")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Your login token")).to_be_visible()
    page.reload()
    expect(page.get_by_text("Your login token")).to_be_visible(timeout=60_000)
    assert server.rows("SELECT count(*) FROM rater_sessions WHERE rater_id = 'sue'",
                       []) == [(0,)]


def test_an_open_tab_of_a_disabled_or_reissued_rater_writes_nothing(
    server: Server, page: Any,
) -> None:
    open_rater_page(page, server.link("sid"), "0 / 12 done")
    judge_with_keys(page, "1", "A is better", "1 / 12 done")
    before = server.rows("SELECT count(*) FROM verdicts WHERE rater_id = 'sid'", [])
    raters.set_disabled(server.db, "sid")  # from another connection, as the admin would
    page.keyboard.press("s")  # Skip from the open tab
    expect(page.get_by_text("You are signed out")).to_be_visible()
    assert server.rows("SELECT count(*) FROM verdicts WHERE rater_id = 'sid'", []) == before
    raters.set_disabled(server.db, "sid", False)

    server.tokens["sid"] = raters.add_rater(server.db, "sid").token  # a fresh link...
    open_rater_page(page, server.link("sid"), "1 / 12 done")
    server.tokens["sid"] = raters.add_rater(server.db, "sid").token  # ...and another one
    page.keyboard.press("u")  # Undo from the tab opened with the previous link
    expect(page.get_by_text("You are signed out")).to_be_visible()
    assert server.rows("SELECT count(*) FROM verdicts WHERE rater_id = 'sid'", []) == before


def test_nothing_remote_loads_and_no_live_element_comes_from_text(
    server: Server, page: Any, pixel: Pixel,
) -> None:
    open_rater_page(page, server.link("ida"), "0 / 1 done")
    expect(page.get_by_text("output1:").first).to_be_visible()
    expect(page.get_by_text("reference:").first).to_be_visible()
    expect(page.get_by_text("instructions:").first).to_be_visible()
    wait_idle(page)
    page.keyboard.press("1")
    expect(page.locator('[data-testid="stBaseButton-primary"]', has_text="A is better")
           ).to_be_visible()
    wait_idle(page)
    page.keyboard.press("Enter")
    expect(page.get_by_text("A was")).to_be_visible()  # the model names, revealed
    wait_idle(page)
    page.wait_for_timeout(1000)  # time for any request to go out
    assert pixel.hits == []
    live = page.locator(", ".join(f"{tag}[src*='{pixel.url}']" for tag in (
        "img", "video", "audio", "source", "iframe", "embed", "object", "image")))
    assert live.count() == 0
    schemes = page.evaluate("[...document.querySelectorAll('a')].map(a => a.protocol)")
    assert not {"data:", "javascript:", "vbscript:", "file:", "blob:"} & set(schemes)
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_a_deeply_nested_list_is_shown_as_plain_text(server: Server, page: Any) -> None:
    open_rater_page(page, server.link("dee"), "0 / 1 done")
    expect(page.get_by_text("Shown as plain text").first).to_be_visible()
    expect(page.get_by_text("- level 599").first).to_be_attached()
    assert page.locator("[data-testid='stMain'] ul").count() < 10


def test_on_a_phone_each_pair_starts_at_its_top_and_no_key_hints(
    server: Server, browser: Any,
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    context.set_default_timeout(TIMEOUT)
    try:
        page = context.new_page()
        open_rater_page(page, server.link("moe"), "0 / 4 done")
        expect(page.get_by_text("Keyboard:")).to_be_hidden()
        expect(page.locator("button kbd").first).to_be_hidden()  # no key badges either
        for done in (1, 2):
            page.get_by_role("button", name="B is better").tap()
            expect(page.locator('[data-testid="stBaseButton-primary"]', has_text="B is better")
                   ).to_be_visible()
            wait_idle(page)
            submit = page.get_by_role("button", name="Submit")
            submit.scroll_into_view_if_needed()
            expect(page.get_by_role("heading", name="Prompt")).not_to_be_in_viewport()
            submit.tap()
            expect(page.get_by_text(f"{done} / 4 done")).to_be_visible()
            wait_idle(page)
            expect(page.get_by_role("heading", name="Prompt")).to_be_in_viewport()
            expect(page.get_by_text("Keyboard:")).to_be_hidden()
    finally:
        context.close()


def test_keyboard_hints_stay_on_a_desktop(server: Server, page: Any) -> None:
    open_rater_page(page, server.link("kay"), "0 / 4 done")
    expect(page.get_by_text("Keyboard:")).to_be_visible()
    expect(page.locator("button kbd").first).to_be_visible()


def test_the_admin_link_lands_on_the_tasks_overview(server: Server, page: Any) -> None:
    page.goto(server.link("boss"))
    expect(page.get_by_text("Tasks overview")).to_be_visible(timeout=60_000)
    wait_idle(page)
    assert page.locator('[data-testid^="stBaseButton"]', has_text="A is better").count() == 0
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_idle(page)
    assert server.rows("SELECT count(*) FROM verdicts WHERE rater_id = 'boss'", []) == [(0,)]
