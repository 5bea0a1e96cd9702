"""judge-app leaderboard | agreement | gate: the numbers, in a terminal or a pipeline."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import pandas as pd

from judge_app.cli.common import add_db_option, database
from judge_app.core.scale import parse_anchor
from judge_app.services.leaderboard import (
    LeaderboardQuery,
    agreement,
    release_gate,
    run_leaderboard,
)


def _clean(value: Any) -> Any:
    """JSON has no NaN, infinity or pandas NA: an unrated model's numbers become null."""
    if value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lb = sub.add_parser(
        "leaderboard", help="ratings with confidence intervals for a task",
        description=(
            "Bradley-Terry ratings (ties as half a win) on the 400/ln(10) scale around 1000, "
            "with 95%% intervals and ranks: rank = 1 + models whose lower bound beats this "
            "model's upper bound."
        ),
    )
    lb.add_argument("--task", required=True, metavar="T")
    lb.add_argument("--source", default="all",
                    help="human, judge, judge:NAME or all (default all)")
    lb.add_argument("--ci", choices=["sandwich", "bootstrap"], default="sandwich",
                    help="interval method (default sandwich; bootstrap is percentile)")
    lb.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (default 1000)")
    lb.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    lb.add_argument("--ties", choices=["half", "davidson"], default="half",
                    help="tie model (default half a win)")
    lb.add_argument("--anchor", metavar="MODEL=RATING", help="pin a model's rating")
    lb.add_argument("--baseline", metavar="MODEL",
                    help="add win rate vs this model (percent, AlpacaEval's rule)")
    lb.add_argument("--style-control", action="store_true",
                    help="control for length and markdown (also shows raw ratings)")
    lb.add_argument("--category", help="only prompts of this category")
    lb.add_argument("--by-version", action="store_true", help="split models by model version")
    lb.add_argument("--format", choices=["table", "json", "csv"], default="table")
    add_db_option(lb)
    lb.set_defaults(func=_leaderboard)

    ag = sub.add_parser(
        "agreement", help="agreement between raters, rater quality and bias",
        description="Krippendorff's alpha, Cohen's kappa per rater pair, judges vs the human "
                    "majority, per-rater quality, position and length bias.",
    )
    ag.add_argument("--task", required=True, metavar="T")
    ag.add_argument("--source", default="human",
                    help="whose agreement: human (default), judge or all")
    ag.add_argument("--format", choices=["table", "json"], default="table")
    add_db_option(ag)
    ag.set_defaults(func=_agreement)

    gt = sub.add_parser(
        "gate", help="exit 1 when a candidate is significantly worse than required (for CI)",
        description="Compares the candidate's expected win rate against the baseline (from "
                    "the Bradley-Terry fit on all verdicts) with a one-sided bound.",
    )
    gt.add_argument("--task", required=True, metavar="T")
    gt.add_argument("--candidate", required=True, metavar="M")
    gt.add_argument("--baseline", required=True, metavar="M")
    gt.add_argument("--min-win-rate", type=float, default=0.5,
                    help="required expected win rate (default 0.5)")
    gt.add_argument("--confidence", type=float, default=0.95, help="default 0.95")
    gt.add_argument("--source", default="all", help="human, judge, judge:NAME or all")
    add_db_option(gt)
    gt.set_defaults(func=_gate)


def _leaderboard(args: argparse.Namespace) -> int:
    q = LeaderboardQuery(
        task_id=args.task, source=args.source, ci=args.ci, rounds=args.rounds, seed=args.seed,
        ties=args.ties, anchor=parse_anchor(args.anchor) if args.anchor else None,
        baseline=args.baseline, style_control=args.style_control, category=args.category,
        by_version=args.by_version,
    )
    table = run_leaderboard(database(args), q)
    if args.format == "json":
        models = {
            str(row["model"]): {k: _clean(v) for k, v in row.items() if k != "model"}
            for row in table.to_dict(orient="records")
        }
        json.dump({"task": args.task, "source": args.source, "ci": args.ci,
                   "models": models}, sys.stdout, indent=2)
        print()
    elif args.format == "csv":
        table.to_csv(sys.stdout, index=False)
    else:
        print(_format_table(table))
    return 0


def _format_table(table: pd.DataFrame) -> str:
    shown = table.copy()
    for col in ("rating", "lower", "upper", "raw_rating"):
        if col in shown:
            shown[col] = shown[col].round(1)
    for col in ("win_rate", "win_rate_se", "se"):
        if col in shown:
            shown[col] = shown[col].round(2)
    columns = [c for c in ("rank", "model", "rating", "lower", "upper", "raw_rating",
                           "battles", "wins", "ties", "losses", "win_rate", "win_rate_se")
               if c in shown]
    shown["rating"] = shown["rating"].astype(object).where(shown["rated"], "unrated")
    shown["rank"] = shown["rank"].astype(object).where(shown["rated"], "-")
    text = shown[columns].to_string(index=False, na_rep="-")
    notes = [f"{model}: {note}" for model, note in
             zip(table["model"], table.get("note", pd.Series(dtype=str)), strict=False) if note]
    return "\n".join([text, *notes]) if notes else text


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _agreement(args: argparse.Namespace) -> int:
    source = None if args.source == "all" else args.source
    report = agreement(database(args), args.task, source)
    if args.format == "json":
        json.dump(report.to_dict(), sys.stdout, indent=2, default=str)
        print()
        return 0
    print(f"raters: {report.raters}   pairs rated at least twice: {report.pairs_rated_twice}")
    print(f"Krippendorff's alpha: nominal {_fmt(report.alpha_nominal)}, "
          f"ordinal {_fmt(report.alpha_ordinal)}; percent agreement "
          f"{_fmt(report.percent_agreement)}")
    for title, frame in (("Rater pairs (Cohen's kappa)", report.rater_pairs),
                         ("Judges vs human majority", report.judges),
                         ("Rater quality", report.rater_quality),
                         ("Position bias", report.position_bias),
                         ("Length bias", report.length_bias)):
        print(f"\n{title}")
        print(frame.to_string(index=False) if not frame.empty else "  (none)")
    return 0


def _gate(args: argparse.Namespace) -> int:
    result = release_gate(database(args), args.task, args.candidate, args.baseline,
                          min_win_rate=args.min_win_rate, confidence=args.confidence,
                          source=args.source)
    print(result.reason())
    return 0 if result.passed else 1
