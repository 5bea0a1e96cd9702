"""judge-app init: create or upgrade the database."""

from __future__ import annotations

import argparse

from judge_app.cli.common import add_db_option


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "init", help="create the database or apply pending schema migrations",
        description="Create the database file if needed and bring its schema up to date.",
    )
    add_db_option(p)
    p.add_argument("--check", action="store_true",
                   help="only list pending migrations (never creates the file); exit 1 if "
                        "there are any")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from judge_app.storage.db import resolve_db_target
    from judge_app.storage.schema import connect, known_migrations, migrate, pending

    target = resolve_db_target(args.db)
    if args.check:
        if isinstance(target, Path) and not target.exists():  # must not create what it checks
            todo = known_migrations()
            print(f"{target}: no database yet")
        else:
            todo = pending(connect(target, create=False))
        for m in todo:
            print(f"pending: {m.version:03d}_{m.name}")
        print("up to date" if not todo else f"{len(todo)} pending")
        return 1 if todo else 0
    db = connect(target)
    applied = migrate(db)
    print(f"{db.name}: " + (f"applied {len(applied)} migration(s)" if applied else "up to date"))
    return 0
