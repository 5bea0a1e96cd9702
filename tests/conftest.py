"""Shared fixtures: a real database per test (a DuckDB file; for tests marked
`both_backends`, also a database on a throwaway PostgreSQL server) and small synthetic tasks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from judge_app.core.types import Output, Prompt, TaskBundle, TaskConfig
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests import pg_server as pg
from tests.browser_helpers import browser, page

__all__ = ["browser", "page"]  # chromium for the browser tests (tests/browser_helpers.py)

# Real published data bundled with the tests (each folder says its source and licence).
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    """A PostgreSQL server of this test run (tests/pg_server.py). Not being able to start
    one is an error, never a skip: `make test` installs PostgreSQL."""
    server = pg.start()
    yield server
    server.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_backends` run once on DuckDB and once on PostgreSQL."""
    if "db" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("db", ["duckdb", "postgresql"], indirect=True)


@pytest.fixture
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh, migrated database: a DuckDB file, or (parametrized) a new PostgreSQL database."""
    if getattr(request, "param", "duckdb") == "postgresql":
        server = request.getfixturevalue("pg_server")
        handle = open_database(server.new_database())
    else:
        handle = open_database(tmp_path / "judge.duckdb")
    yield handle
    handle.close()  # this process owns the file until then; let go of it between tests


@pytest.fixture
def page_db(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    """`db`, and the database the app's pages open ($JUDGE_APP_DB): for AppTest page tests."""
    monkeypatch.setenv("JUDGE_APP_DB", db.target)
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
