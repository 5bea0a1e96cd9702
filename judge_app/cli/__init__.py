"""The `judge-app` command. Each subcommand lives in its own module with a `register()`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from judge_app import __version__
from judge_app.errors import JudgeAppError

# Module names under judge_app.cli, in the order `judge-app --help` lists them.
COMMANDS = [
    "init", "import_cmd", "demo", "raters", "serve", "judge", "analysis", "report", "export",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="judge-app",
        description="Pairwise judging of LLM outputs by people and LLM judges.",
        epilog="Database: --db PATH, else $JUDGE_APP_DB, else db/judge.duckdb.",
    )
    parser.add_argument("--version", action="version", version=f"judge-app {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"judge_app.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except JudgeAppError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
