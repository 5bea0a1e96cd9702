"""A rater's browser tab without the browser: Streamlit's own websocket protocol, spoken to a
real `judge-app serve`, for tests and benchmarks that need tens of raters voting through the
app servers at once (a chromium tab costs a core and hundreds of MB; this costs a coroutine).

What a browser does, and so what a Tab does (Streamlit 1.67, its Starlette server,
streamlit/web/server/starlette/starlette_websocket.py):

- open ``ws://HOST:PORT/_stcore/stream`` with the subprotocol ``streamlit``, the page's Origin
  and the site's cookies: our session cookie (ui/session.COOKIE) is how the pair page knows the
  rater (``st.context.cookies``). No XSRF token: the server checks it only for Streamlit's own
  auth cookies, which judge_app does not use.
- send a ``rerun_script`` BackMsg (ClientState: query string, page, widget states); the server
  answers with ForwardMsgs: ``new_session`` when a run starts, ``navigation`` (the page list and
  the page shown), one ``delta`` per element drawn, ``script_finished`` when the run is over.
- a click is another ``rerun_script`` whose widget states hold the button's id with
  ``trigger_value`` set; a widget inside an ``@st.fragment`` sends the fragment's id (each
  delta carries it), and only the fragment runs (the pair area: ui/app_pages/rate.py).
- a reload (the server gone, an error on the page) is a new connection and a new server
  session; the cookie keeps the rater signed in.

Which assignment is on screen is read from the widget ids: Streamlit ends an id with the
widget's key, and every key of the verdict controls ends with the assignment id
(ui/components/verdict_controls.py: ``submit_<assignment id>``).

A vote (Rater.run) is two clicks, as with the mouse: an outcome, then Submit. It counts as
acknowledged only when the run that Submit started has finished and drawn another pair or
"All done": what a rater sees as "my vote went through". A connection lost before that is an
unacknowledged vote (stored or not); the rater reloads, retrying until the server is back.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException
from websockets.typing import Origin, Subprotocol

from judge_app.ui.session import COOKIE

ALL_DONE = "All done"
CHOICES = ("left", "right", "tie")
_KEY_MARK = "-"  # a widget id is "$$ID-<hash>-<key>"
_FINISHED_EARLY_FOR_RERUN = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_EARLY_FOR_RERUN")
_COMPILE_ERROR = ForwardMsg.ScriptFinishedStatus.Value("FINISHED_WITH_COMPILE_ERROR")


class PageBroken(Exception):
    """What a user fixes by reloading: the server went away, a run failed or did not finish."""


@dataclass
class Page:
    """What one script run drew (a fragment run: the fragment only)."""

    buttons: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (id, fragment)
    texts: list[str] = field(default_factory=list)  # markdown, alerts, progress, in order
    errors: list[str] = field(default_factory=list)  # error boxes and exceptions

    @property
    def assignment_id(self) -> str | None:
        """The assignment whose Submit button is on screen."""
        for key in self.buttons:
            if key.startswith("submit_"):
                return key.removeprefix("submit_")
        return None

    @property
    def all_done(self) -> bool:
        return any(text.startswith(ALL_DONE) for text in self.texts)

    def add(self, msg: ForwardMsg) -> None:
        delta = msg.delta
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind == "button":
            key = element.button.id.split(_KEY_MARK, 2)[-1]
            self.buttons[key] = (element.button.id, delta.fragment_id)
        elif kind == "markdown":
            self.texts.append(element.markdown.body)
        elif kind == "progress":
            self.texts.append(element.progress.text)
        elif kind == "alert":
            self.texts.append(element.alert.body)
            if element.alert.format == element.alert.ERROR:
                self.errors.append(element.alert.body)
        elif kind == "exception":
            self.errors.append(f"{element.exception.type}: {element.exception.message}")


class Tab:
    """One browser tab of a signed-in rater on one app server."""

    def __init__(self, base_url: str, session_id: str, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.session_id = session_id
        self.timeout_s = timeout_s
        self.page_hash = ""  # the page shown, as the server's navigation message named it
        self._ws: ClientConnection | None = None

    async def load(self) -> Page:
        """Open the app (a first visit or a reload): a new connection and server session."""
        await self.close()
        host = self.base_url.split("://", 1)[-1]
        try:
            self._ws = await connect(
                f"ws://{host}/_stcore/stream", subprotocols=[Subprotocol("streamlit")],
                origin=Origin(self.base_url), additional_headers={
                    "Cookie": f"{COOKIE}={self.session_id}"},
                proxy=None, ping_interval=None, max_size=64 * 2**20,
                open_timeout=self.timeout_s, close_timeout=5)
        except (OSError, EOFError, WebSocketException, TimeoutError) as exc:
            raise PageBroken(f"cannot connect: {exc!r}") from exc
        self.page_hash = ""
        return await self._send(BackMsg())

    async def click(self, key: str, page: Page) -> Page:
        """Click the button with this key on ``page`` (the page drawn last)."""
        widget_id, fragment_id = page.buttons[key]
        msg = BackMsg()
        msg.rerun_script.fragment_id = fragment_id
        widget = msg.rerun_script.widget_states.widgets.add()
        widget.id, widget.trigger_value = widget_id, True
        return await self._send(msg)

    async def close(self) -> None:
        if self._ws is not None:
            ws, self._ws = self._ws, None
            await ws.close()

    async def _send(self, msg: BackMsg) -> Page:
        """Send a rerun request and read until its run has finished."""
        if self._ws is None:
            raise PageBroken("not connected")
        state = msg.rerun_script
        state.query_string = ""
        state.page_script_hash = self.page_hash
        state.context_info.url = f"{self.base_url}/"
        state.context_info.timezone = "UTC"
        try:
            await self._ws.send(msg.SerializeToString())
            return await asyncio.wait_for(self._read_run(self._ws), self.timeout_s)
        except (OSError, EOFError, WebSocketException, TimeoutError) as exc:
            await self.close()
            raise PageBroken(f"connection lost: {exc!r}") from exc

    async def _read_run(self, ws: ClientConnection) -> Page:
        page = Page()
        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await ws.recv(decode=False))
            kind = msg.WhichOneof("type")
            if kind == "new_session":  # a run starts (the one asked for, or an st.rerun)
                page = Page()
            elif kind == "navigation":
                self.page_hash = msg.navigation.page_script_hash
            elif kind == "delta":
                page.add(msg)
            elif kind == "script_finished":
                if msg.script_finished == _COMPILE_ERROR:
                    raise PageBroken("the app script did not compile")
                if msg.script_finished != _FINISHED_EARLY_FOR_RERUN:
                    return page


@dataclass
class Rater:
    """A rater voting in one tab on one server until the task is done.

    ``acked`` lists the assignment ids of the votes this rater saw acknowledged, in order, and
    ``choices`` the outcome clicked for each (left/right as shown: the stored raw choice);
    ``reloads`` counts the reloads (server lost, error on the page); ``error`` is set when the
    rater gave up (no progress before the deadline)."""

    base_url: str
    session_id: str
    seed: int = 0
    think_s: tuple[float, float] = (0.0, 0.05)
    acked: list[str] = field(default_factory=list)
    choices: dict[str, str] = field(default_factory=dict)
    reloads: int = 0
    done: bool = False
    error: str | None = None

    async def run(self, deadline: float, choices: Sequence[str] = CHOICES) -> None:
        rng = random.Random(self.seed)
        tab = Tab(self.base_url, self.session_id)
        try:
            while not self.done:
                if time.monotonic() > deadline:
                    self.error = f"not done by the deadline ({len(self.acked)} acknowledged)"
                    return
                try:
                    await self._vote_on(tab, rng, choices)
                except PageBroken:
                    self.reloads += 1
                    await asyncio.sleep(0.2)
        finally:
            await tab.close()

    async def _vote_on(self, tab: Tab, rng: random.Random, choices: Sequence[str]) -> None:
        """Load the page and vote until done or until the page breaks."""
        page = await tab.load()
        while True:
            if page.all_done:
                self.done = True
                return
            aid = page.assignment_id
            if aid is None:  # an error instead of a pair: reload
                raise PageBroken("; ".join(page.errors) or "no pair on the page")
            await asyncio.sleep(rng.uniform(*self.think_s))  # reading the pair
            choice = rng.choice(choices)
            page = await tab.click(f"out_{choice}_{aid}", page)
            if page.assignment_id != aid:
                continue  # the pair changed under the click (e.g. an error): start over
            page = await tab.click(f"submit_{aid}", page)
            if page.all_done or page.assignment_id not in (None, aid):
                self.choices[aid] = choice
                self.acked.append(aid)  # the next pair is on screen: acknowledged


async def run_raters(raters: Sequence[Rater], timeout_s: float) -> None:
    """Every rater to the end; a rater that raised has its error set (nothing is lost in a
    thread's traceback)."""
    deadline = time.monotonic() + timeout_s
    results = await asyncio.gather(*(r.run(deadline) for r in raters), return_exceptions=True)
    for rater, result in zip(raters, results, strict=True):
        if isinstance(result, BaseException):
            rater.error = repr(result)


async def vote_for(raters: Sequence[Rater], seconds: float) -> None:
    """Let the raters vote for ``seconds``, then close their tabs (a vote still in flight
    then is not acknowledged): for measuring sustained throughput."""
    tasks = [asyncio.create_task(r.run(math.inf)) for r in raters]
    _, pending = await asyncio.wait(tasks, timeout=seconds)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def start_raters(raters: Sequence[Rater], timeout_s: float = 600.0) -> threading.Thread:
    """Run the raters on an event loop of their own thread (one process: the server
    processes stay the only ones that run the app); join the thread to wait for them."""
    thread = threading.Thread(target=asyncio.run, args=(run_raters(raters, timeout_s),),
                              daemon=True)
    thread.start()
    return thread
