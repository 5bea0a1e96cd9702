"""Shared by the AppTest page tests: a page (or the whole app) signed in with a token."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

UI = Path(__file__).resolve().parents[1] / "judge_app" / "ui"


def app_test(page: str | None = None, token: str | None = None, *, timeout: float = 60,
             **state: object) -> AppTest:
    """The page `page` of ui/app_pages (the whole app when None) in Streamlit's AppTest, not
    yet run, signed in with `token`, with `state` in its session state. The database is the
    one $JUDGE_APP_DB names (the `page_db` fixture sets it)."""
    path = UI / "app.py" if page is None else UI / "app_pages" / f"{page}.py"
    at = AppTest.from_file(str(path), default_timeout=timeout)
    if token is not None:
        at.session_state["token"] = token
    for key, value in state.items():
        at.session_state[key] = value
    return at


def shown(at: AppTest, kinds: tuple[str, ...] = ("error", "info", "success", "markdown",
                                                 "caption")) -> str:
    """The text of every element of these kinds, one a line."""
    return "\n".join(str(e.value) for kind in kinds for e in getattr(at, kind))
