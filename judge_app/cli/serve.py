"""judge-app serve: the Streamlit app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from judge_app.cli.common import add_db_option, database
from judge_app.services import raters

APP_FILE = Path(__file__).resolve().parents[1] / "ui" / "app.py"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "serve", help="start the web app",
        description=(
            "Serve the app with Streamlit. It listens on 127.0.0.1 only; to serve raters on a "
            "network pass --host 0.0.0.0 and put a TLS proxy in front of it."
        ),
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8501, help="port (default 8501)")
    p.add_argument("--print-admin-link", action="store_true",
                   help="print the login link of the 'admin' rater (issued once, kept in "
                   "DB.admin-token, readable by you only; valid until revoked)")
    p.add_argument("--base-url", default=None,
                   help="address raters open, when it differs from http://HOST:PORT "
                   "(e.g. behind a TLS proxy); printed links use it")
    add_db_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    db = database(args)  # creates and migrates before the server starts
    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base_url = args.base_url or f"http://{shown}:{args.port}"
    raters.remember_base_url(db, base_url)  # `raters add` prints links to this server
    if args.print_admin_link:
        login, new = raters.admin_login(db, raters.admin_link_file(db.path))
        note = "" if new else " (issued earlier; `judge-app raters add admin --admin` replaces it)"
        print(f"admin login: {login.link(base_url)}{note}", flush=True)
    db.close()
    env = {**os.environ, "JUDGE_APP_DB": str(db.path.resolve())}
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(APP_FILE),
        "--server.address", args.host, "--server.port", str(args.port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
    ]
    print(f"serving {db.path} at http://{args.host}:{args.port}", flush=True)
    # Become the Streamlit server, so stopping this process stops the server (no orphan).
    os.execve(sys.executable, cmd, env)
