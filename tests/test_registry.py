"""The registries (judge_app/registry.py): one shape, every entry's code found, and the
places that list formats or commands all read them."""

from __future__ import annotations

import inspect

import pytest

from judge_app import registry
from judge_app.cli import build_parser
from judge_app.cli.import_cmd import FORMAT_NAMES
from judge_app.export import FORMATS, PREFERENCE_FORMATS
from judge_app.ingest.loader import READERS, Reader
from judge_app.ingest.reader import ReaderCode

ALL = {"commands": registry.COMMANDS, "import": registry.IMPORT_FORMATS,
       "export": registry.EXPORT_FORMATS}


@pytest.mark.parametrize("name", sorted(ALL))
def test_every_entry_names_code_that_exists(name: str) -> None:
    entries = ALL[name]
    assert len({e.name for e in entries}) == len(entries), "duplicate names"
    for entry in entries:
        assert entry.help and "\n" not in entry.help, entry
        assert callable(entry.load()) or isinstance(entry.load(), ReaderCode), entry


def test_importers_come_from_the_registry() -> None:
    assert list(READERS) == list(registry.names(registry.IMPORT_FORMATS))
    assert FORMAT_NAMES == ("auto", *READERS)
    for entry in registry.IMPORT_FORMATS:
        assert READERS[entry.name] == Reader.of(entry)
        assert READERS[entry.name].expects == entry.help


def test_export_formats_come_from_the_registry() -> None:
    assert FORMATS == tuple(e.name for e in registry.EXPORT_FORMATS)
    assert set(PREFERENCE_FORMATS) == {"trl", "trl-chat", "openai-dpo", "kto"}
    for entry in registry.EXPORT_FORMATS:
        if entry.kind == "preference":  # one call shape: (pairs with texts, task)
            assert list(inspect.signature(entry.load()).parameters) == ["rows", "task"]


def test_commands_come_from_the_registry() -> None:
    parser = build_parser()
    [sub] = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    listed = set(sub.choices)  # type: ignore[arg-type]
    for entry in registry.COMMANDS:
        assert entry.name in listed, entry  # each register() adds at least its namesake
    assert {"runs", "escalate", "leaderboard", "agreement", "gate"} <= listed
