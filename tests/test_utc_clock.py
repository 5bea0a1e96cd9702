"""Times are UTC whatever the machine's time zone (TZ) says.

The key paths (a rater signs in and votes, skips and undoes; a judge run against the fake
OpenAI server; an export; a session's expiry) run in a subprocess with TZ set far from UTC
(UTC+14 and UTC-10) and with TZ=UTC. Every stored time must be the UTC instant of the run, and
the figures must be the same in every zone. DuckDB takes its own time zone from TZ: before the
storage connection was pinned to UTC, its `current_timestamp` defaults stored local times next
to the UTC times written from Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import json, sys
from datetime import timedelta
from pathlib import Path

from judge_app.core.clock import stored_now
from judge_app.judges.config import load_config
from judge_app.services.judge_runs import plan_run, run_plan
from judge_app.services import judges, queue, raters, sessions, verdicts
from judge_app.services.exports import ExportRequest, export_task
from judge_app.services.imports import import_bundle
from judge_app.services.leaderboard import compute_leaderboard
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer

folder = Path(sys.argv[1])
db = open_database(folder / "judge.duckdb")
import_bundle(db, make_bundle("t1", n_prompts=3))
session = sessions.sign_in(db, raters.add_rater(db, "ann", tasks=["t1"]).token)
for n, choice in enumerate(["left", "right", "tie", "left", "right"]):
    pair = queue.next_assignment(db, "ann", "t1", session_id=session)
    if n == 1:
        verdicts.skip(db, session, pair.assignment_id)
        continue
    verdicts.record_verdict(db, session, verdicts.VerdictInput(
        pair.assignment_id, choice, None))
verdicts.undo_last(db, session, "t1")
with FakeOpenAIServer() as server:
    judge = folder / "judge.toml"
    judge.write_text(f'name = "j"\nmodel = "fake"\ntemplate = "overall"\n'
                     f'base_url = "{server.base_url}"\n')
    run_plan(db, plan_run(db, "t1", load_config(judge)), progress=False)
export = export_task(db, ExportRequest(task="t1", fmt="battles"), folder / "battles.jsonl")

# Sessions: one that ends in an hour still counts, one that ended a minute ago does not.
with db.transaction() as cur:
    cur.execute("UPDATE rater_sessions SET expires_at = "
                "current_timestamp::TIMESTAMP + INTERVAL 1 HOUR")
alive = sessions.rater_of(db, session) is not None
ended = sessions.sign_in(db, raters.add_rater(db, "bob", tasks=["t1"]).token)
with db.transaction() as cur:
    cur.execute("UPDATE rater_sessions SET expires_at = ? WHERE rater_id = 'bob'",
                [stored_now() - timedelta(minutes=1)])
expired = sessions.rater_of(db, ended) is None

times = {}
with db.cursor() as cur:
    for table, columns in {
        "raters": ["created_at"], "assignments": ["created_at"], "verdicts": ["created_at"],
        "judge_runs": ["started_at", "updated_at", "finished_at"],
        "judge_calls": ["created_at"], "rater_sessions": ["created_at", "expires_at"],
        "tasks": ["created_at"], "schema_migrations": ["applied_at"],
    }.items():
        for column in columns:
            rows = cur.execute(f"SELECT {column} FROM {table}").fetchall()
            times[f"{table}.{column}"] = [r[0].isoformat() for r in rows]
runs = judges.list_runs(db)
battles = [json.loads(line) for line in export.path.read_text().splitlines()]
board = compute_leaderboard(db, "t1", source="all")
print(json.dumps({
    "times": times, "alive": alive, "expired": expired,
    "runs": [(r["status"], r["heartbeat_age_s"]) for r in runs],
    "tstamps": [b["tstamp"] for b in battles],
    "battles": sorted((b["question_id"], b["model_a"], b["model_b"], b["winner"], b["judge"])
                      for b in battles),
    "leaderboard": board.drop(columns=[c for c in board.columns if "time" in c]).to_dict("list"),
}, default=str))
db.close()
"""


def run_in_zone(tmp_path: Path, zone: str) -> dict[str, Any]:
    folder = tmp_path / zone.replace("/", "-")
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["TZ"] = zone
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(folder)], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def zones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp_path = tmp_path_factory.mktemp("zones")
    out = {}
    for zone in ("UTC", "Pacific/Kiritimati", "Pacific/Honolulu"):
        start = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
        found = run_in_zone(tmp_path, zone)
        end = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=1)
        out[zone] = (start, end, found)
    return out


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Honolulu"])
def test_every_stored_time_is_the_utc_instant(zones: dict[str, Any], zone: str) -> None:
    start, end, found = zones[zone]
    for where, values in found["times"].items():
        assert values, where
        for value in values:
            moment = datetime.fromisoformat(value)
            assert moment.tzinfo is None, where  # TIMESTAMP columns: naive UTC
            if where == "rater_sessions.expires_at":
                continue  # set to now + an hour, and to a minute ago, below
            assert start <= moment <= end, f"{where} = {value} (run {start} .. {end})"
    [(status, age)] = found["runs"]
    assert status == "done" and -60 < age < 600
    for stamp in found["tstamps"]:  # the battle log's epoch seconds
        assert start.replace(tzinfo=UTC).timestamp() <= stamp <= end.replace(
            tzinfo=UTC).timestamp()


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Honolulu"])
def test_sessions_expire_on_utc_time(zones: dict[str, Any], zone: str) -> None:
    found = zones[zone][2]
    assert found["alive"] is True and found["expired"] is True


def test_the_figures_do_not_depend_on_the_time_zone(zones: dict[str, Any]) -> None:
    utc = zones["UTC"][2]
    for zone in ("Pacific/Kiritimati", "Pacific/Honolulu"):
        found = zones[zone][2]
        assert found["battles"] == utc["battles"]
        assert found["leaderboard"] == utc["leaderboard"]
    assert len(utc["battles"]) > 10
