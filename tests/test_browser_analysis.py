"""The analysis pages in a real browser: charts drawn at a readable size, names shown as text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.storage.schema import open_database
from tests.analysis_helpers import simulated_bundle
from tests.browser_helpers import expect, serving, wait_idle

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def admin_url(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The admin's analysis pages served from a DuckDB file, then from PostgreSQL."""
    if request.param == "postgresql":
        path: Path | str = request.getfixturevalue("pg_server").new_database("analysis")
    else:
        path = tmp_path_factory.mktemp("analysis") / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, simulated_bundle("sim", prompts=10))
    token = raters.add_rater(db, "boss", admin=True).token
    with serving(path) as url:
        yield f"{url}/{{page}}?token={token}"


@pytest.mark.parametrize(("name", "charts"), [("leaderboard", 4), ("bias", 2)])
def test_charts_are_drawn_with_one_row_per_model(admin_url: str, browser: Any, name: str,
                                                 charts: int) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 2400})
    page = context.new_page()
    page.set_default_timeout(60_000)
    xss: list[str] = []
    page.on("dialog", lambda d: (xss.append(d.message), d.dismiss()))
    page.goto(admin_url.format(page=name))
    drawn = page.locator('[data-testid="stVegaLiteChart"] svg, '
                         '[data-testid="stVegaLiteChart"] canvas')
    expect(drawn.nth(charts - 1)).to_be_visible()
    wait_idle(page)
    first = page.locator('[data-testid="stVegaLiteChart"]').first.bounding_box()
    # one step of 22 px per row plus title and axis; 110 px when Streamlit squashed rows
    assert first is not None and first["height"] > 120, first
    if name == "leaderboard":  # model names on the chart axes: shown as text, never run
        assert "<script>alert(1)</script>" in page.inner_text("body")
    assert not xss
    context.close()
