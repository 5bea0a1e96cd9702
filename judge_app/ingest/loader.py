"""Pick a reader for each input path and turn the inputs into TaskBundles.

The readers are judge_app/registry.py's IMPORT_FORMATS: a new format (MT-Bench, Arena-Hard,
FastChat battles, ...) is one entry there and a module with a ``READER``: a cheap ``sniff`` for
``--format auto`` and a ``read`` that turns its group of paths into bundles.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from judge_app.core.types import TaskBundle, VerdictsBundle
from judge_app.errors import ValidationError
from judge_app.ingest.jsonl import SUFFIXES
from judge_app.ingest.reader import ReaderCode
from judge_app.ingest.task_format import TASK_NAME
from judge_app.registry import IMPORT_FORMATS, Entry


@dataclass(frozen=True)
class Reader:
    name: str
    expects: str  # one line for "cannot recognise" messages and --help
    sniff: Callable[[Path], bool]  # cheap: look at a folder's files or a file's first record
    read: Callable[[list[Path], str | None], Sequence[Bundle]]
    reads_folders: bool = False  # else a folder given to it stands for the data files inside

    @classmethod
    def of(cls, entry: Entry) -> Reader:
        code: ReaderCode = entry.load()
        return cls(entry.name, entry.help, code.sniff, code.read, code.reads_folders)


Bundle = TaskBundle | VerdictsBundle
READERS: dict[str, Reader] = {}


def register(reader: Reader) -> None:
    READERS[reader.name] = reader


def format_names() -> list[str]:
    return ["auto", *READERS]


for _entry in IMPORT_FORMATS:
    register(Reader.of(_entry))


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
) -> list[Bundle]:
    """Read every path into bundles; paths of one non-native format make one task. Verdict
    exports come last, after the tasks they may need from the same command."""
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
    bundles: list[Bundle] = []
    with _no_gc():
        for name, group in groups.items():
            bundles += READERS[name].read(group, task_name)
    tasks = [b for b in bundles if isinstance(b, TaskBundle)]
    bundles = [*tasks, *(b for b in bundles if isinstance(b, VerdictsBundle))]
    names = [b.config.name for b in tasks]
    if task_name is not None and len(tasks) > 1:
        raise ValidationError(
            f"--task {task_name} names one task, but the input makes {len(tasks)} tasks; "
            "import them one at a time", field="--task",
        )
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValidationError(
            f"two inputs define the task {duplicated[0]!r}; import them separately or pass "
            "--task", field="name",
        )
    return bundles
