"""judge-app progress: where a task stands against its target, and the votes still needed."""

from __future__ import annotations

import argparse
import json
import sys

from judge_app.cli.common import TASK_HELP, add_db_option, database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "progress", help="is the task's target met, and about how many more votes it needs",
        description="The task's target (task.toml [scheduling], or --target): met or not, the "
        "comparisons still open, and an estimate of the votes still needed from how the "
        "intervals shrink (variance falls like 1/votes), under the task's scheduling. "
        "Exit 0 when met, 3 when not. See docs/analysis.md.",
    )
    p.add_argument("--task", required=True, metavar="T", help=TASK_HELP)
    p.add_argument("--source", default="all",
                   help="whose verdicts count: human, judge, judge:NAME or all (default all)")
    p.add_argument("--target", metavar="T",
                   help="ranking, top_k:K, baseline:MODEL, width:W or ranking|width:W")
    p.add_argument("--level", type=float, metavar="L", help="confidence level (task's)")
    p.add_argument("--format", choices=["table", "json"], default="table",
                   help="a line of text, or json for scripts")
    add_db_option(p)
    p.set_defaults(func=_progress)


EXIT_NOT_MET = 3


def _progress(args: argparse.Namespace) -> int:
    from judge_app.services.adaptive import progress, status_fields

    status = progress(database(args), args.task, source=args.source, target=args.target,
                      level=args.level)
    if args.format == "json":
        json.dump({"task": args.task, "source": args.source, **status_fields(status)},
                  sys.stdout, indent=2)
        print()
    else:
        print(f"task '{args.task}', {status.votes:,} votes ({args.source}): {status.message}")
        for a, b in status.open[:10]:
            print(f"  open: {a} vs {b}")
        if len(status.open) > 10:
            print(f"  ... and {len(status.open) - 10} more")
    return 0 if status.met else EXIT_NOT_MET
