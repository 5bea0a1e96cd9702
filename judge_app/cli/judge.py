"""judge-app judge | escalate: LLM-judge batches over a task, and handing doubts to people."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from judge_app.cli.batch import (
    add_batch_options,
    check_batch_options,
    print_batch_price,
    print_batches,
)
from judge_app.cli.common import TASK_HELP, add_db_option, database
from judge_app.core.terminal import shown
from judge_app.errors import ValidationError
from judge_app.judges import DEFAULT_MARGIN

if TYPE_CHECKING:  # the run use-case pulls in openai: imported when a run starts, not for --help
    from judge_app.core.adaptive import TargetStatus
    from judge_app.judges.config import JudgeConfig
    from judge_app.judges.plan import Plan
    from judge_app.services.judge_runs import RunSummary

EXIT_STOPPED = 2  # the run ended with calls unanswered (budget reached or calls failed)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "judge", help="run an LLM judge over a task's pairs",
        description="Judge every pair of a task with an LLM judge (both orders by default). "
        "Answers are cached by content: a re-run pays only for what is missing, and a run "
        "killed at any moment resumes where it stopped. See docs/judges.md.",
    )
    p.add_argument("--task", required=True, metavar="T", help=TASK_HELP)
    p.add_argument("--judge", required=True, metavar="FILE.toml", help="judge config")
    p.add_argument("--models", metavar="A,B,...", help="only pairs between these models")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N pairs")
    p.add_argument("--concurrency", type=int, metavar="N", help="calls in flight (config's)")
    p.add_argument("--max-cost", type=float, metavar="USD",
                   help="never spend more than this in this run; stops before the call that "
                   "could")
    p.add_argument("--dry-run", action="store_true",
                   help="print calls, estimated tokens and cost; call nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--adaptive", action="store_true",
                   help="judge in rounds, each round the pairs that settle the target most, "
                   "and stop once it is met (see docs/analysis.md)")
    p.add_argument("--target", metavar="T",
                   help="with --adaptive: ranking, top_k:K, baseline:MODEL or width:W "
                   "(default: the task's [scheduling] target)")
    p.add_argument("--round-size", type=int, default=50, metavar="N",
                   help="with --adaptive: at least N pairs a round (default %(default)s; "
                   "rounds grow to 10%% of the verdicts so far)")
    add_batch_options(p)
    add_db_option(p)
    p.set_defaults(func=_judge)

    r = sub.add_parser(
        "runs", help="list judge and generation runs: status, progress, cost and why one "
        "stopped",
        description="Judge runs, then generation runs (judge-app generate), newest first. A "
        "run whose process is gone (killed) shows as 'interrupted': run the same command "
        "again to resume it.",
    )
    r.add_argument("--task", metavar="T", help="only this task's runs")
    add_db_option(r)
    r.set_defaults(func=_runs)

    e = sub.add_parser(
        "escalate", help="send pairs the judge doubted to human raters",
        description="Put the pairs where the judge was inconsistent across orders or unsure "
        "(small probability margin) first in the human raters' queue.",
    )
    e.add_argument("--task", required=True, metavar="T", help=TASK_HELP)
    who = e.add_mutually_exclusive_group(required=True)
    who.add_argument("--judge", metavar="FILE.toml",
                     help="the judge's config file, as given to judge-app judge")
    who.add_argument("--rater", metavar="NAME", help="or the judge's name (its rater id)")
    e.add_argument("--max-pairs", type=int, metavar="N",
                   help="put at most N pairs in the queue (default: all the judge doubted)")
    e.add_argument("--margin", type=float, default=DEFAULT_MARGIN,
                   help="unsure when |2p - 1| is below this (default %(default)s)")
    add_db_option(e)
    e.set_defaults(func=_escalate)


def _positive(value: int | float | None, name: str) -> None:
    if value is not None and value <= 0:
        raise ValidationError("must be positive", field=name)


def _judge(args: argparse.Namespace) -> int:
    for name in ("limit", "concurrency", "max_cost", "round_size", "poll_interval"):
        _positive(getattr(args, name), "--" + name.replace("_", "-"))
    if (args.target or args.round_size != 50) and not args.adaptive:
        raise ValidationError("--target and --round-size go with --adaptive", field="--target")
    if args.adaptive and args.limit is not None:
        raise ValidationError("--adaptive chooses the pairs itself; drop --limit",
                              field="--limit")
    if args.batch and args.adaptive:
        raise ValidationError("--adaptive judges in rounds that each need the last one's "
                              "verdicts; drop --batch", field="--batch")
    check_batch_options(args)
    from judge_app.judges.config import load_config
    from judge_app.services.judge_runs import plan_run, run_plan, run_plan_batch

    config = load_config(args.judge)
    models = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    db = database(args)
    plan = plan_run(db, args.task, config, models=models, limit=args.limit)
    if models and not plan.pairs:
        raise ValidationError(f"no pair of task '{args.task}' is between the models "
                              f"{', '.join(models)}", field="--models")
    _print_plan(plan, args)
    if args.batch:
        print_batch_price(plan.config, plan.estimate().max_cost_usd)
    if args.adaptive and not args.dry_run:
        return _judge_adaptive(args, config, models)
    if args.dry_run:
        return 0
    # The plan (every pair's texts) lives as long as the run: keep the cycle collector from
    # walking it again and again (measured pauses of 100+ ms in a 64-call event loop).
    gc.freeze()
    if args.batch:
        summary = run_plan_batch(db, plan, max_cost=args.max_cost, poll_s=args.poll_interval,
                                 progress=not args.quiet)
    else:
        summary = run_plan(db, plan, max_cost=args.max_cost, concurrency=args.concurrency,
                           progress=not args.quiet)
    _print_summary(summary)
    return 0 if summary.status == "done" else EXIT_STOPPED


def _judge_adaptive(args: argparse.Namespace, config: JudgeConfig,
                    models: list[str] | None) -> int:
    from judge_app.services.adaptive import run_adaptive

    def on_round(number: int, summary: RunSummary, status: TargetStatus) -> None:
        print(f"round {number}: {summary.planned_calls} calls ({summary.cached_calls} cached), "
              f"{summary.status}; before it: {status.message}")
        sys.stdout.flush()

    gc.freeze()
    result = run_adaptive(database(args), args.task, config, target=args.target, models=models,
                          max_cost=args.max_cost, round_size=args.round_size,
                          concurrency=args.concurrency, progress_bar=not args.quiet,
                          on_round=on_round)
    print(f"adaptive: {result.stop} after {len(result.rounds)} round(s), "
          f"${result.cost_usd:.4f} this run")
    if result.status is not None:
        print(shown(result.status.message))
    return 0 if result.ok else EXIT_STOPPED


def _print_plan(plan: Plan, args: argparse.Namespace) -> None:
    cfg = plan.config
    est = plan.estimate()
    print(f"judge '{cfg.name}' ({cfg.model} at {plan.endpoint}, template {cfg.template}, "
          f"order {cfg.order}) on task '{plan.task_id}'")
    print(f"{len(plan.pairs)} pairs, {len(plan.calls)} calls: {len(plan.cached)} cached, "
          f"{est.calls} to make")
    if args.adaptive:
        print("adaptive: judging in rounds until the target is met; most tasks need far fewer "
              "calls than listed")
    if plan.skipped_no_reference:
        print(f"skipped {plan.skipped_no_reference} pairs without a reference answer")
    if est.calls:
        print(f"estimated tokens: {est.input_tokens:,} input (about 4 characters a token), "
              f"at most {est.max_output_tokens:,} output (max_tokens {cfg.max_tokens})")
        print(f"estimated cost: ${est.input_cost_usd:.4f} input, at most "
              f"${est.max_cost_usd:.4f} in all")
        if args.max_cost is not None:
            print(f"budget: ${args.max_cost:g}")
    sys.stdout.flush()


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f} ms"


def _print_summary(s: RunSummary) -> None:
    print(f"run {s.run_id}: {s.status}" + (f" ({s.message})" if s.message else ""))
    if s.endpoint:
        print(f"endpoint: {s.endpoint}")
    if s.retries:
        print("retried: " + ", ".join(f"{n} after {kind.replace('_', ' ')}"
                                      for kind, n in s.retries.items()))
    print(f"calls: {s.planned_calls} planned, {s.cached_calls} cached, {s.new_calls} new, "
          f"{s.failed_calls} failed, {s.not_started} not started")
    counts = ", ".join(f"{k} {v}" for k, v in s.verdicts.items()) or "none"
    print(f"verdicts: {counts} ({sum(s.verdicts.values())} pairs)")
    print(f"swap consistency: {_pct(s.consistency)}; left-position share (decided answers "
          f"picking the response shown first): {_pct(s.first_position_share)}; "
          f"parse failures: {s.parse_failures}")
    print(f"cost: ${s.cost_usd:.4f} this run, ${s.total_cost_usd:.4f} for all answers used")
    print(f"latency: p50 {_ms(s.latency_p50_ms)}, p95 {_ms(s.latency_p95_ms)}; "
          f"{s.elapsed_s:.1f} s")
    print_batches(s.batches, s.batches_resumed)
    for reason in s.failures[:10]:
        print(shown(f"failed: {reason}", one_line=True))
    if len(s.failures) > 10:
        print(f"... and {len(s.failures) - 10} more failures")


def _runs(args: argparse.Namespace) -> int:
    from judge_app.services import batches, generation, judges

    runs = judges.list_runs(database(args), args.task)
    _print_generation_runs(generation.list_runs(database(args), args.task))
    _print_batches(batches.list_batches(database(args), args.task))
    if not runs:
        print("no judge runs")
        return 0
    for run in runs:
        print(f"{run['run_id'][:12]}  {shown(run['rater_id'])} on {shown(run['task_id'])}: "
              f"{run['status']}, {100 * run['progress']:.0f}% of {run['total_calls']} calls, "
              f"{run['failed_calls']} failed, ${run['cost_usd']:.4f}, started "
              f"{run['started_at']:%Y-%m-%d %H:%M:%S} UTC")
        _print_details(run)
    return 0


def _print_details(run: dict[str, Any]) -> None:
    if run["endpoint"]:
        print(f"    endpoint: {run['endpoint']}")
    if run["message"]:
        print(f"    {shown(run['message'])}")


def _print_generation_runs(runs: list[dict[str, Any]]) -> None:
    """Generation runs, before the judge runs (whose lines tools may parse)."""
    for run in runs:
        print(f"generation {run['run_id'][:12]}  {shown(run['model'])} on "
              f"{shown(run['task_id'])}: {run['status']}, {run['done_outputs']} of "
              f"{run['total_prompts']} outputs, {run['new_calls']} calls, "
              f"{run['failed_calls']} failed, ${run['cost_usd']:.4f}, started "
              f"{run['started_at']:%Y-%m-%d %H:%M:%S} UTC")
        _print_details(run)


def _print_batches(rows: list[dict[str, Any]]) -> None:
    """Batch API batches (--batch), before the judge runs too; an open one (not 'done') is
    resumed by the same command run again."""
    for b in rows:
        remote = b["remote_batch_id"] or "(no batch id yet)"
        where = b["remote_status"] or "not submitted"
        print(f"batch {shown(remote)}  {b['kind']} on {shown(b['task_id'])}: {b['state']} "
              f"({shown(where)}), {b['landed_calls']} of {b['n_calls']} calls landed, "
              f"{b['failed_calls']} failed, ${b['cost_usd']:.4f}, created "
              f"{b['created_at']:%Y-%m-%d %H:%M:%S} UTC")
        if b["message"]:
            print(f"    {shown(b['message'])}")


def _judge_rater_id(args: argparse.Namespace) -> str:
    """The judge escalate is about: --rater NAME, or the name in --judge FILE.toml.

    `escalate --judge` used to take the judge's name while `judge --judge` took its config
    file; a --judge value that is no file and not a .toml path is still taken as a name, with
    a deprecation notice (docs/glossary.md)."""
    if args.rater is not None:
        return str(args.rater)
    value = str(args.judge)
    if value.endswith(".toml") or Path(value).is_file():
        from judge_app.judges.config import load_config

        return load_config(value).rater_id
    print(f"judge-app escalate: --judge NAME is deprecated (--judge is the judge's config file "
          f"in every command); use --rater {value}", file=sys.stderr)
    return value


def _escalate(args: argparse.Namespace) -> int:
    _positive(args.max_pairs, "--max-pairs")
    from judge_app.services import judges

    result = judges.escalate(database(args), args.task, _judge_rater_id(args),
                             max_pairs=args.max_pairs, margin=args.margin)
    print(f"escalated {result.escalated} pairs to human raters ({result.inconsistent} "
          f"inconsistent across orders, {result.unsure} unsure)")
    if result.eligible > result.escalated:
        print(f"{result.eligible - result.escalated} more qualify (raise --max-pairs)")
    if result.already:
        print(f"{result.already} were escalated before")
    return 0
