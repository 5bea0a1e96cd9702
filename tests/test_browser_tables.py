"""Long names and wide tables in a real browser: chart labels whole, tables that fit, and the
HTML report's tables scrolling sideways with the names kept in view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from judge_app.judges.config import parse_config
from judge_app.services import raters
from judge_app.services.imports import import_bundle
from judge_app.services.judge_runs import plan_run, run_plan
from judge_app.services.leaderboard import LeaderboardQuery
from judge_app.services.report import write_report
from judge_app.storage.schema import open_database
from tests.analysis_helpers import simulated_bundle
from tests.browser_helpers import expect, serving, wait_idle
from tests.fake_openai_server import FakeOpenAIServer

pytestmark = pytest.mark.browser

# Two models and two raters whose names share a prefix longer than 20 characters.
MODELS = {"Meta-Llama-3-70B-Instruct-turbo": 1.0, "Meta-Llama-3-70B-Instruct-lite": 0.4,
          "gamma": 0.0, "delta": -0.5}
RATERS = ("pandalm-annotator-1-of-the-test-set", "pandalm-annotator-2-of-the-test-set")
WIDTH = 1440  # a laptop-wide window


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("tables")
    path = folder / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, simulated_bundle("long-names", MODELS, prompts=10, raters=RATERS))
    with FakeOpenAIServer() as server:  # a real judge run, so the runs table has a row
        config = parse_config({"name": "gpt-4o-mini-2024-07-18-as-a-judge", "model": "fake",
                               "template": "overall", "base_url": server.base_url})
        run_plan(db, plan_run(db, "long-names", config))
    token = raters.add_rater(db, "boss", admin=True).token
    report = write_report(db, LeaderboardQuery("long-names"), folder / "report.html")
    db.close()
    with serving(path) as url:
        yield f"{url}/{{page}}?token={token}", report


def _open(browser: Any, url: str, width: int = WIDTH) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": width, "height": 1400})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(url)
    return context, page


def _chart_texts(page: Any, charts: int) -> list[str]:
    drawn = page.locator('[data-testid="stVegaLiteChart"] svg')
    expect(drawn.nth(charts - 1)).to_be_visible()
    wait_idle(page)
    return list(page.eval_on_selector_all('[data-testid="stVegaLiteChart"] svg text',
                                          "els => els.map(e => e.textContent)"))


@pytest.mark.parametrize(("name", "charts", "names"), [("leaderboard", 4, list(MODELS)[:2]),
                                                        ("bias", 2, list(RATERS))])
def test_chart_labels_show_whole_names(served: tuple[str, Path], browser: Any, name: str,
                                       charts: int, names: list[str]) -> None:
    context, page = _open(browser, served[0].format(page=name))
    texts = _chart_texts(page, charts)
    for full in names:
        assert full in texts, (full, [t for t in texts if t.startswith(full[:10])])
    assert not [t for t in texts if t.endswith("…")]  # nothing cut short
    context.close()


@pytest.mark.parametrize(("name", "tables"), [("admin_tasks", 1), ("agreement", 2),
                                               ("judge_runs", 2)])
def test_wide_tables_fit_a_laptop_window(served: tuple[str, Path], browser: Any, name: str,
                                         tables: int) -> None:
    context, page = _open(browser, served[0].format(page=name))
    scrollers = page.locator('[data-testid="stDataFrame"] .dvn-scroller')
    expect(scrollers.nth(tables - 1)).to_be_attached()
    wait_idle(page)
    main = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
    sizes = scrollers.evaluate_all("els => els.map(e => [e.scrollWidth, e.clientWidth])")
    assert len(sizes) >= tables
    for scroll_width, client_width in sizes:  # every column, the last one too, is in view
        assert scroll_width <= client_width + 1, (name, sizes)
    for frame in page.locator('[data-testid="stDataFrame"]').all():
        box = frame.bounding_box()
        assert box["x"] + box["width"] <= main["x"] + main["width"] + 1
    context.close()


def test_report_names_whole_and_tables_scroll(served: tuple[str, Path], browser: Any) -> None:
    report = served[1]
    text = report.read_text(encoding="utf-8")
    for full in [*list(MODELS)[:2], *RATERS]:
        assert f">{full}</text>" in text  # an SVG axis label with the whole name
    context, page = _open(browser, report.as_uri(), width=700)
    heading = page.get_by_role("heading", name="Rater quality (people and judges)")
    wrap = heading.locator("xpath=following-sibling::div[1]")
    expect(wrap).to_have_class("table-wrap")
    width, client = wrap.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert width > client  # wider than the window: it scrolls inside its box
    wrap.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
    box = wrap.bounding_box()
    last = wrap.locator("th").last.bounding_box()
    first = wrap.locator("th").first.bounding_box()
    assert last["x"] + last["width"] <= box["x"] + box["width"] + 1  # the last column in view
    assert abs(first["x"] - box["x"]) <= 1  # and the names' column stays put
    assert page.locator("body").evaluate("b => b.scrollWidth <= window.innerWidth + 1")
    context.close()
