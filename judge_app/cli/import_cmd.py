"""judge-app import: tasks and verdicts from files, all or nothing."""

from __future__ import annotations

import argparse
from pathlib import Path

from judge_app.cli.common import add_db_option, database
from judge_app.registry import IMPORT_FORMATS, names

# The registry's names: --help lists them without importing a reader.
FORMAT_NAMES = ("auto", *names(IMPORT_FORMATS))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "import", help="import a task folder or files in a known format",
        description=(
            "Import prompts, outputs and verdicts. Each task lands in one transaction or not "
            "at all; importing the same data again changes nothing. See docs/task-format.md."
        ),
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="task folder(s) or data file(s)")
    p.add_argument("--format", default="auto", choices=FORMAT_NAMES,
                   help="input format (default: recognise it)")
    p.add_argument("--task", metavar="NAME", help="task name for formats that have none")
    p.add_argument("--replace", action="store_true",
                   help="overwrite prompts, outputs or task settings whose content changed")
    add_db_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from judge_app.ingest.loader import load_bundles
    from judge_app.services.imports import import_bundle

    bundles = load_bundles(list(args.paths), args.format, args.task)
    db = database(args)
    for bundle in bundles:
        print(import_bundle(db, bundle, replace=args.replace).summary())
    return 0
