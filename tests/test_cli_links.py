"""Login links printed by the CLI point at the configured server and stay valid until revoked."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from judge_app.services import raters
from judge_app.storage.schema import open_database
from tests.test_cli import ROOT, cli, free_port


def serve_admin_line(db: Path, *extra: str) -> str:
    """Start `judge-app serve --print-admin-link`, read its first line, stop it."""
    server = subprocess.Popen(
        [sys.executable, "-m", "judge_app.cli", "serve", "--db", str(db), "--print-admin-link",
         *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        return server.stdout.readline()
    finally:
        server.terminate()
        server.wait(timeout=60)


def token_of(line: str) -> str:
    found = re.search(r"token=([A-Za-z0-9_-]+)", line)
    assert found, line
    return found[1]


def test_links_use_the_servers_address_and_the_admin_link_survives_restarts(
    tmp_path: Path,
) -> None:
    db = tmp_path / "x.duckdb"
    cli("init", db=db)  # serve opens an existing database only
    first_port, second_port = free_port(), free_port()
    first = serve_admin_line(db, "--port", str(first_port))
    assert f"admin login: http://127.0.0.1:{first_port}/?token=" in first
    keep = raters.admin_link_file(db)
    assert stat.S_IMODE(keep.stat().st_mode) == 0o600

    bob = cli("raters", "add", "bob", db=db).stdout
    assert f"http://127.0.0.1:{first_port}/?token=" in bob  # not 8501
    proxied = cli("raters", "add", "carl", "--base-url", "https://judge.example.org", db=db)
    assert "https://judge.example.org/?token=" in proxied.stdout

    second = serve_admin_line(db, "--port", str(second_port))  # a restart, another port
    assert f"http://127.0.0.1:{second_port}/?token=" in second and "issued earlier" in second
    assert token_of(second) == token_of(first)  # the link given out before still works
    behind = serve_admin_line(db, "--port", str(second_port), "--base-url",
                              "https://judge.example.org/")
    assert "admin login: https://judge.example.org/?token=" in behind
    assert "https://judge.example.org/?token=" in cli("raters", "add", "dan", db=db).stdout

    cli("raters", "add", "admin", "--admin", db=db)  # the lead revokes the admin link
    third = serve_admin_line(db, "--port", str(second_port))
    assert token_of(third) != token_of(first) and "issued earlier" not in third
    handle = open_database(db)
    assert raters.authenticate(handle, token_of(first)) is None
    assert raters.authenticate(handle, token_of(third))["rater_id"] == "admin"  # type: ignore[index]
    handle.close()
