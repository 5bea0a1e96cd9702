"""Options every command shares."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported when a command runs, so `--help` never loads duckdb
    from judge_app.services.database import Database

# Only these may create a database file; anywhere else a missing file is a typo in --db.
CREATING_COMMANDS = frozenset({"init", "demo", "import"})
TASK_HELP = "the task's name (as in its task.toml)"


def add_db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="PATH|URL",
        help="database: a DuckDB file, or postgresql://user@host/dbname for PostgreSQL "
             "(default: $JUDGE_APP_DB, else db/judge.duckdb)",
    )


def database(args: argparse.Namespace) -> Database:
    """The command's database: its own file, or the running server's when one owns it."""
    from judge_app.services.database import open_app_database

    create = getattr(args, "command", None) in CREATING_COMMANDS
    return open_app_database(args.db, create=create)
