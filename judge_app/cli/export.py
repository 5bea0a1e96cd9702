"""judge-app export: preference datasets, battle logs, verdicts or the leaderboard to a file."""

from __future__ import annotations

import argparse
from pathlib import Path

from judge_app.cli.common import TASK_HELP, add_db_option, database
from judge_app.export import FORMATS


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export", help="export a preference dataset, battles, verdicts or the leaderboard",
        description=(
            "Write one export file and its dataset card (FILE.card.md) beside it. The file "
            "type follows --out's extension (.jsonl, .parquet, .csv); in CSV, text cells "
            "starting with = + - @ tab or CR get a leading ' (no spreadsheet formulas). "
            "See docs/exports.md."
        ),
    )
    p.add_argument("--task", required=True, metavar="NAME", help=TASK_HELP)
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="the dataset format (docs/exports.md)")
    p.add_argument("--out", type=Path, metavar="PATH",
                   help="output file (default: exports/<task>-<format>-<time>/...jsonl)")
    p.add_argument("--source", default="all", metavar="all|human|judge|judge:NAME",
                   help="whose verdicts count (default: all)")
    p.add_argument("--min-votes", type=int, default=1, metavar="N",
                   help="preference formats: keep pairs with at least N votes")
    p.add_argument("--min-agreement", type=float, default=0.0, metavar="X",
                   help="preference formats: keep pairs whose majority has at least this "
                   "share of the votes (0..1)")
    p.add_argument("--both-bad", action="store_true",
                   help="preference formats: export the prompts whose answers were judged "
                   "both bad instead")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    add_db_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from judge_app.services.exports import ExportRequest, export_task

    request = ExportRequest(
        task=args.task, fmt=args.format, source=args.source, min_votes=args.min_votes,
        min_agreement=args.min_agreement, both_bad=args.both_bad,
    )
    print(export_task(database(args), request, args.out, args.force).summary())
    return 0
