"""Migration 007 (arena_battles) on a database made by an earlier release: it upgrades in
place, and every verdict still counts in the ratings (the self-identification filter finds
no arena battle there)."""

from __future__ import annotations

from pathlib import Path

from judge_app.storage.analytics import Slice, battle_count_rows
from judge_app.storage.schema import open_database
from tests.test_migration_005 import release_copy


def test_an_earlier_database_upgrades_and_keeps_counting_every_verdict(tmp_path: Path) -> None:
    db = open_database(release_copy(tmp_path))
    try:
        with db.cursor() as cur:
            versions = [v for (v,) in cur.execute(
                "SELECT version FROM schema_migrations ORDER BY version").fetchall()]
            assert versions[-1] >= 7 and 7 in versions
            assert cur.execute("SELECT count(*) FROM arena_battles").fetchone() == (0,)
            tasks = [t for (t,) in cur.execute(
                "SELECT DISTINCT task_id FROM active_verdicts").fetchall()]
            assert tasks
            for task in tasks:
                (active,) = cur.execute("SELECT count(*) FROM active_verdicts WHERE task_id = ?",
                                        [task]).fetchone() or (0,)
                counted = sum(n for *_, n in battle_count_rows(cur, Slice(task)))
                assert counted == active > 0
    finally:
        db.close()
