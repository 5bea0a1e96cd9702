"""judge-app report: one self-contained HTML file with a task's numbers and charts."""

from __future__ import annotations

import argparse
from pathlib import Path

from judge_app.cli.common import TASK_HELP, add_db_option, database


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rp = sub.add_parser(
        "report", help="write a self-contained HTML report of a task (works offline)",
        description="Leaderboard with intervals, interval plot, win-rate heatmap, agreement "
                    "and rater quality, bias charts, and rating against cost and latency with "
                    "the Pareto frontier, in one HTML file with inline SVG charts.",
    )
    rp.add_argument("--task", required=True, metavar="T", help=TASK_HELP)
    rp.add_argument("--out", required=True, type=Path, metavar="FILE.html",
                    help="where to write the report (one self-contained HTML file)")
    rp.add_argument("--source", default="all",
                    help="verdicts rated: human, judge, judge:NAME or all (default all)")
    rp.add_argument("--agreement-source", default="human",
                    help="whose agreement alpha measures: human (default), judge or all")
    rp.add_argument("--ci", choices=["sandwich", "bootstrap"], default="sandwich",
                    help="how intervals are computed (docs/ratings.md)")
    rp.add_argument("--anchor", metavar="MODEL=RATING", help="pin a model's rating")
    rp.add_argument("--baseline", metavar="MODEL", help="add win rate vs this model")
    rp.add_argument("--style-control", action="store_true",
                    help="control for length and markdown (also shows raw ratings)")
    rp.add_argument("--rating-model", choices=["bradley-terry", "reliability"],
                    default="bradley-terry",
                    help="reliability: ratings from the rater-reliability model, and each "
                    "rater's reliability and position bias in the rater quality table")
    rp.add_argument("--include-self-identified", action="store_true",
                    help="also rate arena votes on battles where an answer named its own "
                    "model or vendor (left out by default, docs/arena.md)")
    add_db_option(rp)
    rp.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from judge_app.core.scale import parse_anchor
    from judge_app.services.leaderboard import LeaderboardQuery
    from judge_app.services.report import write_report

    q = LeaderboardQuery(task_id=args.task, source=args.source, ci=args.ci,
                         anchor=parse_anchor(args.anchor) if args.anchor else None,
                         baseline=args.baseline, style_control=args.style_control,
                         rating_model=args.rating_model,
                         include_self_identified=args.include_self_identified)
    source = None if args.agreement_source == "all" else args.agreement_source
    out = write_report(database(args), q, args.out, source)
    print(f"wrote {out}")
    return 0
