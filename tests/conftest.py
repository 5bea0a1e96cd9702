"""Shared fixtures: a real DuckDB file per test and small synthetic tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.browser_helpers import browser, page

__all__ = ["browser", "page"]  # chromium for the browser tests (tests/browser_helpers.py)

# Real published data bundled with the tests (each folder says its source and licence).
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    handle = open_database(tmp_path / "judge.duckdb")
    yield handle
    handle.close()  # this process owns the file until then; let go of it between tests


@pytest.fixture
def page_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """`db`, and the database the app's pages open ($JUDGE_APP_DB): for AppTest page tests."""
    monkeypatch.setenv("JUDGE_APP_DB", str(db.path))
    return db


def make_bundle(
    name: str = "t1", n_prompts: int = 5, models: tuple[str, ...] = ("m1", "m2", "m3"),
    **config: object,
) -> TaskBundle:
    prompts = [
        Prompt(f"q{i}", ({"role": "user", "content": f"question {i}"},), category="c")
        for i in range(n_prompts)
    ]
    outputs = [
        Output(f"q{i}", m, ({"role": "assistant", "content": f"answer {i} by {m}" * (j + 1)},))
        for i in range(n_prompts) for j, m in enumerate(models)
    ]
    return TaskBundle(TaskConfig(name=name, title=name.upper(), **config),  # type: ignore[arg-type]
                      prompts, outputs, source_files=[f"{name}/outputs.jsonl"])


@pytest.fixture
def bundle_factory() -> Callable[..., TaskBundle]:
    return make_bundle


def signed_in(db: Database, name: str, **kwargs: object) -> str:
    """A rater (created, or given a new link) and the id of a browser session of theirs."""
    from judge_app.services import raters, sessions

    session_id = sessions.sign_in(db, raters.add_rater(db, name, **kwargs).token)  # type: ignore[arg-type]
    assert session_id is not None
    return session_id
