"""judge-app leaderboard | agreement | gate: the numbers, in a terminal or a pipeline.

Only argparse is imported here at start-up; each command imports pandas, the math and the
database when it runs, so `judge-app --help` starts about as fast as Python.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from judge_app.cli.common import TASK_HELP, add_db_option, database
from judge_app.core.vocabulary import TIE_MODELS

if TYPE_CHECKING:
    import pandas as pd

    from judge_app.core.agreement_report import AgreementReport

# Exit statuses of `gate` (argparse's usage errors exit 2; other errors 1).
EXIT_PASS, EXIT_FAIL, EXIT_UNDECIDED = 0, 1, 3
AGREEMENT_TABLES = ("summary", "rater_pairs", "judges", "judges_decisive", "rater_quality",
                    "position_bias", "length_bias", "swap_consistency")
LEAST_RELIABLE = 5


def _clean(value: Any) -> Any:
    """JSON has no NaN, infinity or pandas NA: an unrated model's numbers become null."""
    import pandas as pd

    if value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _write_csv(frame: pd.DataFrame) -> None:
    from judge_app.export.writers import csv_text

    sys.stdout.write(csv_text(frame))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    lb = sub.add_parser(
        "leaderboard", help="ratings with confidence intervals for a task",
        description=(
            "Bradley-Terry ratings (ties as half a win) on the 400/ln(10) scale around 1000, "
            "with 95% intervals and ranks: rank = 1 + models whose lower bound beats this "
            "model's upper bound."
        ),
    )
    lb.add_argument("--task", required=True, metavar="T", help=TASK_HELP)
    lb.add_argument("--source", default="all",
                    help="human, judge, judge:NAME or all (default all)")
    lb.add_argument("--ci", choices=["sandwich", "bootstrap"], default="sandwich",
                    help="interval method (default sandwich; bootstrap is percentile)")
    lb.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (default 1000)")
    lb.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    lb.add_argument("--ties", choices=TIE_MODELS, default="half",
                    help="tie model (default half a win)")
    lb.add_argument("--anchor", metavar="MODEL=RATING", help="pin a model's rating")
    lb.add_argument("--baseline", metavar="MODEL",
                    help="add win rate vs this model (percent, AlpacaEval's rule)")
    lb.add_argument("--style-control", action="store_true",
                    help="control for length and markdown (also shows raw ratings)")
    lb.add_argument("--rating-model", choices=["bradley-terry", "reliability"],
                    default="bradley-terry",
                    help="reliability: also learn each rater's reliability and position bias "
                    "and weigh their votes by it (docs/analysis.md); default bradley-terry")
    lb.add_argument("--category", help="only prompts of this category")
    lb.add_argument("--by-version", action="store_true", help="split models by model version")
    lb.add_argument("--include-self-identified", action="store_true",
                    help="also count arena votes on battles where an answer named its own "
                    "model or vendor (left out by default, docs/arena.md)")
    lb.add_argument("--format", choices=["table", "json", "csv"], default="table",
                    help="csv: cells starting with = + - @ are quoted against spreadsheet "
                    "formulas (docs/exports.md)")
    add_db_option(lb)
    lb.set_defaults(func=_leaderboard)

    ag = sub.add_parser(
        "agreement", help="agreement between raters, rater quality and bias",
        description="A summary by default: Krippendorff's alpha, Fleiss' kappa, the spread of "
                    "pairwise Cohen's kappas, judges against the human majority and the least "
                    "reliable raters. --all prints every table (rater pairs, judges, rater "
                    "quality, position and length bias, swap consistency), each sorted by "
                    "rater; --format json gives all of it, --format csv one table. Every "
                    "figure and table covers only the raters of --source.",
    )
    ag.add_argument("--task", required=True, metavar="T", help=TASK_HELP)
    ag.add_argument("--source", default="human",
                    help="whose agreement: human (default), judge, judge:NAME or all")
    ag.add_argument("--all", action="store_true", help="print every table in full")
    ag.add_argument("--reliability", action="store_true",
                    help="add each rater's reliability and position bias (guess_left) from "
                    "the reliability model, fitted on all of the task's verdicts")
    ag.add_argument("--format", choices=["table", "json", "csv"], default="table",
                    help="table (a summary; all tables with --all), or every table as json or csv")
    ag.add_argument("--table", choices=AGREEMENT_TABLES, default="summary",
                    help="with --format csv: which table (default summary)")
    add_db_option(ag)
    ag.set_defaults(func=_agreement)

    gt = sub.add_parser(
        "gate", help="for CI: exit 0 pass, 1 fail, 3 undecided (too little evidence)",
        description="A non-inferiority test of the candidate against the baseline on the "
                    "expected win rate from the Bradley-Terry fit of all verdicts. With "
                    "one-sided bounds at --confidence and t = --min-win-rate minus --margin: "
                    "pass (exit 0) when the lower bound is above t, fail (exit 1) when the "
                    "upper bound is below t, undecided (exit 3) otherwise or when the "
                    "candidate has fewer than --min-battles battles. Errors also exit 1 "
                    "(message on stderr); usage errors exit 2. See docs/analysis.md.",
    )
    gt.add_argument("--task", required=True, metavar="T", help=TASK_HELP)
    gt.add_argument("--candidate", required=True, metavar="M", help="the model that should win")
    gt.add_argument("--baseline", required=True, metavar="M",
                    help="the model it must beat")
    gt.add_argument("--min-win-rate", type=float, default=0.5, metavar="P",
                    help="expected win rate against the baseline that counts as equal "
                    "(default 0.5)")
    gt.add_argument("--margin", type=float, default=0.05, metavar="M",
                    help="how much below --min-win-rate still passes (default 0.05)")
    gt.add_argument("--min-battles", type=int, default=50, metavar="N",
                    help="fewer battles of the candidate are undecided (default 50)")
    gt.add_argument("--confidence", type=float, default=0.95, metavar="C",
                    help="one-sided confidence of each bound (default 0.95)")
    gt.add_argument("--source", default="all", help="human, judge, judge:NAME or all")
    add_db_option(gt)
    gt.set_defaults(func=_gate)


def _leaderboard(args: argparse.Namespace) -> int:
    from judge_app.core.scale import parse_anchor
    from judge_app.services.leaderboard import (
        LeaderboardQuery,
        output_speed,
        run_leaderboard,
        self_identified,
    )

    q = LeaderboardQuery(
        task_id=args.task, source=args.source, ci=args.ci, rounds=args.rounds, seed=args.seed,
        ties=args.ties, anchor=parse_anchor(args.anchor) if args.anchor else None,
        baseline=args.baseline, style_control=args.style_control, category=args.category,
        by_version=args.by_version, rating_model=args.rating_model,
        include_self_identified=args.include_self_identified,
    )
    table = run_leaderboard(database(args), q)
    flagged = self_identified(database(args), q)
    raters = table.attrs.get("raters")
    if args.format == "json":
        speed = output_speed(database(args), args.task)
        models = {
            str(row["model"]): {k: _clean(v) for k, v in row.items() if k != "model"}
            for row in table.to_dict(orient="records")
        }
        for name, row in models.items():  # latency and cost per answer, beside the rating
            found = speed.get(name)
            row.update(found.figures() if found is not None else dict.fromkeys(
                ("latency_p50_ms", "latency_p95_ms", "ttft_p50_ms", "cost_per_answer_usd")))
        out: dict[str, Any] = {"task": args.task, "source": args.source, "ci": args.ci,
                               "rating_model": args.rating_model, "models": models,
                               "self_identified": {"votes": flagged.votes,
                                                   "battles": flagged.battles,
                                                   "counted": flagged.counted}}
        if raters is not None:
            out["raters"] = [{k: _clean(v) for k, v in r.items()} for r in raters]
        json.dump(out, sys.stdout, indent=2)
        print()
    elif args.format == "csv":
        _write_csv(table)
    else:
        print(_format_table(table))
        if flagged.votes:
            print(flagged.sentence() + ("" if flagged.counted else
                                        " --include-self-identified counts them."))
        if raters is not None:
            print(_raters_text(raters))
        from judge_app.services.adaptive import adaptive_line

        if (line := adaptive_line(database(args), args.task, args.source)) is not None:
            print(line)
    return 0


def _raters_text(raters: list[dict[str, Any]]) -> str:
    """The reliability model's rater figures: every judge, and the least reliable people."""
    import pandas as pd

    frame = pd.DataFrame(raters).sort_values(["reliability", "rater_id"], ignore_index=True)
    judges = frame[frame["source"] == "judge"]
    people = frame[frame["source"] != "judge"]
    shown = pd.concat([judges, people.head(5)])
    lines = [f"\nRater reliability (share of votes that follow the ratings; guess_left: share "
             f"of the other votes for the left side): {len(people)} people, median "
             f"{_fmt(float(people['reliability'].median()) if len(people) else None, 2)}; "
             f"every judge and the {min(5, len(people))} least reliable people"]
    columns = ["rater_id", "source", "votes", "reliability", "reliability_lower",
               "reliability_upper", "guess_left"]
    lines.append(_table_text(shown[columns]))
    return "\n".join(lines)


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
             zip(table["model"], table["note"], strict=True) if note] if "note" in table else []
    return "\n".join([text, *notes]) if notes else text


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _whose(source: str | None) -> str:
    return {None: "everyone", "human": "people", "judge": "LLM judges"}.get(
        source, f"'{source}'")


def _summary_row(report: AgreementReport) -> dict[str, Any]:
    spread = report.kappa_spread()
    return {"source": report.source or "all", "raters": report.raters,
            "pairs_rated_twice": report.pairs_rated_twice,
            "alpha_nominal": report.alpha_nominal, "alpha_ordinal": report.alpha_ordinal,
            "fleiss_kappa": report.fleiss_kappa, "percent_agreement": report.percent_agreement,
            **{f"pair_kappa_{k}": v for k, v in spread.items()}}


def _table_text(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "  (none)"
    return frame.to_string(index=False, na_rep="-", float_format=lambda x: f"{x:.3f}")


def _agreement(args: argparse.Namespace) -> int:
    import pandas as pd

    from judge_app.services.leaderboard import agreement

    source = None if args.source == "all" else args.source
    if args.reliability:
        from judge_app.services.reliability import agreement_with_reliability

        report = agreement_with_reliability(database(args), args.task, source)
    else:
        report = agreement(database(args), args.task, source)
    if args.format == "json":
        out = report.to_dict()
        out["least_reliable"] = report.least_reliable(LEAST_RELIABLE).to_dict(orient="records")
        json.dump({"task": args.task, **out}, sys.stdout, indent=2, default=str)
        print()
        return 0
    if args.format == "csv":
        if args.table == "summary":
            _write_csv(pd.DataFrame([_summary_row(report)]))
        else:
            _write_csv(getattr(report, args.table))
        return 0
    print(_summary_text(report, args.task))
    if args.all:
        for title, frame in (("Rater pairs (Cohen's kappa)", report.rater_pairs),
                             ("Judges against the human majority", report.judges),
                             ("Judges against the human majority, decisive pairs only",
                              report.judges_decisive),
                             ("Rater quality", report.rater_quality),
                             ("Position bias", report.position_bias),
                             ("Length bias", report.length_bias),
                             ("Swap consistency", report.swap_consistency)):
            print(f"\n{title}")
            print(_table_text(frame))
    else:
        print("\nEvery table in full: --all; as data: --format json, or --format csv "
              "--table NAME.")
    return 0


def _summary_text(report: AgreementReport, task: str) -> str:
    lines = [
        f"Agreement among {_whose(report.source)} on task '{task}': {report.raters} raters, "
        f"{report.pairs_rated_twice} pairs rated at least twice",
        f"  Krippendorff's alpha  nominal {_fmt(report.alpha_nominal)}, "
        f"ordinal {_fmt(report.alpha_ordinal)}",
        f"  Fleiss' kappa         {_fmt(report.fleiss_kappa)}",
        f"  percent agreement     {_fmt(report.percent_agreement)}",
    ]
    spread = report.kappa_spread()
    sharing = (f"{spread['pairs']} of {spread['pairs_any']} rater pairs share at least "
               f"{spread['min_shared']} pairs")
    if spread["pairs"]:
        lines.append(
            f"  Cohen's kappa         {sharing}: min {_fmt(spread['min'], 2)}, "
            f"quartiles {_fmt(spread['q1'], 2)} / {_fmt(spread['median'], 2)} / "
            f"{_fmt(spread['q3'], 2)}, max {_fmt(spread['max'], 2)}")
    else:
        lines.append(f"  Cohen's kappa         n/a: {sharing}")
    lines.append("\nJudges against the human majority")
    if len(report.judges):
        shown = report.judges[["judge", "n", "accuracy", "kappa"]].copy()
        decisive = report.judges_decisive.set_index("judge")["accuracy"]
        shown["accuracy_decisive"] = shown["judge"].map(decisive)
        lines.append(_table_text(shown))
    elif report.judges_elsewhere:
        lines.append(f"  ({report.judges_elsewhere} judge(s) rated this task outside source "
                     f"'{report.source}': --source all or --source judge scores them)")
    else:
        lines.append("  (no judge verdicts)")
    worst = report.least_reliable(LEAST_RELIABLE)
    lines.append(f"\nLeast reliable raters (lowest agreement with the other people's majority, "
                 f"at least 5 such pairs; at most {LEAST_RELIABLE})")
    columns = ["rater_id", "source", "verdicts", "loo_n", "loo_agreement", "gold_accuracy",
               "retest_consistency", "left_share", "reliability", "guess_left"]
    columns = [c for c in columns if c in worst.columns]
    lines.append(_table_text(worst[columns]) if len(worst) else "  (none with enough pairs)")
    return "\n".join(lines)


def _gate(args: argparse.Namespace) -> int:
    from judge_app.services.leaderboard import release_gate

    result = release_gate(database(args), args.task, args.candidate, args.baseline,
                          min_win_rate=args.min_win_rate, confidence=args.confidence,
                          source=args.source, margin=args.margin,
                          min_battles=args.min_battles)
    print(result.reason())
    return {"pass": EXIT_PASS, "fail": EXIT_FAIL}.get(result.status, EXIT_UNDECIDED)
