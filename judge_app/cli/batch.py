"""--batch for `judge-app generate` and `judge-app judge`: the options, and what is printed
about the batch price and each batch (services/batches.py runs them)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from judge_app.core.terminal import shown
from judge_app.errors import ValidationError

DEFAULT_POLL_S = 30.0  # services.batches.DEFAULT_POLL_S (not imported: it pulls in openai)


def add_batch_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", action="store_true",
                   help="send the calls through OpenAI's Batch API at its batch price (half "
                   "the config's prices unless it sets batch_input/output_price_per_million); "
                   "answers come within 24 h, without per-call latency. A run killed at any "
                   "point resumes the same batch when run again (docs/generation.md, "
                   "docs/judges.md)")
    p.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_S, metavar="SECONDS",
                   help="with --batch: seconds between two looks at the batch's status "
                   "(default %(default)g)")


def check_batch_options(args: argparse.Namespace) -> None:
    if args.poll_interval != DEFAULT_POLL_S and not args.batch:
        raise ValidationError("--poll-interval goes with --batch", field="--poll-interval")
    if args.batch and args.concurrency is not None:
        raise ValidationError("a batch has no calls in flight to limit; drop --concurrency",
                              field="--concurrency")


def print_batch_price(config: Any, online_max_usd: float) -> None:
    """The estimate at the batch price (the online one is printed above it)."""
    from judge_app.services.batches import batch_prices

    price_in, price_out = batch_prices(config)
    scale = [price_in / config.input_price_per_million if config.input_price_per_million
             else None, price_out / config.output_price_per_million
             if config.output_price_per_million else None]
    print(f"batch price: ${price_in:g} input, ${price_out:g} output per million tokens"
          + (f" (at most ${online_max_usd * scale[0]:.4f} in all)"
             if scale[0] is not None and scale[0] == scale[1] else ""))
    sys.stdout.flush()


def print_batches(batches: list[dict[str, Any]], resumed: int) -> None:
    if resumed:
        print(f"resumed {resumed} batch(es) an earlier run had submitted")
    for b in batches:
        print(shown(f"batch {b['batch_id']}: {b['status']}, {b['answered']} of {b['calls']} "
                    f"answered, {b['failed']} failed, ${b['cost_usd']:.4f}", one_line=True))
