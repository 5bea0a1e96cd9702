"""The export page: admin only, preview of the chosen format, download prepared."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.services.raters import add_rater
from judge_app.storage.db import Database
from tests.export_helpers import load_prefs
from tests.ui_helpers import app_test

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

def _page(db: Database, monkeypatch: pytest.MonkeyPatch, admin: bool) -> AppTest:
    monkeypatch.setenv("JUDGE_APP_DB", db.target)
    login = add_rater(db, "lead" if admin else "ann", admin=admin)
    return app_test("export", login.token, timeout=30).run()


def test_export_page_previews_and_prepares_download(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_prefs(db)
    at = _page(db, monkeypatch, admin=True)
    assert not at.exception
    assert at.selectbox(key="export_task").value == "prefs"
    assert len(at.dataframe[0].value) == 4  # trl: four chosen/rejected pairs
    at.selectbox(key="export_format").set_value("battles").run()
    assert not at.exception and len(at.dataframe[0].value) == 13
    at.selectbox(key="export_format").set_value("trl").run()
    at.slider(key="export_min_agreement").set_value(0.9).run()
    assert len(at.dataframe[0].value) == 3
    at.button(key="export_prepare").click().run()
    assert not at.exception


def test_export_page_needs_admin(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    load_prefs(db)
    at = _page(db, monkeypatch, admin=False)
    assert "admin" in at.error[0].value
    assert not at.dataframe
