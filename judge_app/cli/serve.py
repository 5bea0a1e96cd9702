"""judge-app serve: the Streamlit app."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from judge_app.cli.common import add_db_option, database

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


def streamlit_argv(host: str, port: int) -> list[str]:
    """The `streamlit run` command line the server runs in this process."""
    return [
        "streamlit", "run", str(APP_FILE),
        "--server.address", host, "--server.port", str(port),
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal", "--client.showErrorDetails", "type",
        # Streamlit's full gc.collect() after every run holds the GIL for 40-80 ms (the
        # heap of pandas, DuckDB, scipy) before the run's last elements reach the browser:
        # a third of a vote's wait (benchmarks/README.md, the rater's wait). Python's own
        # generational collector still runs.
        "--runner.postScriptGC", "false",
    ]


def run(args: argparse.Namespace) -> int:
    db = database(args)  # migrates before the server starts
    # The server process owns the file for its whole life (or from the moment a CLI command
    # that owns it now has ended), so CLI commands started meanwhile work through it.
    db.claim()
    if not db.owned_here:
        print(f"{db.name} is in use by another judge-app command; the server will take it "
              "over when that command ends and works through it until then", flush=True)
    from judge_app.services import raters

    shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
    base_url = args.base_url or f"http://{shown}:{args.port}"
    raters.remember_base_url(db, base_url)  # `raters add` prints links to this server
    if args.print_admin_link:
        login, new = raters.admin_login(db, raters.admin_link_file(db.local_path))
        note = "" if new else " (issued earlier; `judge-app raters add admin --admin` replaces it)"
        print(f"admin login: {login.link(base_url)}{note}", flush=True)
    os.environ["JUDGE_APP_DB"] = db.target if db.dialect.is_postgres else str(db.path.resolve())
    print(f"serving {db.name} at http://{args.host}:{args.port}", flush=True)
    # Streamlit runs in this process (not exec'd), so the app's sessions share the
    # connection this process owns; stopping this process stops the server.
    from streamlit.web import cli as streamlit_cli

    sys.argv = streamlit_argv(args.host, args.port)
    try:
        streamlit_cli.main()
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int | None) else 1
    return 0
