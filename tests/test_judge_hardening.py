"""What adversarial testing got through on the judge side: secrets in URLs and error bodies,
endpoints that cannot answer, and runs killed with SIGKILL. Real processes, a real DuckDB
file and the real fake OpenAI server."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from judge_app.core.redact import redact, redact_url, url_secrets
from judge_app.errors import ValidationError
from judge_app.judges.config import JudgeConfig, parse_config
from judge_app.judges.owner import current_owner, owner_alive
from judge_app.services import judges, raters
from judge_app.services.imports import import_bundle
from judge_app.services.judge_runs import RunSummary, plan_run, run_plan
from judge_app.storage.db import Database
from judge_app.storage.schema import open_database
from tests.conftest import make_bundle
from tests.fake_openai_server import FakeOpenAIServer, Reply, Request, longer_wins

pytestmark = pytest.mark.both_backends  # DuckDB and PostgreSQL

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "judge_app" / "ui" / "app_pages" / "judge_runs.py"

KEY = "KEYSECRET-0123456789abcdef"  # matches no token pattern: only its value can mask it
URL_PASSWORD = "pw-URLSECRET"
QUERY_SECRET = "QUERYSECRET42"
SECRETS = [KEY, URL_PASSWORD, QUERY_SECRET,
           base64.b64encode(f"alice:{URL_PASSWORD}".encode()).decode()]


# ---------------------------------------------------------------- redaction, pure

def test_redact_url_masks_userinfo_and_credential_parameters() -> None:
    url = "https://bob:hunter22@api.example.com/v1?api-version=2024&api_key=abcd1234&sig=zz99"
    shown = redact_url(url)
    assert shown == "https://***@api.example.com/v1?api-version=2024&api_key=***&sig=***"
    assert redact_url("http://127.0.0.1:8000/v1") == "http://127.0.0.1:8000/v1"
    assert set(url_secrets(url)) >= {"hunter22", "abcd1234", "zz99"}
    assert redact_url("https://TOKENVALUE@host/v1") == "https://***@host/v1"
    assert "TOKENVALUE" in url_secrets("https://TOKENVALUE@host/v1")


def test_redact_text_masks_known_values_and_token_shapes() -> None:
    text = (f"Incorrect API key provided: {KEY}. Authorization: Bearer abc.def-123 "
            "key sk-proj-aaaaaaaaaaaa1234 at https://u:p4ss@x.io/v1?token=tttt1111 "
            '{"api_key": "zzzz9999"}')
    out = redact(text, [KEY])
    for secret in (KEY, "abc.def-123", "aaaaaaaaaaaa1234", "p4ss", "tttt1111", "zzzz9999"):
        assert secret not in out
    assert "Incorrect API key provided" in out and "x.io/v1" in out
    assert redact("nothing secret here: 42 calls") == "nothing secret here: 42 calls"


# ---------------------------------------------------------------- helpers

def make_db(tmp_path: Path, n_prompts: int = 2) -> Path:
    path = tmp_path / "judge.duckdb"
    db = open_database(path)
    import_bundle(db, make_bundle("t1", n_prompts=n_prompts))
    db.close()
    return path


def judge_toml(tmp_path: Path, name: str, base_url: str, **extra: object) -> Path:
    lines = [f'name = "{name}"', 'model = "fake"', 'template = "overall"',
             f'base_url = "{base_url}"', 'api_key_env = "HARDEN_KEY"',
             "input_price_per_million = 1.0", "output_price_per_million = 4.0"]
    lines += [f"{k} = {v}" for k, v in extra.items()]
    path = tmp_path / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(*args: str, db: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["HARDEN_KEY"] = KEY
    return subprocess.run([sys.executable, "-m", "judge_app.cli", *args, "--db", str(db)],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout, env=env)


def echo_key(req: Request) -> Reply:
    """A 401 whose body echoes the key it was sent, as some gateways do."""
    sent = req.headers.get("authorization", "").split(" ")[-1]
    message = (f"Incorrect API key provided: {sent}. You can find your API key at "
               "https://example.com/keys.")
    return Reply(status=401, raw_body=json.dumps({"error": {"message": message}}).encode())


def all_database_text(path: Path) -> str:
    """Every value of every table, as text: what a grep of the tables would see."""
    db = Database(path)
    try:
        with db.cursor() as cur:
            tables = [r[0] for r in cur.execute(
                "SELECT table_name FROM information_schema.tables").fetchall()]
            dumped = [repr(cur.execute(f'SELECT * FROM "{t}"').fetchall()) for t in tables]
    finally:
        db.close()
    return "\n".join(dumped)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- secrets

def test_secrets_reach_no_table_no_output_and_no_admin_page(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_path = make_db(tmp_path)
    outputs: list[str] = []
    with FakeOpenAIServer() as good, FakeOpenAIServer(echo_key) as echo:
        with_userinfo = good.base_url.replace("http://", f"http://alice:{URL_PASSWORD}@")
        good_judge = judge_toml(tmp_path, "cred-judge", with_userinfo)
        # A secret in the query: this endpoint answers 404 and its body echoes the path.
        query_judge = judge_toml(tmp_path, "query-judge",
                                 f"{good.base_url}?api_key={QUERY_SECRET}")
        echo_judge = judge_toml(tmp_path, "echo-judge", echo.base_url)
        for judge in (good_judge, query_judge, echo_judge):
            dry = cli("judge", "--task", "t1", "--judge", str(judge), "--dry-run", db=db_path)
            assert dry.returncode == 0, dry.stderr
            done = cli("judge", "--task", "t1", "--judge", str(judge), "--quiet", db=db_path)
            outputs += [dry.stdout, dry.stderr, done.stdout, done.stderr]
        assert "run " in outputs[2] and ": done" in outputs[2], outputs[2:4]
        assert echo.count >= 1 and KEY in echo.requests[0].headers["authorization"]
        assert "rejected the API key" in outputs[-2] and "Incorrect API key provided" in \
            outputs[-2]
        assert "does not know this model or path" in outputs[6]
        listed = cli("runs", db=db_path)
        outputs += [listed.stdout, listed.stderr]
        assert listed.returncode == 0 and "echo-judge" in listed.stdout
        assert "http://***@127.0.0.1" in listed.stdout

        db = open_database(db_path)
        try:
            admin: list[Any] = [judges.list_runs(db)]
            monkeypatch.setenv("HARDEN_KEY", KEY)
            admin += [judges.estimate(db, "t1", j) for j in (good_judge, query_judge)]
            token = raters.add_rater(db, "boss", admin=True).token
        finally:
            db.close()
        monkeypatch.setenv("JUDGE_APP_DB", str(db_path))
        at = AppTest.from_file(str(PAGE), default_timeout=60)
        at.session_state["token"] = token
        at.run()
        at.text_input(key="judge_run_path").input(str(query_judge))
        at.button[1].click().run()  # Estimate
        assert not at.exception
        page = [str(at.dataframe[0].value.to_dict())] + [
            str(e.value) for kind in ("markdown", "error", "success") for e in getattr(at, kind)]
        assert any("***" in p for p in page)

    stored = all_database_text(db_path)
    assert "alice:***" not in stored and "127.0.0.1" in stored  # the endpoint is kept, masked
    raw = db_path.read_bytes()
    for secret in SECRETS:
        assert secret not in stored, secret
        assert secret.encode() not in raw, secret
        for text in outputs + [repr(admin)] + page:
            assert secret not in text, (secret, text)


# ---------------------------------------------------------------- endpoints that cannot answer

@pytest.fixture
def task_db(db: Database) -> Database:
    import_bundle(db, make_bundle("t1"))
    return db


def config(base_url: str, **settings: Any) -> JudgeConfig:
    return parse_config({"name": "judge1", "model": "fake", "template": "overall",
                         "base_url": base_url, **settings})


def run(db: Database, cfg: JudgeConfig) -> RunSummary:
    return run_plan(db, plan_run(db, "t1", cfg))


def stored_run(db: Database) -> dict[str, Any]:
    return judges.list_runs(db)[0]


@pytest.mark.parametrize(("status", "body", "says"), [
    (401, "Invalid authentication credentials", "rejected the API key"),
    (403, "Your organisation has no access to this model", "refused access"),
    (404, "The model `fake` does not exist", "does not know this model"),
])
def test_errors_retrying_cannot_fix_stop_the_run_at_once(
        task_db: Database, status: int, body: str, says: str) -> None:
    def refuse(req: Request) -> Reply:
        return Reply(status=status, raw_body=b'{"error": {"message": "%s"}}' % body.encode())

    with FakeOpenAIServer(refuse) as server:
        summary = run(task_db, config(server.base_url, concurrency=2))
        assert server.count <= 2  # the calls already in flight, nothing more, no retries
    assert summary.status == "failed" and summary.new_calls == 0
    for text in (summary.message, stored_run(task_db)["message"]):
        assert says in text and body in text and server.base_url in text
    assert stored_run(task_db)["status"] == "failed"
    assert stored_run(task_db)["endpoint"] == server.base_url


def test_a_closed_port_fails_fast_with_the_reason(task_db: Database) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"
    summary = run(task_db, config(url, concurrency=2, retries=6))
    assert summary.status == "failed" and summary.new_calls == 0
    assert summary.failed_calls <= 2  # one per worker, then the run stopped
    assert summary.retries.get("connection", 0) <= 2 * 2  # bounded check, not 6 retries each
    message = stored_run(task_db)["message"]
    assert f"cannot reach the endpoint {url}" in message
    assert "refused" in message.lower() or "connect call failed" in message.lower()


def test_an_unknown_host_fails_fast(task_db: Database) -> None:
    summary = run(task_db, config("http://no-such-host.invalid/v1", concurrency=1))
    assert summary.status == "failed" and summary.failed_calls == 1
    assert "cannot reach the endpoint http://no-such-host.invalid/v1" in summary.message


@pytest.mark.parametrize(("status", "kind"), [(429, "rate_limited"), (500, "server_error")])
def test_transient_errors_are_retried_and_said(task_db: Database, status: int, kind: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAIServer(fail_first=3, fail_status=status, retry_after=0.01) as server:
        summary = run(task_db, config(server.base_url, concurrency=1))
    assert summary.status == "done" and summary.failed_calls == 0
    assert summary.retries == {kind: 3}
    err = capsys.readouterr().err
    assert f"retrying after HTTP {status}" in err


def test_a_connection_dropped_mid_run_is_retried(task_db: Database) -> None:
    def drops_the_fifth(req: Request) -> Reply | str:
        if req.number == 5:
            raise ConnectionAbortedError("dropped")  # the server closes without answering
        return longer_wins(req)

    with FakeOpenAIServer(drops_the_fifth) as server:
        summary = run(task_db, config(server.base_url, concurrency=1))
    assert summary.status == "done" and summary.retries == {"connection": 1}


def test_the_cli_summary_names_the_endpoint_and_its_error(tmp_path: Path) -> None:
    db_path = make_db(tmp_path)
    url = f"http://127.0.0.1:{free_port()}/v1"
    out = cli("judge", "--task", "t1", "--judge", str(judge_toml(tmp_path, "j", url)),
              "--quiet", db=db_path, timeout=120)
    assert out.returncode == 2, out.stderr
    assert f"failed (stopped: cannot reach the endpoint {url}" in out.stdout
    assert f"endpoint: {url}" in out.stdout


# ---------------------------------------------------------------- dead runs

def test_owner_alive_tells_a_live_process_from_a_gone_or_reused_one() -> None:
    me = current_owner()
    assert owner_alive(me)
    assert not owner_alive({**me, "pid_started": (me["pid_started"] or 0) + 1})  # pid reused
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    assert not owner_alive({**me, "pid": int(done.stdout), "pid_started": None})
    other_host = {"pid": 1, "host": "elsewhere", "pid_started": None}
    assert owner_alive({**other_host, "heartbeat_age_s": 3.0})
    assert not owner_alive({**other_host, "heartbeat_age_s": 3600.0})


@pytest.fixture
def slow_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(latency_ms=40) as server:
        yield server


def test_a_sigkilled_run_shows_as_interrupted_and_resumes(
        tmp_path: Path, slow_server: FakeOpenAIServer) -> None:
    db_path = make_db(tmp_path, 10)  # 30 pairs, 60 calls
    judge = judge_toml(tmp_path, "killed", slow_server.base_url, concurrency=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "judge_app.cli", "judge", "--task", "t1", "--judge", str(judge),
         "--quiet", "--db", str(db_path)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while slow_server.count < 10 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    try:
        # Not reaped yet (a zombie, as a run started from the app server would be).
        deadline = time.monotonic() + 60
        while True:
            try:
                db = Database(db_path)
                break
            except Exception:  # the dying process may still hold the file for a moment
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        try:
            run_row = judges.list_runs(db)[0]
        finally:
            db.close()
        assert run_row["status"] == "interrupted"
        assert "run the same judge-app judge command" in run_row["message"]
    finally:
        proc.wait()
    listed = cli("runs", db=db_path)
    assert "killed on t1: interrupted" in listed.stdout and "resume" in listed.stdout
    resumed = cli("judge", "--task", "t1", "--judge", str(judge), "--quiet", db=db_path)
    assert resumed.returncode == 0, resumed.stderr
    statuses = [line.split(": ")[1].split(",")[0]
                for line in cli("runs", db=db_path).stdout.splitlines()
                if " on t1: " in line]
    assert statuses == ["done", "interrupted"]


# ---------------------------------------------------------------- errors at the boundaries

def test_a_folder_given_as_judge_config_is_an_error_not_a_traceback(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db_path = make_db(tmp_path)
    folder = tmp_path / "judges"
    folder.mkdir()
    out = cli("judge", "--task", "t1", "--judge", str(folder), db=db_path)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "expected a judge config file, found a folder" in out.stderr
    db = open_database(db_path)
    token = raters.add_rater(db, "boss", admin=True).token
    db.close()
    monkeypatch.setenv("JUDGE_APP_DB", str(db_path))
    at = AppTest.from_file(str(PAGE), default_timeout=60)
    at.session_state["token"] = token
    at.run()
    at.text_input(key="judge_run_path").input(str(folder))
    at.button[0].click().run()  # Estimate (no runs yet, so no Refresh button)
    assert not at.exception
    assert any("found a folder" in str(e.value) for e in at.error)


@pytest.mark.parametrize(("setting", "field"), [
    ({"seed": 2**63 - 1}, "seed"), ({"seed": -1}, "seed"),
    ({"name": "judge\x1b[31m"}, "name"), ({"model": "m\x07"}, "model"),
])
def test_judge_config_bounds_and_names(setting: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_config({"name": "j", "model": "m", "template": "overall", **setting})
    assert caught.value.field == field


def test_stored_config_masks_the_url_but_the_hash_keeps_it_apart() -> None:
    plain = parse_config({"name": "j", "model": "m", "template": "overall",
                          "base_url": "https://host/v1"})
    secret = parse_config({"name": "j", "model": "m", "template": "overall",
                           "base_url": f"https://bob:{URL_PASSWORD}@host/v1"})
    assert URL_PASSWORD not in repr(secret.describe())
    assert secret.describe()["base_url"] == "https://***@host/v1"
    assert secret.config_hash({}) != plain.config_hash({})  # the hash covers the real URL
    assert secret.config_hash({}) == parse_config(
        {"name": "j", "model": "m", "template": "overall",
         "base_url": f"https://bob:{URL_PASSWORD}@host/v1"}).config_hash({})
