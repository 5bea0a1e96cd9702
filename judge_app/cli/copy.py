"""judge-app copy: move a deployment between a DuckDB file and PostgreSQL (either way)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "copy", help="copy every row of one database into a new, empty one",
        description=(
            "Copy a whole database, e.g. from a DuckDB file to PostgreSQL or back. The target "
            "must be empty (it is created and migrated if needed); the copy is one "
            "transaction on the target and is checked by the row counts of every table."),
    )
    p.add_argument("--from", dest="source", required=True, metavar="PATH|URL",
                   help="the database to copy: a DuckDB file or postgresql://user@host/dbname")
    p.add_argument("--to", dest="target", required=True, metavar="PATH|URL",
                   help="the empty database to fill: a DuckDB file (created) or a "
                   "postgresql:// URL of an existing, empty database")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from judge_app.services.copying import copy_database

    report = copy_database(args.source, args.target, progress_bar=not args.quiet)
    print(report.summary())
    return 0
