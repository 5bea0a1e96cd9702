"""What an import format's module provides: a cheap sniff for --format auto and a read that
turns its group of paths into bundles. Its name and help are its entry in judge_app/registry.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from judge_app.core.types import TaskBundle, VerdictsBundle
from judge_app.ingest.jsonl import Record, peek_first_record


@dataclass(frozen=True)
class ReaderCode:
    sniff: Callable[[Path], bool]  # cheap: look at a folder's files or a file's first record
    read: Callable[[list[Path], str | None], Sequence[TaskBundle | VerdictsBundle]]
    reads_folders: bool = False  # else a folder given to it stands for the data files inside


def sniff_record(test: Callable[[Record], bool]) -> Callable[[Path], bool]:
    """A sniff that tests a data file's first record."""
    def sniff(path: Path) -> bool:
        record = peek_first_record(path) if path.is_file() else None
        return record is not None and test(record)
    return sniff
