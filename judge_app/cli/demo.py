"""judge-app demo: load the bundled demo tasks."""

from __future__ import annotations

import argparse

from judge_app.cli.common import add_db_option, database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo", help="load the bundled demo tasks (PandaLM and AlpacaEval samples, and PandaLM "
        "with illustrative latency and cost)",
        description="Import tasks/demo-* into the database; running it again changes nothing.",
    )
    p.add_argument("--if-empty", action="store_true",
                   help="do nothing when the database already has tasks")
    add_db_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from judge_app.services.demo import load_demo

    for line in load_demo(database(args), if_empty=args.if_empty):
        print(line)
    return 0
