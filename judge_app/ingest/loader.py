"""Pick a reader for each input path and turn the inputs into TaskBundles.

Readers form a small registry: a new format (MT-Bench, Arena-Hard, FastChat battles, ...) is
one ``register(Reader(...))`` with a cheap ``sniff`` for ``--format auto`` and a ``read``
that turns its group of paths into bundles.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from judge_app.core.types import TaskBundle
from judge_app.errors import ValidationError
from judge_app.ingest import (
    alpaca_annotations,
    alpaca_eval,
    arena_hard,
    fastchat_battles,
    mt_bench,
    pandalm,
    trl_prefs,
)
from judge_app.ingest.jsonl import SUFFIXES, peek_first_record
from judge_app.ingest.task_format import TASK_FILE, TASK_NAME, read_task_folder


@dataclass(frozen=True)
class Reader:
    name: str
    expects: str  # one line for "cannot recognise" messages and --help
    sniff: Callable[[Path], bool]  # cheap: look at a folder's files or a file's first record
    read: Callable[[list[Path], str | None], list[TaskBundle]]
    reads_folders: bool = False  # else a folder given to it stands for the data files inside


READERS: dict[str, Reader] = {}


def register(reader: Reader) -> None:
    READERS[reader.name] = reader


def format_names() -> list[str]:
    return ["auto", *READERS]


def _sniff_record(test: Callable[[dict], bool]) -> Callable[[Path], bool]:
    def sniff(path: Path) -> bool:
        record = peek_first_record(path) if path.is_file() else None
        return record is not None and test(record)
    return sniff


def _native_path(path: Path) -> Path:
    return path.parent if path.name == TASK_FILE else path


def _read_native(paths: list[Path], task_name: str | None) -> list[TaskBundle]:
    return [read_task_folder(_native_path(p), task_name) for p in paths]


register(Reader(
    name="native",
    expects="a task folder with task.toml, prompts.jsonl and outputs.jsonl",
    sniff=lambda p: (p / TASK_FILE).is_file() if p.is_dir() else p.name == TASK_FILE,
    read=_read_native,
    reads_folders=True,
))
register(Reader(
    name="mt-bench",
    expects="an MT-Bench folder: question.jsonl, model_answer/*.jsonl, "
    "model_judgment/*_pair.jsonl",
    sniff=mt_bench.looks_like,
    read=mt_bench.read_mt_bench,
    reads_folders=True,
))
register(Reader(
    name="arena-hard",
    expects="an Arena-Hard folder: question.jsonl, model_answer/*.jsonl, "
    "model_judgment/<judge>/*.jsonl",
    sniff=arena_hard.looks_like,
    read=arena_hard.read_arena_hard,
    reads_folders=True,
))
register(Reader(
    name="alpaca-eval",
    expects="AlpacaEval model_outputs.json[.gz]: a list of {instruction, output, generator}",
    sniff=_sniff_record(alpaca_eval.looks_like),
    read=alpaca_eval.read_alpaca_eval,
))
register(Reader(
    name="pandalm",
    expects="PandaLM testset-v1.json: a list of {idx, cmp_key, instruction, input, "
    "response1, response2, annotator1..3}",
    sniff=_sniff_record(pandalm.looks_like),
    read=pandalm.read_pandalm,
))
register(Reader(
    name="alpaca-eval-annotations",
    expects="AlpacaEval annotations.json[.gz]: a list of {instruction, output_1, generator_1, "
    "output_2, generator_2, preference}",
    sniff=_sniff_record(alpaca_annotations.looks_like),
    read=alpaca_annotations.read_alpaca_annotations,
))
register(Reader(
    name="fastchat-battles",
    expects="FastChat clean battle records: {question_id, model_a, model_b, winner, judge, "
    "conversation_a, conversation_b, turn, tstamp}",
    sniff=_sniff_record(fastchat_battles.looks_like),
    read=fastchat_battles.read_battles,
))
register(Reader(
    name="trl",
    expects="a TRL preference dataset (.jsonl, .json or .parquet): {prompt, chosen, rejected}, "
    "plain text or conversational",
    sniff=lambda p: trl_prefs.sniff_parquet(p) or _sniff_record(trl_prefs.looks_like)(p),
    read=trl_prefs.read_trl,
))


def detect(path: Path) -> Reader:
    for reader in READERS.values():
        if reader.sniff(path):
            return reader
    known = "\n".join(f"  --format {r.name}: {r.expects}" for r in READERS.values())
    raise ValidationError(
        f"cannot recognise the format of this {'folder' if path.is_dir() else 'file'}. "
        f"Known formats:\n{known}",
        file=str(path),
    )


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cycle collector: parsing builds millions of acyclic objects, and the
    collector's repeated passes over them cost about a fifth of a large import."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _resolve(path: Path, fmt: str) -> list[tuple[Path, Reader]]:
    """A path with its reader; a folder no reader claims stands for the data files in it."""
    if fmt != "auto":
        reader = READERS[fmt]
        if not path.is_dir() or reader.reads_folders:
            return [(path, reader)]
    elif not path.is_dir() or any(r.sniff(path) for r in READERS.values()):
        return [(path, detect(path))]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
    if not files:
        raise ValidationError(
            "this folder has no task.toml and no .json/.jsonl files to import", file=str(path)
        )
    return [(f, READERS[fmt] if fmt != "auto" else detect(f)) for f in files]


def load_bundles(
    paths: list[Path], fmt: str = "auto", task_name: str | None = None
) -> list[TaskBundle]:
    """Read every path into TaskBundles; paths of one non-native format make one task."""
    if fmt != "auto" and fmt not in READERS:
        raise ValidationError(
            f"unknown format {fmt!r} (choose from {', '.join(format_names())})", field="--format"
        )
    if task_name is not None and not TASK_NAME.match(task_name):
        raise ValidationError(
            f"invalid task name {task_name!r}: use letters, digits, '.', '_' and '-'",
            field="--task",
        )
    if not paths:
        raise ValidationError("nothing to import: give at least one file or folder")
    groups: dict[str, list[Path]] = {}
    for path in paths:
        if not path.exists():
            raise ValidationError("no such file or folder", file=str(path))
        for item, reader in _resolve(path, fmt):
            groups.setdefault(reader.name, []).append(item)
    bundles: list[TaskBundle] = []
    with _no_gc():
        for name, group in groups.items():
            bundles += READERS[name].read(group, task_name)
    names = [b.config.name for b in bundles]
    if task_name is not None and len(bundles) > 1:
        raise ValidationError(
            f"--task {task_name} names one task, but the input makes {len(bundles)} tasks; "
            "import them one at a time", field="--task",
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationError(
            f"two inputs define the task {duplicated[0]!r}; import them separately or pass "
            "--task", field="name",
        )
    return bundles
