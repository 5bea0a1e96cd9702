"""judge-app copy: a deployment moved DuckDB -> PostgreSQL -> DuckDB keeps every row and the
same leaderboard; a target that holds data is refused and left as it was."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest

from judge_app.cli import main
from judge_app.errors import ValidationError
from judge_app.services import queue, raters
from judge_app.services.copying import copy_database
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import LeaderboardQuery, run_leaderboard
from judge_app.services.verdicts import VerdictInput, record_verdict, undo_last
from judge_app.storage import copy as store
from judge_app.storage.schema import open_database
from tests.analysis_helpers import simulated_bundle
from tests.conftest import make_bundle, signed_in
from tests.pg_server import PgServer


def _fill(target: str) -> None:
    """Imported verdicts of people and judges, and a rater's own votes, skips and an undo."""
    db = open_database(target)
    import_bundle(db, simulated_bundle("sim", prompts=20, raters=("ann", "ben")))
    import_bundle(db, make_bundle("t1", n_prompts=6, models=("m1", "m2"), overlap=1))
    session = signed_in(db, "cy", tasks=["t1"])
    raters.remember_base_url(db, "http://judge.example")
    for k in range(5):
        item = queue.next_assignment(db, "cy", "t1")
        assert item is not None
        record_verdict(db, session, VerdictInput(item.assignment_id, "left" if k % 2 else "tie",
                                                 uuid.uuid4().hex, duration_ms=1200 + k))
    assert undo_last(db, session, "t1") is not None
    db.close()


def _state(target: str) -> tuple[dict[str, int], list[pd.DataFrame], list[tuple[object, ...]]]:
    db = open_database(target, create=False)
    with db.cursor() as cur:
        counts = store.row_counts(cur)
        verdicts = cur.execute(
            "SELECT verdict_id, outcome, retracts, duration_ms, created_at FROM verdicts "
            "ORDER BY verdict_id").fetchall()
    boards = [run_leaderboard(db, LeaderboardQuery("sim")).reset_index(drop=True),
              run_leaderboard(db, LeaderboardQuery("t1")).reset_index(drop=True)]
    db.close()
    return counts, boards, verdicts


def test_duckdb_to_postgresql_and_back(pg_server: PgServer, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    first = str(tmp_path / "first.duckdb")
    _fill(first)
    url = pg_server.new_database("copy")
    back = str(tmp_path / "back.duckdb")
    assert main(["copy", "--from", first, "--to", url, "--quiet"]) == 0
    assert "copied" in capsys.readouterr().out
    report = copy_database(url, back)
    states = [_state(t) for t in (first, url, back)]
    counts = states[0][0]
    assert counts["verdicts"] > 100 and counts["assignments"] == 5
    assert counts["rater_sessions"] == 1 and counts["app_settings"] == 1
    assert report.rows == counts
    for counts_n, boards_n, verdicts_n in states[1:]:
        assert counts_n == counts
        assert verdicts_n == states[0][2]  # ids, outcomes, retractions, durations and times
        for mine, theirs in zip(boards_n, states[0][1], strict=True):
            pd.testing.assert_frame_equal(mine, theirs)


def test_a_target_with_data_is_refused(pg_server: PgServer, tmp_path: Path) -> None:
    source = str(tmp_path / "source.duckdb")
    _fill(source)
    url = pg_server.new_database("busy")
    db = open_database(url)
    import_bundle(db, make_bundle("other", n_prompts=2, models=("m1", "m2")))
    db.close()
    with pytest.raises(ValidationError, match="is not empty"):
        copy_database(source, url)
    db = open_database(url)
    with db.cursor() as cur:
        counts = store.row_counts(cur)
    db.close()
    assert counts["tasks"] == 1 and counts["pairs"] == 2 and counts["verdicts"] == 0
    with pytest.raises(ValidationError, match="same database"):
        copy_database(source, source)
