"""judge-app generate: answer a task's prompts with a model behind an OpenAI-compatible
endpoint, storing each answer as an output of that model."""

from __future__ import annotations

import argparse
import gc
import sys
from typing import TYPE_CHECKING

from judge_app.cli.batch import (
    add_batch_options,
    check_batch_options,
    print_batch_price,
    print_batches,
)
from judge_app.cli.common import add_db_option, database
from judge_app.core.terminal import shown
from judge_app.errors import ValidationError

if TYPE_CHECKING:  # the run use-case pulls in openai: imported when a run starts
    from judge_app.services.generation import GenerationPlan, GenerationSummary

EXIT_STOPPED = 2  # the run ended with prompts unanswered (budget reached or calls failed)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "generate", help="answer a task's prompts with a model (OpenAI-compatible endpoint)",
        description="Answer every prompt of a task that the model has no output for yet, "
        "turn by turn for multi-turn prompts, and store each answer as an output of the "
        "model (its pairs against the other models' outputs follow). Answers are cached by "
        "content: a re-run pays only for what is missing, and a run killed at any moment "
        "resumes where it stopped. See docs/generation.md.",
    )
    p.add_argument("--task", required=True, metavar="T", help="the task whose prompts to answer")
    p.add_argument("--model", required=True, metavar="FILE.toml",
                   help="model config: name, model, base_url, api_key_env, sampling, prices, "
                   "limits (docs/generation.md)")
    p.add_argument("--limit", type=int, metavar="N",
                   help="only the first N prompts without an output (by prompt id)")
    p.add_argument("--concurrency", type=int, metavar="N",
                   help="calls in flight (default: the config's concurrency)")
    p.add_argument("--max-cost", type=float, metavar="USD",
                   help="never spend more than this in this run; stops before the call that "
                   "could")
    p.add_argument("--dry-run", action="store_true",
                   help="print prompts, calls, estimated tokens and cost; call nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_batch_options(p)
    add_db_option(p)
    p.set_defaults(func=_generate)


def _generate(args: argparse.Namespace) -> int:
    for name in ("limit", "concurrency", "max_cost", "poll_interval"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise ValidationError("must be positive", field="--" + name.replace("_", "-"))
    from judge_app.judges.model_config import load_model_config
    from judge_app.services.generation import (
        plan_generation,
        run_generation,
        run_generation_batch,
    )

    check_batch_options(args)

    config = load_model_config(args.model)
    db = database(args)
    plan = plan_generation(db, args.task, config, limit=args.limit)
    _print_plan(plan, args.max_cost)
    if args.batch:
        print_batch_price(plan.config, plan.estimate().max_cost_usd)
    if args.dry_run:
        return 0
    gc.freeze()  # the plan lives as long as the run: keep the cycle collector off it
    if args.batch:
        summary = run_generation_batch(db, plan, max_cost=args.max_cost,
                                       poll_s=args.poll_interval, progress=not args.quiet)
    else:
        summary = run_generation(db, plan, max_cost=args.max_cost,
                                 concurrency=args.concurrency, progress=not args.quiet)
    _print_summary(summary)
    return 0 if summary.status == "done" else EXIT_STOPPED


def _print_plan(plan: GenerationPlan, max_cost: float | None) -> None:
    cfg = plan.config
    est = plan.estimate()
    print(shown(f"model '{cfg.name}' ({cfg.model} at {plan.endpoint}) on task "
                f"'{plan.task_id}'"))
    print(f"{est.prompts} prompts without an output, {plan.calls} calls (turns): "
          f"{est.cached_calls} cached, {est.calls} to make")
    if est.calls:
        print(f"estimated tokens: {est.input_tokens:,} input (about 4 characters a token; "
              f"at most {est.max_input_tokens:,} with earlier answers), at most "
              f"{est.max_output_tokens:,} output (max_tokens {cfg.max_tokens})")
        print(f"estimated cost: ${est.input_cost_usd:.4f} input, at most "
              f"${est.max_cost_usd:.4f} in all")
        if max_cost is not None:
            print(f"budget: ${max_cost:g}")
    sys.stdout.flush()


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f} ms"


def _print_summary(s: GenerationSummary) -> None:
    print(f"run {s.run_id}: {s.status}" + (f" ({shown(s.message)})" if s.message else ""))
    print(f"endpoint: {s.endpoint}")
    if s.retries:
        print("retried: " + ", ".join(f"{n} after {kind.replace('_', ' ')}"
                                      for kind, n in s.retries.items()))
    print(f"outputs: {s.outputs_new} new of {s.prompts} prompts, {s.pairs_new} new pairs; "
          f"{len(s.failed)} failed, {s.not_started} not started")
    print(f"calls: {s.calls_planned} planned, {s.calls_cached} cached, {s.calls_new} new")
    flags = ", ".join(f"{k} {v}" for k, v in s.flags.items()) or "none"
    print(f"flagged outputs: {flags}")
    print(f"tokens: {s.input_tokens:,} input, {s.output_tokens:,} output; "
          f"cost: ${s.cost_usd:.4f} this run")
    print(f"latency per call: p50 {_ms(s.latency_p50_ms)}, p95 {_ms(s.latency_p95_ms)}, "
          f"p99 {_ms(s.latency_p99_ms)}; time to first token: p50 {_ms(s.ttft_p50_ms)}, "
          f"p95 {_ms(s.ttft_p95_ms)}; {s.elapsed_s:.1f} s")
    print_batches(s.batches, s.batches_resumed)
    for prompt_id, reason in s.failed[:10]:
        print(shown(f"failed: prompt {prompt_id}: {reason}", one_line=True))
    if len(s.failed) > 10:
        print(f"... and {len(s.failed) - 10} more failures")
