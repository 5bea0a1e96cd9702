"""The `judge-app` command. Each group of subcommands lives in its own module with a
`register()`, listed in judge_app/registry.py's COMMANDS."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

from judge_app import __version__
from judge_app.core.redact import redact
from judge_app.core.terminal import shown
from judge_app.errors import JudgeAppError
from judge_app.registry import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="judge-app",
        description="Pairwise judging of LLM outputs by people and LLM judges.",
        epilog="Database: --db PATH or postgresql://URL, else $JUDGE_APP_DB, else "
               "db/judge.duckdb.",
    )
    parser.add_argument("--version", action="version", version=f"judge-app {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="on an unexpected error, print the full traceback")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.load()(sub)
    return parser


class _SafeStream:
    """stdout with control characters from the data escaped: a model name holding ESC must
    not drive the user's terminal. Tabs and newlines pass; everything else is delegated."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str | bytes) -> int:
        # Some libraries (click, under Streamlit) write bytes to a text stream they wrap.
        value = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        self._stream.write(shown(value))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def error_line(exc: BaseException) -> str:
    """The one line the user sees for an error: redacted, control characters escaped."""
    if isinstance(exc, JudgeAppError):
        text = f"judge-app: error: {exc}"
    else:
        text = (f"judge-app: error: {type(exc).__name__}: {exc} "
                "(run with --debug for the traceback)")
    return shown(redact(text), one_line=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv  # accepted before or after the subcommand
    args = build_parser().parse_args([a for a in argv if a != "--debug"])
    stdout = sys.stdout
    if not isinstance(stdout, _SafeStream):
        sys.stdout = _SafeStream(stdout)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:  # Ctrl-C is the user's choice: no traceback, no message
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except Exception as exc:  # the boundary: one line for the user, traceback on --debug
        if debug:
            traceback.print_exc()
        print(error_line(exc), file=sys.stderr)
        return 1
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
