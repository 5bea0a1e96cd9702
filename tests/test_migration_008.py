"""Migration 008 (api_batches; judge_calls and generation_calls latency may be NULL) on a
database made by an earlier release: every judge call keeps its figures, and a batch answer's
missing latency can then be stored."""

from __future__ import annotations

from pathlib import Path

import duckdb

from judge_app.storage.schema import open_database
from tests.test_migration_005 import release_copy

# columns the release already had under these names (migration 005 renamed others)
KEPT = "call_key, raw_answer, input_tokens, output_tokens, cost_usd, latency_ms, attempts"


def test_an_earlier_database_upgrades_keeping_every_judge_call(tmp_path: Path) -> None:
    path = release_copy(tmp_path)
    conn = duckdb.connect(str(path), read_only=True)
    before = conn.execute(f"SELECT {KEPT} FROM judge_calls ORDER BY call_key").fetchall()
    conn.close()
    assert len(before) > 0 and all(row is not None for row in before)
    db = open_database(path)
    try:
        with db.cursor() as cur:
            assert 8 in [v for (v,) in cur.execute("SELECT version FROM schema_migrations")
                         .fetchall()]
            assert cur.execute("SELECT count(*) FROM api_batches").fetchone() == (0,)
            after = cur.execute(f"SELECT {KEPT} FROM judge_calls "  # noqa: S608
                                "ORDER BY call_key").fetchall()
            assert after == before
            key = str(after[0][0])
            cur.execute("UPDATE judge_calls SET latency_ms = NULL WHERE call_key = ?", [key])
            cur.execute("SELECT latency_ms FROM judge_calls WHERE call_key = ?", [key])
            assert cur.fetchone() == (None,)
    finally:
        db.close()
